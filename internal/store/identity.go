package store

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
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
// were stored used: the first actor's username (or "" when it has none),
// and the base URLs (scheme and host) that its activities' ids start with,
// the most used first (none when it sent nothing).
func (tx *Tx) FormerIdentity() (bases []string, username string, err error) {
	err = tx.queryRow(`SELECT username FROM actors ORDER BY id LIMIT 1`).Scan(&username)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, "", fmt.Errorf("read first actor: %w", err)
	}
	// An id is scheme://host/users/...: its base ends before the third slash.
	bases, err = queryList(tx, func(rows *sql.Rows) (string, error) {
		var base string
		err := rows.Scan(&base)
		return base, err
	}, `SELECT substr(iri, 1, instr(substr(iri, instr(iri, '://') + 3), '/') + instr(iri, '://') + 1) AS base
		FROM activities WHERE iri LIKE 'http%://%/%' GROUP BY base ORDER BY COUNT(*) DESC, MIN(id)`)
	if err != nil {
		return nil, "", fmt.Errorf("read the base URLs of activities: %w", err)
	}
	for i, b := range bases {
		if u, perr := url.Parse(b); perr == nil {
			bases[i] = u.Scheme + "://" + strings.ToLower(u.Host)
		}
	}
	return bases, username, nil
}
