-- The targets a post is about (issue 9, the thread page): the failures,
-- recoveries and breaking commits it announced, found by the note. A post
-- in a digest's thread shows its own target, not the digest's hundreds.
CREATE INDEX feed_failures_note ON feed_failures (note_id) WHERE note_id IS NOT NULL;
CREATE INDEX feed_recoveries_note ON feed_recoveries (note) WHERE note <> '';
CREATE INDEX feed_breaks_note ON feed_breaks (note);
