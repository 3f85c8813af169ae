package store

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Identity is what the first start fixed for good: the public base URL
// under which every id was minted, and the bot's username.
type Identity struct {
	BaseURL   string
	Username  string
	CreatedAt time.Time
}

// Identity returns the stored identity, or an error wrapping ErrNotFound
// when none is stored yet.
func (tx *Tx) Identity() (*Identity, error) {
	var id Identity
	var created int64
	err := tx.queryRow(`SELECT base_url, username, created_at FROM identity WHERE id = 1`).Scan(&id.BaseURL, &id.Username, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no identity stored", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load identity: %w", err)
	}
	id.CreatedAt = fromMS(created)
	return &id, nil
}

// SetIdentity stores the identity, once: it returns the identity stored
// (another process may have stored one first, which wins).
func (tx *Tx) SetIdentity(baseURL, username string) (*Identity, error) {
	if _, err := tx.exec(`INSERT OR IGNORE INTO identity (id, base_url, username, created_at) VALUES (1, ?, ?, ?)`,
		baseURL, username, ms(tx.Now)); err != nil {
		return nil, fmt.Errorf("store identity: %w", err)
	}
	return tx.Identity()
}

// FormerIdentity reads the identity that a database made before identities
// were stored used: the first actor's username, and the scheme and host of
// the first activity it sent (every activity id starts with the base URL).
// Either is "" when the database holds none.
func (tx *Tx) FormerIdentity() (baseURL, username string, err error) {
	err = tx.queryRow(`SELECT username FROM actors ORDER BY id LIMIT 1`).Scan(&username)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("read first actor: %w", err)
	}
	var iri string
	err = tx.queryRow(`SELECT iri FROM activities ORDER BY id LIMIT 1`).Scan(&iri)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("read first activity: %w", err)
	}
	if u, perr := url.Parse(iri); perr == nil && u.Scheme != "" && u.Host != "" {
		baseURL = u.Scheme + "://" + u.Host
	}
	return baseURL, username, nil
}
