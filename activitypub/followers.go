package activitypub

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Follower is a remote actor following a local one.
type Follower struct {
	IRI         string // the remote actor id
	Inbox       string // personal inbox
	SharedInbox string // "" when the server has none (GoToSocial)
	FollowID    string // the Follow activity id as received
	CreatedAt   time.Time
}

// saveFollower records (or refreshes, on a repeated Follow) a follower.
func saveFollower(ctx context.Context, tx *sql.Tx, actorID int64, f Follower, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO followers (actor_id, follower, inbox, shared_inbox, follow_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (actor_id, follower) DO UPDATE SET
			inbox = excluded.inbox, shared_inbox = excluded.shared_inbox,
			follow_id = excluded.follow_id, updated_at = excluded.updated_at`,
		actorID, f.IRI, f.Inbox, f.SharedInbox, f.FollowID, now.UnixMilli(), now.UnixMilli())
	if err != nil {
		return fmt.Errorf("save follower: %w", err)
	}
	return nil
}

// queueToFollowers queues activityID to every follower of actorID: one
// delivery per distinct inbox, the shared inbox where a follower's server
// has one (INTEROP D1). A delivery to a personal inbox remembers its
// follower, so that a 410 there can remove them. Rows go in inbox order, so
// deliveries to one host sit together and reuse connections.
func queueToFollowers(ctx context.Context, tx *sql.Tx, activityID, actorID int64, now time.Time) (int, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO deliveries (activity_id, inbox, follower, next_attempt_at, created_at)
		SELECT ?, target,
		       CASE WHEN COUNT(*) = 1 AND MAX(shared_inbox) = '' THEN MAX(follower) ELSE '' END,
		       ?, ?
		FROM (SELECT CASE WHEN shared_inbox <> '' THEN shared_inbox ELSE inbox END AS target, follower, shared_inbox
		      FROM followers WHERE actor_id = ?)
		GROUP BY target ORDER BY target`,
		activityID, now.UnixMilli(), now.UnixMilli(), actorID)
	if err != nil {
		return 0, fmt.Errorf("queue deliveries: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// queueDelivery queues activityID to one inbox.
func queueDelivery(ctx context.Context, tx *sql.Tx, activityID int64, inbox, follower string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO deliveries (activity_id, inbox, follower, next_attempt_at, created_at)
		VALUES (?, ?, ?, ?, ?)`, activityID, inbox, follower, now.UnixMilli(), now.UnixMilli())
	if err != nil {
		return fmt.Errorf("queue delivery: %w", err)
	}
	return nil
}

// FollowerCount returns how many remote actors follow username.
func (s *Service) FollowerCount(ctx context.Context, username string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM followers f JOIN actors a ON a.id = f.actor_id WHERE a.username = ?`,
		username).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count followers: %w", err)
	}
	return n, nil
}

// Followers returns up to limit followers of username, oldest first,
// skipping offset.
func (s *Service) Followers(ctx context.Context, username string, offset, limit int) ([]Follower, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT f.follower, f.inbox, f.shared_inbox, f.follow_id, f.created_at
		FROM followers f JOIN actors a ON a.id = f.actor_id WHERE a.username = ?
		ORDER BY f.id LIMIT ? OFFSET ?`, username, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("list followers: %w", err)
	}
	defer rows.Close()
	var out []Follower
	for rows.Next() {
		var f Follower
		var created int64
		if err := rows.Scan(&f.IRI, &f.Inbox, &f.SharedInbox, &f.FollowID, &created); err != nil {
			return nil, err
		}
		f.CreatedAt = time.UnixMilli(created).UTC()
		out = append(out, f)
	}
	return out, rows.Err()
}
