-- Indexes the web pages need at the deployment's size (issue 9, measured
-- by bench/pages on 10,000 posts and 1,600 targets; docs/BENCHMARKS.md).

-- Replies by parent. The partial index of 0001 (WHERE in_reply_to <> '')
-- was never used: SQLite takes a partial index only when the query's
-- WHERE implies the index's, and in_reply_to = ? (a bound parameter) does
-- not imply in_reply_to <> ''. Each thread page and each profile page
-- (the reply counts of its 20 posts) read every note instead.
DROP INDEX notes_in_reply_to;
CREATE INDEX notes_in_reply_to ON notes (in_reply_to);

-- The notes still standing of an actor, newest first: the profile's count
-- of posts (in every page's header) and its pages, without reading each
-- note's row to see that it is not deleted. (A partial index WHERE
-- deleted_at IS NULL is used too, but SQLite still reads each row.)
CREATE INDEX notes_actor_standing ON notes (actor_id, deleted_at, id);

-- The target whose thread a note page shows (store.ThreadTarget), and a
-- target's recoveries (its page): both read the whole table.
CREATE INDEX feed_targets_thread ON feed_targets (thread);
CREATE INDEX feed_recoveries_target ON feed_recoveries (target, seen_at);

-- How many notes of each actor still stand: the count in every page's
-- header, the outbox's totalItems and NodeInfo's localPosts
-- (store.NoteCount). Counted on each view, even from the index above, it
-- cost about a millisecond at 10,000 posts, a seventh of a profile page's
-- CPU; the triggers keep it as notes are inserted, marked deleted or
-- removed.
ALTER TABLE actors ADD COLUMN note_count INTEGER NOT NULL DEFAULT 0;
UPDATE actors SET note_count = (SELECT COUNT(*) FROM notes WHERE notes.actor_id = actors.id AND notes.deleted_at IS NULL);

CREATE TRIGGER notes_count_insert AFTER INSERT ON notes WHEN new.deleted_at IS NULL BEGIN
    UPDATE actors SET note_count = note_count + 1 WHERE id = new.actor_id;
END;

CREATE TRIGGER notes_count_delete AFTER DELETE ON notes WHEN old.deleted_at IS NULL BEGIN
    UPDATE actors SET note_count = note_count - 1 WHERE id = old.actor_id;
END;

CREATE TRIGGER notes_count_update AFTER UPDATE OF actor_id, deleted_at ON notes BEGIN
    UPDATE actors SET note_count = note_count - 1 WHERE id = old.actor_id AND old.deleted_at IS NULL;
    UPDATE actors SET note_count = note_count + 1 WHERE id = new.actor_id AND new.deleted_at IS NULL;
END;
