-- The Mastodon API's read endpoints (issue 10): ids for remote accounts
-- and the bot's notifications. Times are Unix milliseconds (UTC).

-- One row per remote actor the API shows (a follower, the author of a
-- stored reply), numbering it for its Mastodon account id. Rows are never
-- deleted, so an actor keeps its id for the life of the database, also
-- after it unfollowed; created_at is when it was first seen.
CREATE TABLE remote_account_ids (
    id         INTEGER PRIMARY KEY,
    iri        TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- The notifications of GET /api/v1/notifications: a follow or a stored
-- reply (a reply to one of our notes, or a mention of one of our actors:
-- both are Mastodon "mention"s). The id increases with the time received
-- and is never reused (AUTOINCREMENT): it is the notification's id and its
-- paging cursor. A notification goes when its follow or reply goes.
CREATE TABLE api_notifications (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    type        TEXT    NOT NULL CHECK (type IN ('follow', 'mention')),
    follower_id INTEGER UNIQUE REFERENCES followers (id) ON DELETE CASCADE,
    reply_id    INTEGER UNIQUE REFERENCES remote_replies (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    CHECK ((follower_id IS NULL) <> (reply_id IS NULL))
);

-- What was there before this migration, oldest first.
INSERT OR IGNORE INTO remote_account_ids (iri, created_at)
    SELECT iri, MIN(at) FROM (SELECT follower AS iri, created_at AS at FROM followers
        UNION ALL SELECT author, updated_at FROM remote_replies) GROUP BY iri ORDER BY MIN(at), iri;
INSERT INTO api_notifications (type, follower_id, reply_id, created_at)
    SELECT type, follower_id, reply_id, at FROM (
        SELECT 'follow' AS type, id AS follower_id, NULL AS reply_id, created_at AS at FROM followers
        UNION ALL SELECT 'mention', NULL, id, updated_at FROM remote_replies)
    ORDER BY at, type, COALESCE(follower_id, reply_id);

-- From now on, as follows and replies arrive (an upsert that updates a
-- row inserts nothing: a repeated Follow or an edited reply is no new
-- notification).
CREATE TRIGGER followers_api AFTER INSERT ON followers BEGIN
    INSERT OR IGNORE INTO remote_account_ids (iri, created_at) VALUES (NEW.follower, NEW.created_at);
    INSERT OR IGNORE INTO api_notifications (type, follower_id, created_at) VALUES ('follow', NEW.id, NEW.created_at);
END;
CREATE TRIGGER remote_replies_api AFTER INSERT ON remote_replies BEGIN
    INSERT OR IGNORE INTO remote_account_ids (iri, created_at) VALUES (NEW.author, NEW.updated_at);
    INSERT OR IGNORE INTO api_notifications (type, reply_id, created_at) VALUES ('mention', NEW.id, NEW.updated_at);
END;
