-- The server's identity and the bot's profile live in the database (issue 8),
-- so that no flag forgotten at a restart can change them. Times are Unix
-- milliseconds (UTC).

-- The identity fixed at the first start: the public base URL every id was
-- minted under and the bot's username. One row. The Fediverse has no way to
-- move an actor to another URL, so serve refuses a different --base-url.
CREATE TABLE identity (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    base_url   TEXT    NOT NULL,
    username   TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- Whether an actor's posts are public (listed on public timelines) or
-- unlisted (public, but kept off them). Each note keeps the choice it was
-- published with, so that serving it again later addresses it the same way.
ALTER TABLE actors ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'unlisted'));
ALTER TABLE notes ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'unlisted'));

-- A note's content warning (plain text; '' for none) and whether its content
-- is sensitive: posts imported from Mastodon keep theirs.
ALTER TABLE notes ADD COLUMN summary TEXT NOT NULL DEFAULT '';
ALTER TABLE notes ADD COLUMN sensitive INTEGER NOT NULL DEFAULT 0;

-- An actor's avatar and header images, served by the server itself.
CREATE TABLE actor_images (
    actor_id     INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL CHECK (kind IN ('avatar', 'header')),
    content_type TEXT    NOT NULL,
    data         BLOB    NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (actor_id, kind)
);
