package store

import (
	"fmt"
	"time"
)

// Pruned counts the rows one Prune call removed, by table.
type Pruned struct {
	Deliveries, Attempts, Activities int
}

// Add adds q's counts to p's.
func (p *Pruned) Add(q Pruned) {
	p.Deliveries += q.Deliveries
	p.Attempts += q.Attempts
	p.Activities += q.Activities
}

// Total is the number of rows removed.
func (p Pruned) Total() int { return p.Deliveries + p.Attempts + p.Activities }

// Prune removes up to limit rows of each kind that are older than before
// and no longer needed: finished (delivered or failed) deliveries with their
// attempts, attempts of deliveries still pending, and activities that carry
// no note and have no delivery left (Accepts, profile Updates). Notes and
// the Creates that carry them are kept for ever. Callers repeat it until it removes nothing, one short
// transaction at a time, so that the write lock is never held for long.
func (tx *Tx) Prune(before time.Time, limit int) (Pruned, error) {
	var p Pruned
	cut := ms(before)
	steps := []struct {
		n     *int
		query string
	}{
		{&p.Attempts, `DELETE FROM delivery_attempts WHERE id IN (SELECT a.id FROM delivery_attempts a
			JOIN deliveries d ON d.id = a.delivery_id
			WHERE d.state <> 'pending' AND d.finished_at < ? LIMIT ?)`},
		{&p.Deliveries, `DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries
			WHERE state <> 'pending' AND finished_at < ? LIMIT ?)`},
		{&p.Attempts, `DELETE FROM delivery_attempts WHERE id IN (SELECT id FROM delivery_attempts
			WHERE attempted_at < ? LIMIT ?)`},
		{&p.Activities, `DELETE FROM activities WHERE id IN (SELECT id FROM activities a
			WHERE note_id IS NULL AND created_at < ?
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.activity_id = a.id) LIMIT ?)`},
	}
	for _, st := range steps {
		res, err := tx.exec(st.query, cut, limit)
		if err != nil {
			return p, fmt.Errorf("prune: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return p, fmt.Errorf("prune: %w", err)
		}
		*st.n += int(n)
	}
	return p, nil
}
