package store

import (
	"database/sql"
	"fmt"
	"time"
)

// The delivery queue: one row per (activity, inbox), from the transaction
// that queues it until it is delivered or given up.

// QueueToFollowers queues activity activityID to every follower of actorID:
// one delivery per distinct inbox, the shared inbox where a follower's
// server has one. A delivery to a personal inbox remembers its follower, so
// that a 410 there can remove them. Rows go in inbox order, so deliveries
// to one host sit together and reuse connections. It returns how many
// deliveries were queued.
func (tx *Tx) QueueToFollowers(activityID, actorID int64) (int, error) {
	res, err := tx.exec(`INSERT INTO deliveries (activity_id, inbox, follower, next_attempt_at, created_at)
		SELECT ?, target,
		       CASE WHEN COUNT(*) = 1 AND MAX(shared_inbox) = '' THEN MAX(follower) ELSE '' END,
		       ?, ?
		FROM (SELECT CASE WHEN shared_inbox <> '' THEN shared_inbox ELSE inbox END AS target, follower, shared_inbox
		      FROM followers WHERE actor_id = ?)
		GROUP BY target ORDER BY target`,
		activityID, ms(tx.Now), ms(tx.Now), actorID)
	if err != nil {
		return 0, fmt.Errorf("queue deliveries: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// QueueDelivery queues activityID to one inbox; follower names the follower
// whose personal inbox it is ("" for a shared inbox).
func (tx *Tx) QueueDelivery(activityID int64, inbox, follower string) error {
	_, err := tx.exec(`INSERT INTO deliveries (activity_id, inbox, follower, next_attempt_at, created_at)
		VALUES (?, ?, ?, ?, ?)`, activityID, inbox, follower, ms(tx.Now), ms(tx.Now))
	if err != nil {
		return fmt.Errorf("queue delivery: %w", err)
	}
	return nil
}

// cancelPersonalDeliveries gives up what is still queued from actorID to
// follower's personal inbox (the follower is gone).
func (tx *Tx) cancelPersonalDeliveries(actorID int64, follower string) error {
	if _, err := tx.exec(`UPDATE deliveries SET state = 'failed', last_error = 'follower removed', finished_at = ?
		WHERE follower = ? AND state = 'pending' AND claimed = 0
		AND activity_id IN (SELECT id FROM activities WHERE actor_id = ?)`, ms(tx.Now), follower, actorID); err != nil {
		return fmt.Errorf("cancel deliveries of a removed follower: %w", err)
	}
	return nil
}

// Delivery is a claimed row of the queue.
type Delivery struct {
	ID         int64
	ActivityID int64
	Inbox      string
	Follower   string // set when Inbox is this follower's personal inbox
	Attempts   int    // made before this one
	Due        time.Time
}

// ReleaseClaims makes every claimed delivery pending again: the server that
// claimed them is gone (one server runs the queue of a database).
func (tx *Tx) ReleaseClaims() error {
	if _, err := tx.exec(`UPDATE deliveries SET claimed = 0 WHERE claimed = 1`); err != nil {
		return fmt.Errorf("release claims: %w", err)
	}
	return nil
}

// ClaimDeliveries marks up to limit pending deliveries due by tx.Now as
// taken (the longest due first) and returns them, in no order.
func (tx *Tx) ClaimDeliveries(limit int) ([]Delivery, error) {
	out, err := queryList(tx, func(rows *sql.Rows) (Delivery, error) {
		var d Delivery
		var due int64
		err := rows.Scan(&d.ID, &d.ActivityID, &d.Inbox, &d.Follower, &d.Attempts, &due)
		d.Due = fromMS(due)
		return d, err
	}, `UPDATE deliveries SET claimed = 1
		WHERE id IN (SELECT id FROM deliveries WHERE state = 'pending' AND claimed = 0 AND next_attempt_at <= ?
		             ORDER BY next_attempt_at, id LIMIT ?)
		RETURNING id, activity_id, inbox, follower, attempts, next_attempt_at`, ms(tx.Now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return out, nil
}

// Delivery states.
const (
	Pending   = "pending"
	Delivered = "delivered"
	Failed    = "failed"
)

// Outcome is what became of one claimed delivery.
type Outcome struct {
	Delivery Delivery
	// Release gives the delivery back untouched (the attempt was cut off
	// by shutdown): nothing else is recorded.
	Release bool
	State   string    // Pending (retry at Next), Delivered or Failed
	Next    time.Time // the next attempt, for Pending
	Status  int       // HTTP status, 0 when none came
	Error   string
	Started time.Time
	Elapsed time.Duration
	// RemoveFollower removes Delivery.Follower from the followers of the
	// activity's actor (their inbox answered 410 Gone).
	RemoveFollower bool
}

// RecordOutcomes writes a batch of outcomes: each delivery's new state and
// one row of delivery_attempts per attempt (each statement parsed once per
// batch: parsing the SQL costs more than running it).
func (tx *Tx) RecordOutcomes(batch []Outcome) error {
	for _, o := range batch {
		d := o.Delivery
		if o.Release {
			if _, err := tx.exec(`UPDATE deliveries SET claimed = 0 WHERE id = ?`, d.ID); err != nil {
				return fmt.Errorf("release delivery: %w", err)
			}
			continue
		}
		next, finished := ms(tx.Now), any(nil)
		if o.State == Pending {
			next = ms(o.Next)
		} else {
			finished = ms(tx.Now)
		}
		if _, err := tx.exec(`UPDATE deliveries SET state = ?, claimed = 0, attempts = ?, next_attempt_at = ?,
			last_status = ?, last_error = ?, finished_at = ? WHERE id = ?`, o.State, d.Attempts+1, next, o.Status, o.Error, finished, d.ID); err != nil {
			return fmt.Errorf("record outcome: %w", err)
		}
		if _, err := tx.exec(`INSERT INTO delivery_attempts (delivery_id, attempted_at, status, error, duration_ms)
			VALUES (?, ?, ?, ?, ?)`, d.ID, ms(o.Started), o.Status, o.Error, o.Elapsed.Milliseconds()); err != nil {
			return fmt.Errorf("record attempt: %w", err)
		}
		if o.RemoveFollower {
			var actorID int64
			if err := tx.queryRow(`SELECT actor_id FROM activities WHERE id = ?`, d.ActivityID).Scan(&actorID); err != nil {
				return fmt.Errorf("record outcome: %w", err)
			}
			if _, err := tx.RemoveFollower(actorID, d.Follower); err != nil {
				return err
			}
		}
	}
	return nil
}
