-- Prometheus Alertmanager alerts (issue 10): one row per alert, keyed by
-- Alertmanager's fingerprint, with its thread. An alert firing for the
-- first time starts a thread; its resolution and later firings reply in
-- it. starts_at is the startsAt of the alert's latest episode (a firing
-- again has a new one), which tells a repeat from a new episode and a late
-- notification from a current one.
CREATE TABLE alerts (
    fingerprint TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,           -- its alertname label
    status      TEXT    NOT NULL CHECK (status IN ('firing', 'resolved')),
    starts_at   INTEGER NOT NULL,           -- ms since the epoch
    ends_at     INTEGER NOT NULL DEFAULT 0, -- ms since the epoch; 0 while firing
    thread      TEXT    NOT NULL DEFAULT '', -- root note IRI; '' when nothing was posted
    last_note   TEXT    NOT NULL DEFAULT '', -- latest note IRI about it
    changed_at  INTEGER NOT NULL            -- ms since the epoch
);
