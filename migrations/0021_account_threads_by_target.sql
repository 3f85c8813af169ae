-- The feed finds the accounts that have a thread of a target (their news
-- goes there though the target's labels changed) by target.
CREATE INDEX feed_account_threads_target ON feed_account_threads (target);
