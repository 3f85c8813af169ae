package store

import (
	"database/sql"
	"fmt"
	"time"
)

// Follower is a remote actor following a local one.
type Follower struct {
	ActorID     int64  // the local actor followed
	IRI         string // the remote actor id
	Inbox       string // personal inbox
	SharedInbox string // "" when the server has none (GoToSocial)
	FollowID    string // the Follow activity id as received
	CreatedAt   time.Time
}

// SaveFollower records (or refreshes, on a repeated Follow) a follower.
func (tx *Tx) SaveFollower(f Follower) error {
	_, err := tx.exec(`INSERT INTO followers (actor_id, follower, inbox, shared_inbox, follow_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (actor_id, follower) DO UPDATE SET
			inbox = excluded.inbox, shared_inbox = excluded.shared_inbox,
			follow_id = excluded.follow_id, updated_at = excluded.updated_at`,
		f.ActorID, f.IRI, f.Inbox, f.SharedInbox, f.FollowID, ms(tx.Now), ms(tx.Now))
	if err != nil {
		return fmt.Errorf("save follower: %w", err)
	}
	return nil
}

// FollowerCount returns how many remote actors follow the actor.
func (tx *Tx) FollowerCount(actorID int64) (int, error) {
	var n int
	if err := tx.queryRow(`SELECT COUNT(*) FROM followers WHERE actor_id = ?`, actorID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count followers: %w", err)
	}
	return n, nil
}

// Followers returns up to limit followers of the actor, oldest first,
// skipping offset.
func (tx *Tx) Followers(actorID int64, offset, limit int) ([]Follower, error) {
	out, err := queryList(tx, func(rows *sql.Rows) (Follower, error) {
		f := Follower{ActorID: actorID}
		var created int64
		err := rows.Scan(&f.IRI, &f.Inbox, &f.SharedInbox, &f.FollowID, &created)
		f.CreatedAt = fromMS(created)
		return f, err
	}, `SELECT follower, inbox, shared_inbox, follow_id, created_at FROM followers
		WHERE actor_id = ? ORDER BY id LIMIT ? OFFSET ?`, actorID, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("list followers: %w", err)
	}
	return out, nil
}

// IsKnownRemote reports whether iri follows anyone here or signed an
// accepted request before.
func (tx *Tx) IsKnownRemote(iri string) (bool, error) {
	var n int
	err := tx.queryRow(`SELECT (SELECT COUNT(*) FROM followers WHERE follower = ?) + (SELECT COUNT(*) FROM remote_actors WHERE iri = ?)`,
		iri, iri).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up remote actor: %w", err)
	}
	return n > 0, nil
}

// RemoveFollower removes iri from the followers of the actor. Like every
// removal it also cancels what was still queued for iri's personal inbox
// from that actor. It returns how many follows were removed (0 or 1).
func (tx *Tx) RemoveFollower(actorID int64, iri string) (int, error) {
	return tx.removeFollowers(tx.query(`DELETE FROM followers WHERE actor_id = ? AND follower = ?
		RETURNING follower, actor_id`, actorID, iri))
}

// RemoveFollowByID removes the follow whose Follow activity id is followID,
// if iri made it.
func (tx *Tx) RemoveFollowByID(followID, iri string) (int, error) {
	return tx.removeFollowers(tx.query(`DELETE FROM followers WHERE follow_id = ? AND follower = ?
		RETURNING follower, actor_id`, followID, iri))
}

// RemoveFollowerEverywhere removes iri from the followers of every local
// actor (the remote actor was deleted).
func (tx *Tx) RemoveFollowerEverywhere(iri string) (int, error) {
	return tx.removeFollowers(tx.query(`DELETE FROM followers WHERE follower = ? RETURNING follower, actor_id`, iri))
}

// removeFollowers reads the (follower, actor_id) rows a DELETE returned and
// cancels the queued deliveries of that actor to those followers' personal
// inboxes, which no longer want them.
func (tx *Tx) removeFollowers(rows *sql.Rows, err error) (int, error) {
	if err != nil {
		return 0, fmt.Errorf("remove follower: %w", err)
	}
	type gone struct {
		follower string
		actorID  int64
	}
	var removed []gone
	for rows.Next() {
		var g gone
		if err := rows.Scan(&g.follower, &g.actorID); err != nil {
			rows.Close()
			return 0, fmt.Errorf("remove follower: %w", err)
		}
		removed = append(removed, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("remove follower: %w", err)
	}
	for _, g := range removed {
		if err := tx.cancelPersonalDeliveries(g.actorID, g.follower); err != nil {
			return 0, err
		}
	}
	return len(removed), nil
}
