-- Prometheus feed: the incident state behind the posts about failed builds.
-- Times are Unix milliseconds (UTC). Note columns hold note ids (IRIs).

-- One row per board:config target that ever failed: its thread and whether
-- it is failing now.
CREATE TABLE feed_targets (
    target        TEXT    PRIMARY KEY,       -- "board:config"
    board         TEXT    NOT NULL,
    config        TEXT    NOT NULL,
    arch          TEXT    NOT NULL DEFAULT '',
    thread        TEXT    NOT NULL,          -- root note of the target's thread
    last_note     TEXT    NOT NULL,          -- latest note about the target
    failing       INTEGER NOT NULL,          -- 1 while some build host fails it
    failing_since INTEGER,                   -- start of the current incident
    changed_at    INTEGER NOT NULL
);
CREATE INDEX feed_targets_failing ON feed_targets (failing) WHERE failing = 1;

-- The build hosts (user label) failing a target right now; the incident
-- ends, with a recovery post, when the last of them builds it again.
CREATE TABLE feed_failing (
    target TEXT    NOT NULL REFERENCES feed_targets (target) ON DELETE CASCADE,
    user   TEXT    NOT NULL,
    since  INTEGER NOT NULL,
    PRIMARY KEY (target, user)
);

-- Every failure announced. The UNIQUE key is the failure's identity: each
-- is posted exactly once. build is the timestamp label (or the log URL)
-- when both hashes are missing, else ''.
CREATE TABLE feed_failures (
    id         INTEGER PRIMARY KEY,
    target     TEXT    NOT NULL,
    user       TEXT    NOT NULL,
    nuttx_hash TEXT    NOT NULL,
    apps_hash  TEXT    NOT NULL,
    build      TEXT    NOT NULL,
    score      REAL    NOT NULL,
    url        TEXT    NOT NULL,
    note       TEXT    NOT NULL,
    seen_at    INTEGER NOT NULL,
    UNIQUE (target, user, nuttx_hash, apps_hash, build)
);

-- Breaking commits found by build rewinds, announced once per
-- (target, breaking commit).
CREATE TABLE feed_breaks (
    target     TEXT    NOT NULL,
    bad_nuttx  TEXT    NOT NULL,
    bad_apps   TEXT    NOT NULL,
    good_nuttx TEXT    NOT NULL,
    good_apps  TEXT    NOT NULL,
    note       TEXT    NOT NULL,
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (target, bad_nuttx, bad_apps)
);

-- Recoveries announced (or recorded, with --post-recoveries=false).
CREATE TABLE feed_recoveries (
    id         INTEGER PRIMARY KEY,
    target     TEXT    NOT NULL,
    user       TEXT    NOT NULL,
    nuttx_hash TEXT    NOT NULL,
    apps_hash  TEXT    NOT NULL,
    note       TEXT    NOT NULL,  -- '' when not posted
    seen_at    INTEGER NOT NULL
);
