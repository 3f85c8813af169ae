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
