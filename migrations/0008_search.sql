-- Full-text search over our notes (issue 9, the /search page): an FTS5
-- index of each note's plain-text source, which holds board and
-- config names and compiler messages. External content: the text stays in
-- notes, the index holds only tokens, and highlight() and snippet() read
-- the text back from notes by rowid.
--
-- The default tokenizer (unicode61) splits at punctuation, so
-- "riscv_exit.c:42" is the tokens riscv, exit, c, 42; a search term is
-- matched as a phrase (internal/store/search.go), which finds
-- riscv_exit.c, esp32c3-devkit:nsh and each of their parts.
CREATE VIRTUAL TABLE notes_fts USING fts5(source, content = 'notes', content_rowid = 'id');

-- Triggers keep the index equal to the notes table, as an external-content
-- index must be (FTS5 is told the old text to remove a row). A deleted
-- note has no text left (DeleteNote blanks its source), so it has no
-- words in the index; searches also skip it by deleted_at.
CREATE TRIGGER notes_fts_insert AFTER INSERT ON notes BEGIN
    INSERT INTO notes_fts (rowid, source) VALUES (new.id, new.source);
END;

CREATE TRIGGER notes_fts_delete AFTER DELETE ON notes BEGIN
    INSERT INTO notes_fts (notes_fts, rowid, source) VALUES ('delete', old.id, old.source);
END;

CREATE TRIGGER notes_fts_update AFTER UPDATE OF source ON notes BEGIN
    INSERT INTO notes_fts (notes_fts, rowid, source) VALUES ('delete', old.id, old.source);
    INSERT INTO notes_fts (rowid, source) VALUES (new.id, new.source);
END;

-- The notes posted before this migration.
INSERT INTO notes_fts (notes_fts) VALUES ('rebuild');
