-- Hostile Fediverse (issue 7): an idempotent inbox and bounded growth.

-- Ids of the remote activities the inbox acted on (Follow, Undo, Delete of
-- an actor), so that a replay is acknowledged and changes nothing. Rows
-- older than the retention period are pruned.
CREATE TABLE inbox_activities (
    iri         TEXT    PRIMARY KEY,
    actor       TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX inbox_activities_received ON inbox_activities (received_at);

-- Pruning finds finished deliveries, old attempts and old activities that
-- carry no note by age; the inbox finds the Accepts queued to a follower.
CREATE INDEX deliveries_finished ON deliveries (finished_at) WHERE state <> 'pending';
CREATE INDEX deliveries_follower ON deliveries (follower) WHERE follower <> '';
CREATE INDEX delivery_attempts_at ON delivery_attempts (attempted_at);
CREATE INDEX activities_noteless ON activities (created_at) WHERE note_id IS NULL;
