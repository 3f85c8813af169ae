-- Federation core: local actors, their followers, notes, the activities they
-- send and the persistent delivery queue. Times are Unix milliseconds (UTC).

-- Local actors. One row per followable account; nuttx_build is the first,
-- later issues add one per board, target and architecture (kind).
CREATE TABLE actors (
    id              INTEGER PRIMARY KEY,
    username        TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    kind            TEXT    NOT NULL DEFAULT 'bot',
    display_name    TEXT    NOT NULL,
    summary         TEXT    NOT NULL,  -- plain text; links and #tags are rendered
    fields          TEXT    NOT NULL DEFAULT '[]',  -- JSON [{"name","url"}], profile links
    private_key_pem TEXT    NOT NULL,  -- PKCS#8, generated once, never changed
    public_key_pem  TEXT    NOT NULL,  -- PKIX (SPKI)
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- Remote actors that signed a request we accepted, with the key they used.
-- Doubles as the key cache: a Delete from a follower whose actor is already
-- gone can still be verified with the key kept here.
CREATE TABLE remote_actors (
    iri            TEXT    PRIMARY KEY,
    key_id         TEXT    NOT NULL,
    public_key_pem TEXT    NOT NULL,
    inbox          TEXT    NOT NULL DEFAULT '',
    shared_inbox   TEXT    NOT NULL DEFAULT '',
    fetched_at     INTEGER NOT NULL
);
CREATE INDEX remote_actors_key_id ON remote_actors (key_id);

-- Who follows which local actor. follow_id is the Follow activity id exactly
-- as received, echoed back in the Accept and matched by Undo.
CREATE TABLE followers (
    id           INTEGER PRIMARY KEY,
    actor_id     INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    follower     TEXT    NOT NULL,
    inbox        TEXT    NOT NULL,
    shared_inbox TEXT    NOT NULL DEFAULT '',
    follow_id    TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (actor_id, follower)
);
CREATE INDEX followers_follower ON followers (follower);

-- Notes published by local actors. public_id is the hex id in their URLs;
-- content is the HTML sent to the Fediverse, source its plain-text form.
CREATE TABLE notes (
    id           INTEGER PRIMARY KEY,
    public_id    TEXT    NOT NULL UNIQUE,
    actor_id     INTEGER NOT NULL REFERENCES actors (id),
    content      TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    in_reply_to  TEXT    NOT NULL DEFAULT '',
    published_at INTEGER NOT NULL
);
CREATE INDEX notes_actor ON notes (actor_id, id);
CREATE INDEX notes_in_reply_to ON notes (in_reply_to) WHERE in_reply_to <> '';

-- Hashtags of a note, lower case without '#', for the tag pages.
CREATE TABLE note_tags (
    note_id INTEGER NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    name    TEXT    NOT NULL,
    display TEXT    NOT NULL,
    PRIMARY KEY (note_id, name)
);
CREATE INDEX note_tags_name ON note_tags (name, note_id);

-- Every activity a local actor sends (Create, Accept, Update, ...), with the
-- exact JSON bytes that go on the wire. Activities never change once stored.
CREATE TABLE activities (
    id         INTEGER PRIMARY KEY,
    iri        TEXT    NOT NULL UNIQUE,
    actor_id   INTEGER NOT NULL REFERENCES actors (id),
    type       TEXT    NOT NULL,
    note_id    INTEGER REFERENCES notes (id),
    body       BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX activities_note ON activities (note_id) WHERE note_id IS NOT NULL;

-- The delivery queue: one row per (activity, inbox). follower is set when the
-- inbox is that follower's personal inbox, so a 410 there removes them.
-- claimed marks rows a running server has taken; a server clears it at start.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    activity_id     INTEGER NOT NULL REFERENCES activities (id),
    inbox           TEXT    NOT NULL,
    follower        TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed')),
    claimed         INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE state = 'pending' AND claimed = 0;
CREATE INDEX deliveries_activity ON deliveries (activity_id);

-- One row per delivery attempt: when, what the peer answered, how long it took.
CREATE TABLE delivery_attempts (
    id           INTEGER PRIMARY KEY,
    delivery_id  INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempted_at INTEGER NOT NULL,
    status       INTEGER NOT NULL DEFAULT 0,
    error        TEXT    NOT NULL DEFAULT '',
    duration_ms  INTEGER NOT NULL
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);
