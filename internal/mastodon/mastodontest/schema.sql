-- The subset of a Mastodon 4.5 database that `nuttx-feed import mastodon`
-- reads: accounts, users, follows, statuses and schema_migrations. Column
-- names, types, NOT NULL and defaults are those of Mastodon's db/schema.rb
-- (version 2025_12_17_091936); the tables' other indexes and the many tables
-- the import never reads are left out. Written for the tests, not copied.

-- Mastodon's snowflake ids: milliseconds since the epoch shifted left by
-- 16 bits, the low 16 bits from a per-table sequence. (Mastodon also mixes
-- in a hash of a secret salt; ids only need to be unique and increasing
-- here.)
CREATE FUNCTION timestamp_id(table_name text) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT ((extract(epoch FROM clock_timestamp()) * 1000)::bigint << 16)
         | (nextval(table_name || '_id_seq') & 65535)
$$;

CREATE SEQUENCE accounts_id_seq;
CREATE SEQUENCE statuses_id_seq;

-- Rails' record of applied migrations: the newest version tells the layout.
CREATE TABLE schema_migrations (
    version character varying NOT NULL PRIMARY KEY
);

CREATE TABLE accounts (
    id bigint DEFAULT timestamp_id('accounts') NOT NULL PRIMARY KEY,
    username character varying DEFAULT '' NOT NULL,
    domain character varying,
    private_key text,
    public_key text DEFAULT '' NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    note text DEFAULT '' NOT NULL,
    display_name character varying DEFAULT '' NOT NULL,
    uri character varying DEFAULT '' NOT NULL,
    url character varying,
    avatar_file_name character varying,
    avatar_content_type character varying,
    avatar_file_size integer,
    avatar_updated_at timestamp without time zone,
    header_file_name character varying,
    header_content_type character varying,
    header_file_size integer,
    header_updated_at timestamp without time zone,
    avatar_remote_url character varying,
    locked boolean DEFAULT false NOT NULL,
    header_remote_url character varying DEFAULT '' NOT NULL,
    last_webfingered_at timestamp without time zone,
    inbox_url character varying DEFAULT '' NOT NULL,
    outbox_url character varying DEFAULT '' NOT NULL,
    shared_inbox_url character varying DEFAULT '' NOT NULL,
    followers_url character varying DEFAULT '' NOT NULL,
    protocol integer DEFAULT 0 NOT NULL,
    memorial boolean DEFAULT false NOT NULL,
    moved_to_account_id bigint REFERENCES accounts (id) ON DELETE SET NULL,
    featured_collection_url character varying,
    fields jsonb,
    actor_type character varying,
    discoverable boolean,
    also_known_as character varying[],
    silenced_at timestamp without time zone,
    suspended_at timestamp without time zone,
    hide_collections boolean,
    avatar_storage_schema_version integer,
    header_storage_schema_version integer,
    sensitized_at timestamp without time zone,
    suspension_origin integer,
    trendable boolean,
    reviewed_at timestamp without time zone,
    requested_review_at timestamp without time zone,
    indexable boolean DEFAULT false NOT NULL,
    attribution_domains character varying[] DEFAULT '{}',
    following_url character varying DEFAULT '' NOT NULL,
    id_scheme integer DEFAULT 1,
    feature_approval_policy integer DEFAULT 0 NOT NULL
);
CREATE UNIQUE INDEX index_accounts_on_username_and_domain_lower
    ON accounts (lower(username), COALESCE(lower(domain), ''));
CREATE INDEX index_accounts_on_uri ON accounts (uri);

CREATE TABLE users (
    id bigserial PRIMARY KEY,
    email character varying DEFAULT '' NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    encrypted_password character varying DEFAULT '' NOT NULL,
    reset_password_token character varying,
    reset_password_sent_at timestamp without time zone,
    sign_in_count integer DEFAULT 0 NOT NULL,
    current_sign_in_at timestamp without time zone,
    last_sign_in_at timestamp without time zone,
    confirmation_token character varying,
    confirmed_at timestamp without time zone,
    confirmation_sent_at timestamp without time zone,
    unconfirmed_email character varying,
    locale character varying,
    consumed_timestep integer,
    otp_required_for_login boolean DEFAULT false NOT NULL,
    last_emailed_at timestamp without time zone,
    otp_backup_codes character varying[],
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    disabled boolean DEFAULT false NOT NULL,
    invite_id bigint,
    chosen_languages character varying[],
    created_by_application_id bigint,
    approved boolean DEFAULT true NOT NULL,
    sign_in_token character varying,
    sign_in_token_sent_at timestamp without time zone,
    webauthn_id character varying,
    sign_up_ip inet,
    skip_sign_in_token boolean,
    role_id bigint,
    settings text,
    time_zone character varying,
    otp_secret character varying,
    age_verified_at timestamp(6) without time zone,
    require_tos_interstitial boolean DEFAULT false NOT NULL
);
CREATE INDEX index_users_on_account_id ON users (account_id);
CREATE UNIQUE INDEX index_users_on_email ON users (email);

CREATE TABLE follows (
    id bigserial PRIMARY KEY,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    target_account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    show_reblogs boolean DEFAULT true NOT NULL,
    uri character varying,
    notify boolean DEFAULT false NOT NULL,
    languages character varying[]
);
CREATE UNIQUE INDEX index_follows_on_account_id_and_target_account_id
    ON follows (account_id, target_account_id);
CREATE INDEX index_follows_on_target_account_id_and_account_id
    ON follows (target_account_id, account_id);

CREATE TABLE statuses (
    id bigint DEFAULT timestamp_id('statuses') NOT NULL PRIMARY KEY,
    uri character varying,
    text text DEFAULT '' NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    in_reply_to_id bigint REFERENCES statuses (id) ON DELETE SET NULL,
    reblog_of_id bigint REFERENCES statuses (id) ON DELETE CASCADE,
    url character varying,
    sensitive boolean DEFAULT false NOT NULL,
    visibility integer DEFAULT 0 NOT NULL,
    spoiler_text text DEFAULT '' NOT NULL,
    reply boolean DEFAULT false NOT NULL,
    language character varying,
    conversation_id bigint,
    local boolean,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    application_id bigint,
    in_reply_to_account_id bigint REFERENCES accounts (id) ON DELETE SET NULL,
    poll_id bigint,
    deleted_at timestamp without time zone,
    edited_at timestamp without time zone,
    trendable boolean,
    ordered_media_attachment_ids bigint[],
    fetched_replies_at timestamp(6) without time zone,
    quote_approval_policy integer DEFAULT 0 NOT NULL
);
CREATE INDEX index_statuses_on_account_id ON statuses (account_id);
CREATE UNIQUE INDEX index_statuses_on_uri ON statuses (uri text_pattern_ops) WHERE uri IS NOT NULL;

-- The instance actor, as Mastodon's seeds create it: id -99, named after
-- LOCAL_DOMAIN, an Application, locked, with no users row. (Mastodon also
-- gives it a key pair; the import never reads it.)
INSERT INTO accounts (id, username, actor_type, locked, created_at, updated_at)
VALUES (-99, 'mastodon.example', 'Application', true, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC');

-- The schema version of Mastodon 4.5 (a real database lists every migration).
INSERT INTO schema_migrations (version) VALUES ('20251217091936');
