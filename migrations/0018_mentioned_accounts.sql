-- Account ids for the remote actors our notes mention (issue 10, second
-- review): a Status's mentions[].id is the account's API id, and GET
-- /api/v1/accounts/:id answers for it. Mentioned actors join the
-- followers and reply authors in remote_account_ids (0016), once each,
-- first seen when the note that first mentions them was published. Our
-- own actors, mentioned with inbox '', have their local id instead.

INSERT OR IGNORE INTO remote_account_ids (iri, created_at)
    SELECT m.href, MIN(n.published_at) FROM note_mentions m JOIN notes n ON n.id = m.note_id
    WHERE m.inbox <> '' GROUP BY m.href ORDER BY MIN(n.published_at), m.href;

CREATE TRIGGER note_mentions_api AFTER INSERT ON note_mentions WHEN NEW.inbox <> '' BEGIN
    INSERT OR IGNORE INTO remote_account_ids (iri, created_at)
        VALUES (NEW.href, (SELECT published_at FROM notes WHERE id = NEW.note_id));
END;
