package store

import (
	"fmt"
	"strings"
	"time"
)

// Reads for observability: the state of the queue, the breaker and the
// followers that /metrics reports when it is scraped (QueueStats), and the
// progress of an activity's fan-out that the delivery log sums up
// (FanOuts). Each read uses an index: a scrape must cost little however
// many finished deliveries the retention keeps.

// QueueStats is what /metrics reports of the database, read in one
// snapshot.
type QueueStats struct {
	// Due, Waiting, Held and InFlight split the pending deliveries: due
	// now and not taken yet, waiting for a retry, set aside by the
	// breaker, and taken by the running server (in memory or on the wire).
	Due, Waiting, Held, InFlight int
	// OldestDue is when the delivery due the longest came due (queued, or
	// its retry time); zero when none is due.
	OldestDue time.Time
	// Hosts counts the domains with a breaker row, by state (HostFailing,
	// HostHeld, HostParked).
	Hosts map[string]int
	// Followers counts the followers of each local actor, by username.
	Followers map[string]int
}

// QueueStats reads the queue's state at tx.Now. The in-flight rows have no
// index of their own: they are all pending rows (all rows less the
// finished ones, both counted on an index) less the others.
func (tx *Tx) QueueStats() (QueueStats, error) {
	st := QueueStats{Hosts: map[string]int{}, Followers: map[string]int{}}
	var all, finished int
	var oldest *int64
	now := ms(tx.Now)
	err := tx.queryRow(`SELECT
			(SELECT COUNT(*) FROM deliveries),
			(SELECT COUNT(*) FROM deliveries WHERE state <> 'pending'),
			(SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND claimed = 0 AND next_attempt_at <= ?1),
			(SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND claimed = 0 AND next_attempt_at > ?1),
			(SELECT COUNT(*) FROM deliveries WHERE claimed = 2 AND state = 'pending'),
			(SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending' AND claimed = 0)`, now).
		Scan(&all, &finished, &st.Due, &st.Waiting, &st.Held, &oldest)
	if err != nil {
		return st, fmt.Errorf("queue stats: %w", err)
	}
	st.InFlight = max(0, all-finished-st.Due-st.Waiting-st.Held)
	if oldest != nil && *oldest <= now {
		st.OldestDue = fromMS(*oldest)
	}
	if err := tx.countBy(st.Hosts, `SELECT state, COUNT(*) FROM delivery_hosts GROUP BY state`); err != nil {
		return st, fmt.Errorf("queue stats: hosts: %w", err)
	}
	if err := tx.countBy(st.Followers, `SELECT a.username, (SELECT COUNT(*) FROM followers f WHERE f.actor_id = a.id)
		FROM actors a`); err != nil {
		return st, fmt.Errorf("queue stats: followers: %w", err)
	}
	return st, nil
}

// countBy fills counts from a query of (name, count) rows.
func (tx *Tx) countBy(counts map[string]int, query string) error {
	rows, err := tx.query(query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			return err
		}
		counts[name] = n
	}
	return rows.Err()
}

// FanOut is the progress of one activity's deliveries.
type FanOut struct {
	ActivityID int64
	IRI, Type  string // the activity's id and type (Create, Update, Accept...)
	Inboxes    int    // deliveries queued, one per inbox
	Delivered  int
	Failed     int       // given up, or refused for good
	Retrying   int       // pending after at least one attempt
	Held       int       // pending and never tried: set aside by the breaker
	Untried    int       // pending and never tried, not held
	Queued     time.Time // when its first delivery was queued
}

// Done tells whether every delivery of the fan-out has finished.
func (f FanOut) Done() bool { return f.Retrying+f.Held+f.Untried == 0 }

// FanOuts returns the progress of the given activities, by activity id
// (an activity with no delivery is left out). It reads their deliveries
// through the index on activity_id.
func (tx *Tx) FanOuts(activityIDs []int64) (map[int64]FanOut, error) {
	out := map[int64]FanOut{}
	if len(activityIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(activityIDs))
	for i, id := range activityIDs {
		args[i] = id
	}
	rows, err := tx.query(`SELECT d.activity_id, a.iri, a.type, COUNT(*),
			SUM(d.state = 'delivered'), SUM(d.state = 'failed'),
			SUM(d.state = 'pending' AND d.attempts > 0),
			SUM(d.state = 'pending' AND d.attempts = 0 AND d.claimed = 2),
			SUM(d.state = 'pending' AND d.attempts = 0 AND d.claimed <> 2),
			MIN(d.created_at)
		FROM deliveries d JOIN activities a ON a.id = d.activity_id
		WHERE d.activity_id IN (?`+strings.Repeat(", ?", len(args)-1)+`)
		GROUP BY d.activity_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("fan-outs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f FanOut
		var queued int64
		if err := rows.Scan(&f.ActivityID, &f.IRI, &f.Type, &f.Inboxes, &f.Delivered, &f.Failed,
			&f.Retrying, &f.Held, &f.Untried, &queued); err != nil {
			return nil, fmt.Errorf("fan-outs: %w", err)
		}
		f.Queued = fromMS(queued)
		out[f.ActivityID] = f
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fan-outs: %w", err)
	}
	return out, nil
}
