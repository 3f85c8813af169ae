package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
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
	Name     string
	Created  time.Time
	LastUsed time.Time // zero: never (kept for the API to come)
}

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

// CreateToken stores the hash of token under name. A name taken already
// is an error wrapping ErrExists.
func (tx *Tx) CreateToken(name, token string) error {
	res, err := tx.exec(`INSERT INTO tokens (name, hash, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		name, tokenHash(token), ms(tx.Now))
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

// Tokens returns every token, by name.
func (tx *Tx) Tokens() ([]Token, error) {
	out, err := queryList(tx, func(rows *sql.Rows) (Token, error) {
		var t Token
		var created int64
		var used sql.NullInt64
		err := rows.Scan(&t.Name, &created, &used)
		t.Created = fromMS(created)
		if used.Valid {
			t.LastUsed = fromMS(used.Int64)
		}
		return t, err
	}, `SELECT name, created_at, last_used_at FROM tokens ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken deletes the token name; it reports whether there was one.
func (tx *Tx) RevokeToken(name string) (bool, error) {
	res, err := tx.exec(`DELETE FROM tokens WHERE name = ?`, name)
	if err != nil {
		return false, fmt.Errorf("revoke token %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// CheckToken returns the name of token, or an error wrapping ErrNotFound
// when no stored token is it. Its hash is compared with every stored hash
// in constant time, all of them whatever matches, so that the time taken
// tells nothing of the stored hashes (there are a handful).
func (s *Store) CheckToken(ctx context.Context, token string) (string, error) {
	hash := tokenHash(token)
	var name string
	err := s.View(ctx, func(tx *Tx) error {
		rows, err := tx.query(`SELECT name, hash FROM tokens`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			var h []byte
			if err := rows.Scan(&n, &h); err != nil {
				return err
			}
			if subtle.ConstantTimeCompare(hash, h) == 1 {
				name = n
			}
		}
		return rows.Err()
	})
	if err != nil {
		return "", fmt.Errorf("check token: %w", err)
	}
	if name == "" {
		return "", fmt.Errorf("%w: no such token", ErrNotFound)
	}
	return name, nil
}
