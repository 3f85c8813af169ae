-- Admin commands (issue 8): blocked servers, API tokens, deleted notes and
-- the usernames that make followers' handles. Times are Unix milliseconds
-- (UTC).

-- Blocked servers, by registrable domain (urls.Domain): a domain covers its
-- subdomains and ports. Its follows are refused, its followers were removed
-- (followers_removed counts them), nothing is delivered to it or fetched
-- from it, and its signed requests get 401.
CREATE TABLE domain_blocks (
    domain            TEXT    PRIMARY KEY,
    created_at        INTEGER NOT NULL,
    followers_removed INTEGER NOT NULL DEFAULT 0
);

-- Tokens for the API and the webhooks to come. Only the SHA-256 of a token
-- is kept: the token itself is shown once, when it is made.
CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    hash         BLOB    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);

-- A deleted note keeps its row (its URL answers 410 Gone, a reply to it
-- still points at it) but loses its text; lists and counts skip it, hence
-- the index of the notes still there.
ALTER TABLE notes ADD COLUMN deleted_at INTEGER;
DROP INDEX notes_actor;
CREATE INDEX notes_actor ON notes (actor_id, id) WHERE deleted_at IS NULL;

-- The preferredUsername of a remote actor, from its actor document: with
-- its host, the handle (@user@host) that `followers list` shows ('' when
-- not known).
ALTER TABLE remote_actors ADD COLUMN username TEXT NOT NULL DEFAULT '';
