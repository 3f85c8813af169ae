// Package mastodon reads, and only reads, what nuttx-feed takes over from a
// running Mastodon 4.x: one local account, its remote followers and,
// optionally, its public statuses, straight from Mastodon's PostgreSQL
// (the facts behind every query are in MASTODON.md of the project's shared
// docs).
//
// Nothing is ever written: the connection starts with
// default_transaction_read_only=on, and each Read runs in one REPEATABLE
// READ, READ ONLY transaction, so all it returns comes from one snapshot.
//
// How Mastodon's rows map onto nuttx-feed:
//
//   - accounts (domain NULL, lower(username) matched): Account. The key pair
//     is kept as stored (private PKCS#1, public SPKI); Account.KeyPair turns
//     it into what nuttx-feed stores (private PKCS#8, public SPKI) after
//     checking both halves match. Followers' servers keep verifying the bot
//     with it under the same keyId, https://HOST/users/USERNAME#main-key.
//   - fields (jsonb, [{name, value, verified_at}]; NULL or {} for none):
//     Account.Fields, names and values as typed.
//   - follows of the account joined to the follower's accounts row:
//     Follower, for remote ActivityPub followers that are not suspended.
//     Local followers (users of the old server), suspended accounts and dead
//     OStatus peers cannot be carried over and are only counted (Skipped).
//     A follow without a uri (very old rows) gets a stable stand-in,
//     ACTOR_URI#follow-imported-FOLLOWS_ID: nuttx-feed needs a Follow id, and
//     the remote server has nothing to match it against anyway.
//   - statuses of the account that anyone may read (public, unlisted), not
//     boosts, not deleted: Status, by id. A reply keeps its parent's uri; a
//     local parent whose uri is NULL gets the uri Mastodon derives for it,
//     on the base URL given to Read.
//
// Read refuses, with an error naming the cause and what to do, what cannot
// be taken over without losing followers: an account whose ActivityPub id is
// numeric (id_scheme 1, https://HOST/ap/users/ID, not /users/USERNAME), a
// database where keys moved to the encrypted keypairs table (Mastodon after
// 4.5), and an account that is suspended, moved, disabled or a memorial.
// Each cause is an error value below, for errors.Is.
package mastodon

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The reasons Read refuses. The errors returned wrap one of these and say
// more: which account, what was found, what to do.
var (
	// ErrNotMastodon: the database has no accounts, follows or statuses table.
	ErrNotMastodon = errors.New("not a Mastodon database")
	// ErrNotFound: no local account by that name (the message lists them).
	ErrNotFound = errors.New("no local account")
	// ErrNumericIDs: the account's actor id is /ap/users/ID (id_scheme 1).
	ErrNumericIDs = errors.New("the account has a numeric ActivityPub id")
	// ErrEncryptedKeys: the keys live in the keypairs table, encrypted.
	ErrEncryptedKeys = errors.New("the account's private key is encrypted in Mastodon's keypairs table")
	// ErrSuspended: the account is suspended.
	ErrSuspended = errors.New("the account is suspended")
	// ErrMoved: the account moved to another one.
	ErrMoved = errors.New("the account has moved")
	// ErrDisabled: the account's login is disabled.
	ErrDisabled = errors.New("the account is disabled")
	// ErrMemorial: the account is a memorial.
	ErrMemorial = errors.New("the account is a memorial")
	// ErrWrongBaseURL: the account's statuses live on another host.
	ErrWrongBaseURL = errors.New("the base URL is not Mastodon's")
	// ErrBadKey (from Account.KeyPair): the key pair is unreadable, not
	// RSA, or its two halves do not match.
	ErrBadKey = errors.New("unusable key pair")
)

// DB is a read-only connection to Mastodon's PostgreSQL. It is not safe for
// concurrent use.
type DB struct {
	conn *pgx.Conn
}

// connectTimeout bounds a connection attempt when the URL sets none.
const connectTimeout = 15 * time.Second

// Open connects to databaseURL (postgres://USER:PASSWORD@HOST:PORT/DB, or
// libpq's key=value form; PG* variables and ~/.pgpass fill in what is
// missing). Its errors never contain the password.
func Open(ctx context.Context, databaseURL string) (*DB, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		// pgx masks the password in what it quotes of the URL.
		return nil, fmt.Errorf("the Mastodon database URL: %s", oneLine(err.Error()))
	}
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	cfg.RuntimeParams["application_name"] = "nuttx-feed import"
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = connectTimeout
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		msg := oneLine(err.Error())
		if cfg.Password != "" {
			msg = strings.ReplaceAll(msg, cfg.Password, "xxxxx")
		}
		return nil, fmt.Errorf("cannot connect to the Mastodon database%s: %s", redacted(databaseURL), msg)
	}
	return &DB{conn: conn}, nil
}

// Close closes the connection.
func (db *DB) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return db.conn.Close(ctx)
}

// read runs f in one read-only transaction on a single snapshot, and ends
// the transaction (there is nothing to commit).
func (db *DB) read(ctx context.Context, f func(tx pgx.Tx) error) error {
	tx, err := db.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("the Mastodon database: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only: nothing to lose
	return f(tx)
}

// redacted returns " at URL" with the password masked, or "" when
// databaseURL is not a URL.
func redacted(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Host == "" {
		return ""
	}
	return " at " + u.Redacted()
}

// oneLine joins the lines of an error message into one, leaving out
// repeated lines (pgx says the same for each connection attempt).
func oneLine(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !slices.Contains(lines, l) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, " ")
}
