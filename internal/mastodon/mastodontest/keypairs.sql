-- What Mastodon after 4.5 does to a database (MASTODON.md, section 3b): a
-- keypairs table, then the post-migration that copies each local key there,
-- the private key encrypted with Rails Active Record Encryption, and blanks
-- accounts.private_key and accounts.public_key. (A later post-migration
-- drops accounts.private_key; the tests do that step separately.)
CREATE TABLE keypairs (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    type integer NOT NULL,
    local_fragment character varying,
    uri character varying,
    public_key character varying NOT NULL,
    private_key character varying,
    expires_at timestamp(6) without time zone,
    revoked boolean DEFAULT false NOT NULL,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX index_keypairs_on_account_id_and_local_fragment
    ON keypairs (account_id, local_fragment);

-- Stands in for the ciphertext: Active Record Encryption stores a JSON
-- document of base64 payload and headers, unreadable without the server's
-- ACTIVE_RECORD_ENCRYPTION keys.
INSERT INTO keypairs (account_id, type, local_fragment, public_key, private_key, created_at, updated_at)
SELECT id, 0, '#main-key', public_key,
       '{"p":"' || encode(sha256(convert_to(private_key, 'UTF8')), 'base64')
           || '","h":{"iv":"AAAAAAAAAAAAAAAA","at":"AAAAAAAAAAAAAAAAAAAAAA=="}}',
       now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
FROM accounts
WHERE domain IS NULL AND private_key IS NOT NULL;

UPDATE accounts SET public_key = '', private_key = NULL
WHERE domain IS NULL AND private_key IS NOT NULL;

INSERT INTO schema_migrations (version) VALUES ('20260702144128');
