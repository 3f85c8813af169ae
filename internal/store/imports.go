package store

import (
	"database/sql"
	"fmt"
	"time"
)

// The writes of an import from another server (nuttx-feed import
// mastodon): each adds what is missing and leaves what is there alone, so
// that running an import twice changes nothing.

// ImportFollower adds f, with its own CreatedAt, unless the actor already
// follows (then the row, maybe refreshed by a newer Follow, stays as it
// is). It returns whether f was added.
func (tx *Tx) ImportFollower(f Follower) (bool, error) {
	res, err := tx.exec(`INSERT INTO followers (actor_id, follower, inbox, shared_inbox, follow_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (actor_id, follower) DO NOTHING`,
		f.ActorID, f.IRI, f.Inbox, f.SharedInbox, f.FollowID, ms(f.CreatedAt), ms(tx.Now))
	if err != nil {
		return false, fmt.Errorf("import follower %s: %w", f.IRI, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ImportNote adds n (with its own PublicID and Published time) unless a
// note with its PublicID exists. It returns whether n was added.
func (tx *Tx) ImportNote(n *Note) (bool, error) {
	var exists bool
	if err := tx.queryRow(`SELECT EXISTS (SELECT 1 FROM notes WHERE public_id = ?)`, n.PublicID).Scan(&exists); err != nil {
		return false, fmt.Errorf("import note %s: %w", n.PublicID, err)
	}
	if exists {
		return false, nil
	}
	return true, tx.InsertNote(n)
}

// LatestPublished returns when the newest note of the actor was
// published (zero when it has none).
func (tx *Tx) LatestPublished(actorID int64) (time.Time, error) {
	var latest sql.NullInt64
	if err := tx.queryRow(`SELECT MAX(published_at) FROM notes WHERE actor_id = ?`, actorID).Scan(&latest); err != nil {
		return time.Time{}, fmt.Errorf("latest note: %w", err)
	}
	if !latest.Valid {
		return time.Time{}, nil
	}
	return fromMS(latest.Int64), nil
}
