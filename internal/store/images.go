package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Image kinds of an actor.
const (
	Avatar = "avatar"
	Header = "header"
)

// Image is an actor's avatar or header.
type Image struct {
	ContentType string
	Data        []byte
	UpdatedAt   time.Time
}

// SetImage stores (replacing it) the image of this kind of an actor.
func (tx *Tx) SetImage(actorID int64, kind string, img Image) error {
	if _, err := tx.exec(`INSERT INTO actor_images (actor_id, kind, content_type, data, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (actor_id, kind) DO UPDATE SET content_type = excluded.content_type, data = excluded.data, updated_at = excluded.updated_at`,
		actorID, kind, img.ContentType, img.Data, ms(tx.Now)); err != nil {
		return fmt.Errorf("store %s: %w", kind, err)
	}
	return nil
}

// RemoveImage removes the image of this kind of an actor, if any.
func (tx *Tx) RemoveImage(actorID int64, kind string) error {
	if _, err := tx.exec(`DELETE FROM actor_images WHERE actor_id = ? AND kind = ?`, actorID, kind); err != nil {
		return fmt.Errorf("remove %s: %w", kind, err)
	}
	return nil
}

// Image returns the image of this kind of the actor username, or an error
// wrapping ErrNotFound.
func (tx *Tx) Image(username, kind string) (*Image, error) {
	img := &Image{}
	var updated int64
	err := tx.queryRow(`SELECT i.content_type, i.data, i.updated_at FROM actor_images i JOIN actors a ON a.id = i.actor_id
		WHERE a.username = ? AND i.kind = ?`, username, kind).Scan(&img.ContentType, &img.Data, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no %s for %q", ErrNotFound, kind, username)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", kind, err)
	}
	img.UpdatedAt = fromMS(updated)
	return img, nil
}
