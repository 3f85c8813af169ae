package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Idempotency keys of the Mastodon API (table api_idempotency): the note a
// request with a key posted, so that the same request again within the
// key's lifetime gets that note back and posts nothing new.

// IdempotentNote returns the public id of the note posted under key since
// the time since, or "" when there is none.
func (tx *Tx) IdempotentNote(key string, since time.Time) (string, error) {
	var id string
	err := tx.queryRow(`SELECT note_id FROM api_idempotency WHERE key = ? AND created_at >= ?`, key, ms(since)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read idempotency key: %w", err)
	}
	return id, nil
}

// SaveIdempotencyKey records that key posted the note publicID now, and
// forgets the keys older than before.
func (tx *Tx) SaveIdempotencyKey(key, publicID string, before time.Time) error {
	if _, err := tx.exec(`DELETE FROM api_idempotency WHERE created_at < ?`, ms(before)); err != nil {
		return fmt.Errorf("prune idempotency keys: %w", err)
	}
	_, err := tx.exec(`INSERT INTO api_idempotency (key, note_id, created_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET note_id = excluded.note_id, created_at = excluded.created_at`, key, publicID, ms(tx.Now))
	if err != nil {
		return fmt.Errorf("save idempotency key: %w", err)
	}
	return nil
}
