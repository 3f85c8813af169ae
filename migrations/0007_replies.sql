-- Replies from the Fediverse (issue 9): notes of remote actors that answer
-- one of our notes, or a reply already stored in one of our threads. Times
-- are Unix milliseconds (UTC).

-- One row per remote reply, by its note id. thread is the IRI of the local
-- note whose page shows it: the note it answers, or the thread of the
-- stored reply it answers. The author is copied in at each Create or
-- Update, as the signer's actor document showed it; content is sanitized
-- HTML (activitypub/replies.go).
CREATE TABLE remote_replies (
    id            INTEGER PRIMARY KEY,
    note_id       TEXT    NOT NULL UNIQUE,
    in_reply_to   TEXT    NOT NULL,
    thread        TEXT    NOT NULL,
    author        TEXT    NOT NULL,
    author_name   TEXT    NOT NULL,
    author_handle TEXT    NOT NULL,
    author_avatar TEXT    NOT NULL DEFAULT '',
    author_url    TEXT    NOT NULL,
    content       TEXT    NOT NULL,
    url           TEXT    NOT NULL,
    published_at  INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX remote_replies_thread ON remote_replies (thread, published_at);
CREATE INDEX remote_replies_author ON remote_replies (author);

-- What a reply shows of its author, cached with the signer's key: read
-- from the actor document fetched for the key, so that a reply costs no
-- fetch of its own. '' until known.
ALTER TABLE remote_actors ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE remote_actors ADD COLUMN avatar TEXT NOT NULL DEFAULT '';
ALTER TABLE remote_actors ADD COLUMN profile_url TEXT NOT NULL DEFAULT '';
