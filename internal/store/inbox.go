package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// What the inbox looks up to stay idempotent: a follow by its Follow id,
// and the Accepts already sent to a follower.

// Follower returns the follow of actorID by the remote actor iri.
func (tx *Tx) Follower(actorID int64, iri string) (*Follower, error) {
	f := &Follower{ActorID: actorID, IRI: iri}
	var created int64
	err := tx.queryRow(`SELECT inbox, shared_inbox, follow_id, created_at FROM followers WHERE actor_id = ? AND follower = ?`,
		actorID, iri).Scan(&f.Inbox, &f.SharedInbox, &f.FollowID, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s does not follow actor %d", ErrNotFound, iri, actorID)
	}
	if err != nil {
		return nil, fmt.Errorf("load follower: %w", err)
	}
	f.CreatedAt = fromMS(created)
	return f, nil
}

// AcceptSentSince reports whether an Accept from actorID to follower's
// personal inbox is still queued, or was queued or delivered at or after
// since.
func (tx *Tx) AcceptSentSince(actorID int64, follower string, since time.Time) (bool, error) {
	var n int
	err := tx.queryRow(`SELECT EXISTS (SELECT 1 FROM deliveries d JOIN activities a ON a.id = d.activity_id
		WHERE d.follower = ? AND d.follower <> '' AND a.actor_id = ? AND a.type = 'Accept'
		AND (d.state = 'pending' OR d.created_at >= ? OR d.finished_at >= ?))`,
		follower, actorID, ms(since), ms(since)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up Accepts: %w", err)
	}
	return n == 1, nil
}
