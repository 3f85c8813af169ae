package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
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
// wrapping ErrNotFound. A feed account shows the firehose's images
// (actorColumns), whether its actor exists yet or not.
func (tx *Tx) Image(username, kind string) (*Image, error) {
	img := &Image{}
	var updated int64
	err := tx.queryRow(`SELECT i.content_type, i.data, i.updated_at FROM actor_images i
		WHERE i.kind = ? AND i.actor_id = (SELECT `+imageOwner+` FROM actors WHERE username = ?)`, kind, username).Scan(&img.ContentType, &img.Data, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return tx.templateImage(username, kind)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", kind, err)
	}
	img.UpdatedAt = fromMS(updated)
	return img, nil
}

// templateImage returns the firehose's image of this kind when username
// is a feed account without an actor yet; else an error wrapping
// ErrNotFound. It reads only.
func (tx *Tx) templateImage(username, kind string) (*Image, error) {
	missing := fmt.Errorf("%w: no %s for %q", ErrNotFound, kind, username)
	var exists bool
	if err := tx.queryRow(`SELECT EXISTS (SELECT 1 FROM actors WHERE username = ?)`, username).Scan(&exists); err != nil {
		return nil, fmt.Errorf("load %s: %w", kind, err)
	}
	if exists {
		return nil, missing
	}
	if _, err := tx.FeedAccountNamed(username); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, missing
		}
		return nil, err
	}
	id, err := tx.Identity()
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, missing
		}
		return nil, err
	}
	if strings.EqualFold(id.Username, username) { // never loops: the firehose is no feed account
		return nil, missing
	}
	return tx.Image(id.Username, kind)
}
