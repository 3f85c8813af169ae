-- Fair delivery and the per-host circuit breaker (issue 7). Times are Unix
-- milliseconds (UTC).

-- The registrable domain of a delivery's inbox (public suffix list), set by
-- the store when the row is queued: the unit of fairness, of the per-host
-- concurrency limit and of the breaker, so that subdomains and ports, which
-- cost nothing, do not multiply a server's share. The store fills it for
-- rows queued before this migration when the queue starts.
ALTER TABLE deliveries ADD COLUMN domain TEXT NOT NULL DEFAULT '';

-- claimed = 2 sets a pending row aside while the breaker holds its domain:
-- out of the due index, so that a parked host's backlog costs claims
-- nothing, and found by domain when the breaker closes or probes.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id, domain) WHERE state = 'pending' AND claimed = 0;
CREATE INDEX deliveries_held ON deliveries (domain, next_attempt_at, id) WHERE claimed = 2;

-- One row per domain whose deliveries fail now (network errors, timeouts,
-- 408, 5xx): 'failing' counts consecutive failures; 'held' keeps its
-- deliveries queued and probes it with one at next_probe_at (NULL while the
-- probe is out); 'parked' (after days of failure) probes no more until a
-- signed request from it or an operator revives it. Any answer removes the
-- row.
CREATE TABLE delivery_hosts (
    domain        TEXT    PRIMARY KEY,
    state         TEXT    NOT NULL CHECK (state IN ('failing', 'held', 'parked')),
    failures      INTEGER NOT NULL,
    failing_since INTEGER NOT NULL,
    probes        INTEGER NOT NULL DEFAULT 0,
    next_probe_at INTEGER,
    changed_at    INTEGER NOT NULL
);
