-- The language of a note (an ISO 639 code, Mastodon's `language`), which
-- its Note's contentMap is keyed by; '' for one posted before it was kept:
-- the bot's posts are English.
ALTER TABLE notes ADD COLUMN language TEXT NOT NULL DEFAULT '';
