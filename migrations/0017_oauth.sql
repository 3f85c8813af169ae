-- OAuth 2 for phone apps (issue 10): the apps registered by POST
-- /api/v1/apps, the authorization codes of /oauth/authorize and which
-- tokens an app was given. Times are Unix milliseconds (UTC).

-- An app as it registered itself. client_id is public; of its secret, and
-- of its client_credentials token, only the SHA-256 is kept. redirect_uris
-- are newline-separated; scopes space-separated. Apps that never got a
-- token are deleted a day after they registered (store.RegisterApp).
CREATE TABLE oauth_apps (
    id              INTEGER PRIMARY KEY,
    client_id       TEXT    NOT NULL UNIQUE,
    secret_hash     BLOB    NOT NULL,
    name            TEXT    NOT NULL,
    website         TEXT    NOT NULL,
    redirect_uris   TEXT    NOT NULL,
    scopes          TEXT    NOT NULL,
    app_token_hash  BLOB UNIQUE,
    created_at      INTEGER NOT NULL
);

-- An authorization code, by its SHA-256: single use (deleted when
-- exchanged), valid until expires_at. It grants scopes as actor_id (NULL:
-- the bot) to the app, for redirect_uri; code_challenge is PKCE's S256
-- challenge, "" when the app sent none.
CREATE TABLE oauth_codes (
    hash           BLOB    PRIMARY KEY,
    app_id         INTEGER NOT NULL REFERENCES oauth_apps (id) ON DELETE CASCADE,
    scopes         TEXT    NOT NULL,
    actor_id       INTEGER REFERENCES actors (id),
    redirect_uri   TEXT    NOT NULL,
    code_challenge TEXT    NOT NULL,
    expires_at     INTEGER NOT NULL
) WITHOUT ROWID;

-- The tokens (table tokens) an app was given by /oauth/token; revoking
-- the token (`token revoke`, /oauth/revoke) deletes the row.
CREATE TABLE oauth_tokens (
    token_name TEXT    PRIMARY KEY REFERENCES tokens (name) ON DELETE CASCADE,
    app_id     INTEGER NOT NULL REFERENCES oauth_apps (id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX oauth_tokens_app ON oauth_tokens (app_id);
