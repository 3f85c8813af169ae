-- The API's writes (issue 10): a token's scopes and the account it acts
-- as, and when a note was last edited.

-- scopes are Mastodon's, space-separated ("read write", "read:statuses
-- write:statuses", ...): tokens made before get "read write", as every
-- token could do then. actor_id is the local actor the token acts as;
-- NULL is the bot (the server's --username), which tokens made before act
-- as. last_used_at (0006) is written at most once a minute per token.
ALTER TABLE tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'read write';
ALTER TABLE tokens ADD COLUMN actor_id INTEGER REFERENCES actors (id);

-- When the note was last edited (PUT /api/v1/statuses/:id); NULL when it
-- never was.
ALTER TABLE notes ADD COLUMN edited_at INTEGER;
