-- Hostile Fediverse (issue 7): bounded growth.

-- Pruning finds finished deliveries, old attempts and old activities that
-- carry no note by age; the inbox finds the Accepts queued to a follower.
CREATE INDEX deliveries_finished ON deliveries (finished_at) WHERE state <> 'pending';
CREATE INDEX deliveries_follower ON deliveries (follower) WHERE follower <> '';
CREATE INDEX delivery_attempts_at ON delivery_attempts (attempted_at);
CREATE INDEX activities_noteless ON activities (created_at) WHERE note_id IS NULL;
