-- Mentions of remote actors in our notes (issue 9): a note written with
-- `nuttx-feed post` that names @user@host, or replies to a remote note,
-- tags those actors with a Mention and addresses them in cc. The rows keep
-- what the note's documents show (href, name) and where its Create and
-- Delete go (inbox), resolved once when the note is posted.

-- One row per mentioned actor of a note, in the order of the note's tags.
-- href is the actor id, name its handle @user@host, inbox the actor's
-- shared inbox where it has one, else its personal inbox ('' for an actor
-- that gets no delivery, such as one of ours).
CREATE TABLE note_mentions (
    note_id  INTEGER NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    href     TEXT    NOT NULL,
    name     TEXT    NOT NULL,
    inbox    TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (note_id, href)
);
