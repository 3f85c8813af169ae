-- Accounts for boards, targets and architectures (issue 11).

-- Every board:config target the feed has seen in Prometheus, with the
-- handles of its accounts (internal/handles): its own, its board's and its
-- architecture's ('' while its arch label is unknown). A lookup of a name
-- finds its account here; names found nowhere create nothing. An actors
-- row (kind board, target or arch) with its key is made on first need.
CREATE TABLE feed_catalog (
    target        TEXT    PRIMARY KEY,       -- "board:config"
    board         TEXT    NOT NULL,
    config        TEXT    NOT NULL,
    arch          TEXT    NOT NULL DEFAULT '',
    target_handle TEXT    NOT NULL,
    board_handle  TEXT    NOT NULL,
    arch_handle   TEXT    NOT NULL DEFAULT '',
    first_seen    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX feed_catalog_target_handle ON feed_catalog (target_handle);
CREATE INDEX feed_catalog_board_handle ON feed_catalog (board_handle);
CREATE INDEX feed_catalog_arch_handle ON feed_catalog (arch_handle) WHERE arch_handle <> '';

-- A feed account's note repeats a note of the bot (the firehose): echo_of
-- is that note, so that deleting it deletes its echoes too.
ALTER TABLE notes ADD COLUMN echo_of INTEGER REFERENCES notes (id);
CREATE INDEX notes_echo_of ON notes (echo_of) WHERE echo_of IS NOT NULL;

-- Each feed account threads its notes per target: the root and latest
-- note (IRIs) of the target's thread in that account's outbox.
CREATE TABLE feed_account_threads (
    actor_id  INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    target    TEXT    NOT NULL,
    thread    TEXT    NOT NULL,
    last_note TEXT    NOT NULL,
    PRIMARY KEY (actor_id, target)
) WITHOUT ROWID;
