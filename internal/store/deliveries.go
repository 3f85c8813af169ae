package store

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"modernc.org/sqlite"

	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// The delivery queue: one row per (activity, inbox), from the transaction
// that queues it until it is delivered or given up. Each row carries its
// inbox's registrable domain (urls.DomainOf), computed by the SQL function
// registrable_domain as the row is queued.

func init() {
	sqlite.MustRegisterDeterministicScalarFunction("registrable_domain", 1,
		func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			s, _ := args[0].(string)
			return urls.DomainOf(s), nil
		})
}

// heldDomain is 2 (claimed: set aside) for a row queued to a domain the
// breaker holds, else 0; dom is the row's domain.
const heldDomain = `(EXISTS (SELECT 1 FROM delivery_hosts h WHERE h.domain = dom AND h.state <> 'failing') * 2)`

// QueueToFollowers queues activity activityID to every follower of actorID:
// one delivery per distinct inbox, the shared inbox where a follower's
// server has one. A delivery to a personal inbox remembers its follower, so
// that a 410 there can remove them. Rows go in inbox order, so deliveries
// to one host sit together and reuse connections. Rows to a domain the
// breaker holds are queued set aside. It returns how many deliveries were
// queued.
func (tx *Tx) QueueToFollowers(activityID, actorID int64) (int, error) {
	res, err := tx.exec(`INSERT INTO deliveries (activity_id, inbox, follower, next_attempt_at, created_at, domain, claimed)
		SELECT ?, target, follower, ?, ?, dom, `+heldDomain+`
		FROM (SELECT target, registrable_domain(target) AS dom,
		             CASE WHEN COUNT(*) = 1 AND MAX(shared_inbox) = '' THEN MAX(follower) ELSE '' END AS follower
		      FROM (SELECT CASE WHEN shared_inbox <> '' THEN shared_inbox ELSE inbox END AS target, follower, shared_inbox
		            FROM followers WHERE actor_id = ?)
		      GROUP BY target)
		ORDER BY target`,
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
	_, err := tx.exec(`INSERT INTO deliveries (activity_id, inbox, follower, next_attempt_at, created_at, domain, claimed)
		SELECT ?, ?, ?, ?, ?, dom, `+heldDomain+` FROM (SELECT registrable_domain(?) AS dom)`,
		activityID, inbox, follower, ms(tx.Now), ms(tx.Now), inbox)
	if err != nil {
		return fmt.Errorf("queue delivery: %w", err)
	}
	return nil
}

// cancelPersonalDeliveries gives up what is still queued from actorID to
// follower's personal inbox (the follower is gone). Saying that follower is
// not empty lets SQLite use the partial index deliveries_follower, and the
// activity is matched by its key: a scan of either table would make every
// Undo cost time in proportion to all deliveries or activities ever made.
func (tx *Tx) cancelPersonalDeliveries(actorID int64, follower string) error {
	if _, err := tx.cancelPending("follower removed", `follower = ? AND follower <> ''
		AND EXISTS (SELECT 1 FROM activities a WHERE a.id = deliveries.activity_id AND a.actor_id = ?)`,
		follower, actorID); err != nil {
		return fmt.Errorf("cancel deliveries of a removed follower: %w", err)
	}
	return nil
}

// cancelPending gives up the pending deliveries that cond (a condition on
// deliveries, written in this package) selects, with reason as their last
// error, and returns how many. Rows the breaker set aside leave its hold
// (claimed 0), or it would probe with them. Rows a running server has
// claimed are given up too but stay claimed: the server checks a row is
// still pending before it sends it (DeliveryPending), and the outcome of a
// request already under way no longer makes it pending (RecordOutcomes).
func (tx *Tx) cancelPending(reason, cond string, args ...any) (int, error) {
	n, _, err := tx.withdraw(reason, cond, args...)
	return n, err
}

// withdraw is cancelPending, also telling how many of the rows given up
// were claimed by a running server: requests of those may be under way.
func (tx *Tx) withdraw(reason, cond string, args ...any) (n, claimed int, err error) {
	if err := tx.queryRow(`SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND claimed = 1 AND `+cond, args...).Scan(&claimed); err != nil {
		return 0, 0, err
	}
	res, err := tx.exec(`UPDATE deliveries SET state = 'failed', claimed = CASE WHEN claimed = 1 THEN 1 ELSE 0 END, last_error = ?, finished_at = ?
		WHERE state = 'pending' AND `+cond, append([]any{reason, ms(tx.Now)}, args...)...)
	if err != nil {
		return 0, 0, err
	}
	rows, err := res.RowsAffected()
	return int(rows), claimed, err
}

// DeliveryPending reports whether the delivery id is still pending: a
// running server asks before it sends a delivery it claimed a while ago,
// which a command may have given up since.
func (s *Store) DeliveryPending(ctx context.Context, id int64) (bool, error) {
	var pending bool
	err := s.rdb.QueryRowContext(ctx, `SELECT state = 'pending' FROM deliveries WHERE id = ?`, id).Scan(&pending)
	if err != nil {
		return false, fmt.Errorf("delivery %d: %w", id, err)
	}
	return pending, nil
}

// Delivery is a claimed row of the queue.
type Delivery struct {
	ID         int64
	ActivityID int64
	Inbox      string
	Domain     string // the inbox's registrable domain
	Follower   string // set when Inbox is this follower's personal inbox
	Attempts   int    // made before this one
	Due        time.Time
	// Probe marks the one delivery a held domain is tried with
	// (ClaimProbes).
	Probe bool
}

const deliveryColumns = `id, activity_id, inbox, domain, follower, attempts, next_attempt_at`

func scanDelivery(rows *sql.Rows) (Delivery, error) {
	var d Delivery
	var due int64
	err := rows.Scan(&d.ID, &d.ActivityID, &d.Inbox, &d.Domain, &d.Follower, &d.Attempts, &due)
	d.Due = fromMS(due)
	return d, err
}

// PrepareQueue readies the queue for a server that starts: every claimed
// delivery is pending again (the server that claimed it is gone: one server
// runs the queue of a database), rows queued before the domain column
// existed get theirs, the rows of held and parked domains are set aside,
// and a probe that was out when the last server stopped is due again.
func (tx *Tx) PrepareQueue() error {
	for _, q := range []string{
		`UPDATE deliveries SET claimed = 0 WHERE claimed = 1`,
		`UPDATE deliveries SET domain = registrable_domain(inbox) WHERE state = 'pending' AND claimed = 0 AND domain = ''`,
		`UPDATE deliveries SET claimed = 2 WHERE state = 'pending' AND claimed = 0
			AND domain IN (SELECT domain FROM delivery_hosts WHERE state <> 'failing')`,
	} {
		if _, err := tx.exec(q); err != nil {
			return fmt.Errorf("prepare the queue: %w", err)
		}
	}
	if _, err := tx.exec(`UPDATE delivery_hosts SET next_probe_at = ? WHERE state = 'held' AND next_probe_at IS NULL`, ms(tx.Now)); err != nil {
		return fmt.Errorf("prepare the queue: %w", err)
	}
	return nil
}

// Claim bounds what ClaimDeliveries takes.
type Claim struct {
	// Limit is the most rows taken.
	Limit int
	// PerDomain is the most rows taken for one domain that Room does not
	// name.
	PerDomain int
	// Room is the most rows taken for the domains it names; a domain with
	// no room (0 or less) is skipped.
	Room map[string]int
}

// claimCandidatesSQL reads the rows a claim chooses from: the 4*Limit
// pending rows due the longest (?3), among the domains with room (?2 lists
// those without) and not held by the breaker.
const claimCandidatesSQL = `SELECT id, domain FROM deliveries
	WHERE state = 'pending' AND claimed = 0 AND next_attempt_at <= ?1
	  AND domain NOT IN (SELECT value FROM json_each(?2))
	  AND domain NOT IN (SELECT domain FROM delivery_hosts WHERE state <> 'failing')
	ORDER BY next_attempt_at, id LIMIT ?3`

// claimByIDSQL claims the rows a claim picked (?1, a JSON list of ids).
const claimByIDSQL = `UPDATE deliveries SET claimed = 1 WHERE id IN (SELECT value FROM json_each(?1)) RETURNING ` + deliveryColumns

// ClaimDeliveries marks pending deliveries due by tx.Now as taken and
// returns them, in no order. It hands them out round-robin over domains
// (the first due row of each domain, then the second...), within each
// domain's room, looking at the 4*Limit rows due the longest among the
// domains with room: a domain's backlog cannot fill a claim, and domains
// without room cost nothing. Held and parked domains are left alone. The
// rooms are applied here rather than in SQL, where looking a domain's room
// up cost a scan of them all for every row.
func (tx *Tx) ClaimDeliveries(c Claim) ([]Delivery, error) {
	var full []string // domains without room
	for d, n := range c.Room {
		if n <= 0 {
			full = append(full, d)
		}
	}
	type candidate struct {
		id     int64
		domain string
	}
	rows, err := tx.queryHot(claimCandidatesSQL, ms(tx.Now), jsonList(full), 4*c.Limit)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	candidates, err := scanAll(rows, func(rows *sql.Rows) (candidate, error) {
		var k candidate
		return k, rows.Scan(&k.id, &k.domain)
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	ids := roundRobin(len(candidates), c, func(i int) (int64, string) { return candidates[i].id, candidates[i].domain })
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err = tx.queryHot(claimByIDSQL, string(list))
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	out, err := scanAll(rows, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return out, nil
}

// roundRobin picks up to c.Limit of n candidates, given in the order they
// came due (row i has id and domain of i): each domain's first, then each
// one's second..., within its room (c.Room, else c.PerDomain), earliest
// due first within a round.
func roundRobin(n int, c Claim, row func(i int) (int64, string)) []int64 {
	type pick struct {
		id       int64
		nth, due int
	}
	taken := map[string]int{}
	var picks []pick
	for i := range n {
		id, domain := row(i)
		room, ok := c.Room[domain]
		if !ok {
			room = c.PerDomain
		}
		if taken[domain] < room {
			taken[domain]++
			picks = append(picks, pick{id: id, nth: taken[domain], due: i})
		}
	}
	slices.SortFunc(picks, func(a, b pick) int { return cmp.Or(cmp.Compare(a.nth, b.nth), cmp.Compare(a.due, b.due)) })
	ids := make([]int64, 0, min(len(picks), c.Limit))
	for _, p := range picks[:min(len(picks), c.Limit)] {
		ids = append(ids, p.id)
	}
	return ids
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
	// by shutdown, or never made): nothing else is recorded.
	Release bool
	// Hold sets a pending or released delivery aside: the breaker holds
	// its domain.
	Hold    bool
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
			claimed := 0
			if o.Hold {
				claimed = 2
			}
			if _, err := tx.exec(`UPDATE deliveries SET claimed = CASE WHEN state = 'pending' THEN ? ELSE 0 END WHERE id = ?`, claimed, d.ID); err != nil {
				return fmt.Errorf("release delivery: %w", err)
			}
			continue
		}
		next, finished, claimed := ms(tx.Now), any(nil), 0
		if o.State == Pending {
			next = ms(o.Next)
		} else {
			finished = ms(tx.Now)
		}
		if o.Hold {
			claimed = 2
		}
		// A row given up while its request was under way is not retried:
		// a retry leaves it given up (only its claim goes), while what
		// happened for good (delivered, refused) is recorded.
		withdrawn := `?1 AND state <> 'pending'`
		if _, err := tx.exec(`UPDATE deliveries SET
			state = CASE WHEN `+withdrawn+` THEN state ELSE ?2 END,
			claimed = CASE WHEN `+withdrawn+` THEN 0 ELSE ?3 END,
			attempts = ?4,
			next_attempt_at = CASE WHEN `+withdrawn+` THEN next_attempt_at ELSE ?5 END,
			last_status = ?6,
			last_error = CASE WHEN `+withdrawn+` THEN last_error ELSE ?7 END,
			finished_at = CASE WHEN `+withdrawn+` THEN finished_at ELSE ?8 END
			WHERE id = ?9`, o.State == Pending, o.State, claimed, d.Attempts+1, next, o.Status, o.Error, finished, d.ID); err != nil {
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
