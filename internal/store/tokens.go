package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// API tokens (table tokens), for the API and the webhooks to come. A token
// is TokenPrefix and 32 random bytes in unpadded base64url; the database
// keeps only its SHA-256. A slow, salted hash (bcrypt, argon2) is for
// passwords, which people choose and which can be guessed; nobody can guess
// 256 random bits, so one SHA-256 already makes a stolen database useless
// for calling the API, and checks a token in a microsecond.

// TokenPrefix starts every token, so that one is recognised in a config
// file or a secret scanner's report.
const TokenPrefix = "nfd_"

// ErrExists is returned (wrapped) when a row with the same unique name
// exists already.
var ErrExists = errors.New("already exists")

// Token is a stored token, without the token itself.
type Token struct {
	Name    string
	Created time.Time
	// LastUsed is when the API last saw it, to the minute or so
	// (TouchToken); zero: never.
	LastUsed time.Time
	// Scopes are Mastodon's scopes it grants, space-separated
	// ("read write", "read:statuses", ...).
	Scopes string
	// Account is the username of the local actor it acts as; "" is the
	// bot (the server's --username).
	Account string
	// Kind is who made it: KindOperator (`token create`), KindApp (an
	// app, by OAuth) or KindClient; CreateToken does not read it.
	Kind string
	// App is the name of the app of a KindClient token.
	App string
}

// The kinds of tokens (Token.Kind).
const (
	KindOperator = "operator" // made by `token create`: proves that one runs the server
	KindApp      = "app"      // given to an app by OAuth (CreateAppToken)
	// KindClient is an app's client_credentials token (SetAppToken), not
	// in table tokens: it acts as no account. Tokens lists it, named
	// ClientTokenPrefix and the app's id, and RevokeToken ends it.
	KindClient = "client"
)

// NewToken returns a new random token.
func NewToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails: it crashes the program when the system has no randomness
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// tokenHash is what the database keeps of token.
func tokenHash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// CreateToken stores the hash of token under t.Name, with its scopes and
// account (t.Created and t.LastUsed are not read). A name taken already
// is an error wrapping ErrExists, an unknown account one wrapping
// ErrNotFound.
func (tx *Tx) CreateToken(t Token, token string) error {
	name := t.Name
	var actorID sql.NullInt64
	if t.Account != "" {
		a, err := tx.Actor(t.Account)
		if err != nil {
			return fmt.Errorf("create token %s: account: %w", name, err)
		}
		actorID = sql.NullInt64{Int64: a.ID, Valid: true}
	}
	res, err := tx.exec(`INSERT INTO tokens (name, hash, created_at, scopes, actor_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		name, tokenHash(token), ms(tx.Now), t.Scopes, actorID)
	if err != nil {
		return fmt.Errorf("create token %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	switch {
	case err != nil:
		return fmt.Errorf("create token %s: %w", name, err)
	case n == 0:
		return fmt.Errorf("%w: a token named %s", ErrExists, name)
	}
	return nil
}

// tokenColumns selects a Token (table t) and its hash; scanToken reads
// them.
const tokenColumns = `t.name, t.created_at, t.last_used_at, t.scopes, COALESCE(a.username, ''),
	CASE WHEN o.token_name IS NULL THEN '` + KindOperator + `' ELSE '` + KindApp + `' END, t.hash
	FROM tokens t LEFT JOIN actors a ON a.id = t.actor_id LEFT JOIN oauth_tokens o ON o.token_name = t.name`

// scanToken reads a row of tokenColumns.
func scanToken(row rowScanner) (Token, []byte, error) {
	var t Token
	var created int64
	var used sql.NullInt64
	var hash []byte
	err := row.Scan(&t.Name, &created, &used, &t.Scopes, &t.Account, &t.Kind, &hash)
	t.Created = fromMS(created)
	if used.Valid {
		t.LastUsed = fromMS(used.Int64)
	}
	return t, hash, err
}

// Tokens returns every token, by name, then the apps' client_credentials
// tokens (KindClient), by app.
func (tx *Tx) Tokens() ([]Token, error) {
	out, err := queryList(tx, func(rows *sql.Rows) (Token, error) {
		t, _, err := scanToken(rows)
		return t, err
	}, `SELECT `+tokenColumns+` ORDER BY t.name`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	clients, err := tx.clientTokens()
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return append(out, clients...), nil
}

// RevokeToken deletes the token name, or ends the client_credentials
// token that Tokens names so; it reports whether there was one.
func (tx *Tx) RevokeToken(name string) (bool, error) {
	if id, ok := strings.CutPrefix(name, ClientTokenPrefix); ok {
		appID, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return false, nil // no app has such an id
		}
		return tx.RevokeAppToken(appID)
	}
	res, err := tx.exec(`DELETE FROM tokens WHERE name = ?`, name)
	if err != nil {
		return false, fmt.Errorf("revoke token %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// CheckToken returns the stored token that token is, or an error wrapping
// ErrNotFound when none is. It looks the token's SHA-256 up in the unique
// index of the hashes: a lookup costs the same with five tokens or fifty
// thousand (apps signing in add tokens), and its time tells an attacker
// nothing, as finding a hash of 256 random bits by its timing would need
// the hash's preimage first.
func (s *Store) CheckToken(ctx context.Context, token string) (Token, error) {
	var found Token
	err := s.View(ctx, func(tx *Tx) error {
		t, _, err := scanToken(tx.queryRow(`SELECT `+tokenColumns+` WHERE t.hash = ?`, tokenHash(token)))
		found = t
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("%w: no such token", ErrNotFound)
	}
	if err != nil {
		return Token{}, fmt.Errorf("check token: %w", err)
	}
	return found, nil
}

// TouchToken records that the token name was used now, unless it was
// within the last every already: a busy client costs one write per every,
// not one per request.
func (tx *Tx) TouchToken(name string, every time.Duration) error {
	if _, err := tx.exec(`UPDATE tokens SET last_used_at = ?1 WHERE name = ?2 AND (last_used_at IS NULL OR last_used_at <= ?3)`,
		ms(tx.Now), name, ms(tx.Now.Add(-every))); err != nil {
		return fmt.Errorf("token %s used: %w", name, err)
	}
	return nil
}
