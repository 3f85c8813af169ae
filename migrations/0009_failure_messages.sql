-- Build errors kept whole and searchable (issue 9, the /search page). A
-- failure post cuts the compiler output to fit the post's length, and a
-- digest shows none of it; so each recorded failure keeps its whole build
-- message (its lines, at most 64 KiB: feed/apply.go), and an FTS5 index over
-- them finds a failure by any word of its error.

ALTER TABLE feed_failures ADD COLUMN msg TEXT NOT NULL DEFAULT '';

-- The row of the note that announced the failure (note holds its IRI), so
-- that a search joins by integer; NULL until the note is set. Filled for
-- the failures recorded before: an IRI ends in the note's public id, and
-- rtrim(x, y), where y is x without its slashes, is x up to its last slash.
ALTER TABLE feed_failures ADD COLUMN note_id INTEGER REFERENCES notes (id);
UPDATE feed_failures SET note_id = (SELECT id FROM notes
    WHERE public_id = substr(feed_failures.note, length(rtrim(feed_failures.note, replace(feed_failures.note, '/', ''))) + 1))
    WHERE note <> '';

-- External content, as notes_fts (0008): the text stays in feed_failures,
-- the index holds only its tokens. Triggers keep the two equal.
CREATE VIRTUAL TABLE failures_fts USING fts5(msg, content = 'feed_failures', content_rowid = 'id');
CREATE TRIGGER failures_fts_insert AFTER INSERT ON feed_failures BEGIN
    INSERT INTO failures_fts (rowid, msg) VALUES (new.id, new.msg);
END;
CREATE TRIGGER failures_fts_delete AFTER DELETE ON feed_failures BEGIN
    INSERT INTO failures_fts (failures_fts, rowid, msg) VALUES ('delete', old.id, old.msg);
END;
CREATE TRIGGER failures_fts_update AFTER UPDATE OF msg ON feed_failures BEGIN
    INSERT INTO failures_fts (failures_fts, rowid, msg) VALUES ('delete', old.id, old.msg);
    INSERT INTO failures_fts (rowid, msg) VALUES (new.id, new.msg);
END;
-- The failures recorded before this migration (their messages are empty,
-- but an external-content index must hold a row for each).
INSERT INTO failures_fts (failures_fts) VALUES ('rebuild');
