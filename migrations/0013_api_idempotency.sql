-- Idempotency-Key of the Mastodon API (issue 10): POST /api/v1/statuses
-- with a key seen from the same token within an hour returns the status
-- posted then and posts nothing new. key is the token's name, a NUL byte
-- and the header's value; rows older than an hour are deleted as new ones
-- come.
CREATE TABLE api_idempotency (
    key        TEXT    PRIMARY KEY,
    note_id    TEXT    NOT NULL, -- the note's public id
    created_at INTEGER NOT NULL  -- ms since the epoch
);
