package store

import (
	"database/sql"
	"fmt"
	"time"
)

// What the operator's commands read and change: followers with the last
// delivery to them, the delivery queue per server, the removal of one
// follower and the deletion of a note. These are one-off commands: their
// queries may scan a table (the deliveries, bounded by the retention) that
// no hot path may.

// FollowerStatus is a follow as `followers list` shows it.
type FollowerStatus struct {
	Follower
	Following string // the local actor's username
	Username  string // the follower's preferredUsername; "" when not known
	Last      LastDelivery
}

// LastDelivery is the last delivery tried (once at least) to an inbox.
type LastDelivery struct {
	State    string    // Delivered, Pending (failing: tried again at Next) or Failed (given up); "" for none
	At       time.Time // when it was delivered or given up
	Next     time.Time // its next attempt, while Pending (its host's probe when the breaker holds it; zero when parked)
	Status   int       // the last HTTP status; 0 when none came
	Error    string
	Attempts int
}

// FollowerStatuses returns every follow of every local actor, oldest first
// per actor, each with the last delivery tried to the follower's inbox or
// shared inbox.
func (tx *Tx) FollowerStatuses() ([]FollowerStatus, error) {
	out, err := queryList(tx, func(rows *sql.Rows) (FollowerStatus, error) {
		var f FollowerStatus
		var created, next int64
		var finished sql.NullInt64
		err := rows.Scan(&f.ActorID, &f.Following, &f.IRI, &f.Inbox, &f.SharedInbox, &f.FollowID, &created, &f.Username,
			&f.Last.State, &finished, &next, &f.Last.Status, &f.Last.Error, &f.Last.Attempts)
		f.CreatedAt = fromMS(created)
		if finished.Valid {
			f.Last.At = fromMS(finished.Int64)
		}
		if f.Last.State == Pending && next > 0 { // 0: set aside by a parked breaker, no time
			f.Last.Next = fromMS(next)
		}
		return f, err
	}, `WITH tried AS (SELECT inbox, MAX(id) AS id FROM deliveries WHERE attempts > 0 GROUP BY inbox)
		SELECT f.actor_id, a.username, f.follower, f.inbox, f.shared_inbox, f.follow_id, f.created_at, COALESCE(r.username, ''),
		       COALESCE(d.state, ''), d.finished_at,
		       CASE WHEN d.claimed = 2 -- set aside by the breaker: it goes when its host is probed
		            THEN COALESCE((SELECT h.next_probe_at FROM delivery_hosts h WHERE h.domain = d.domain), 0)
		            ELSE COALESCE(d.next_attempt_at, 0) END,
		       COALESCE(d.last_status, 0),
		       COALESCE(d.last_error, ''), COALESCE(d.attempts, 0)
		FROM followers f JOIN actors a ON a.id = f.actor_id
		LEFT JOIN remote_actors r ON r.iri = f.follower
		LEFT JOIN deliveries d ON d.id = MAX(
			COALESCE((SELECT id FROM tried WHERE tried.inbox = f.inbox), 0),
			COALESCE((SELECT id FROM tried WHERE tried.inbox = f.shared_inbox AND f.shared_inbox <> ''), 0))
		ORDER BY f.actor_id, f.id`)
	if err != nil {
		return nil, fmt.Errorf("list followers: %w", err)
	}
	return out, nil
}

// FollowsOf returns the follows of every local actor by the remote actor
// iri.
func (tx *Tx) FollowsOf(iri string) ([]Follower, error) {
	out, err := queryList(tx, func(rows *sql.Rows) (Follower, error) {
		f := Follower{IRI: iri}
		var created int64
		err := rows.Scan(&f.ActorID, &f.Inbox, &f.SharedInbox, &f.FollowID, &created)
		f.CreatedAt = fromMS(created)
		return f, err
	}, `SELECT actor_id, inbox, shared_inbox, follow_id, created_at FROM followers WHERE follower = ? ORDER BY id`, iri)
	if err != nil {
		return nil, fmt.Errorf("look up follows: %w", err)
	}
	return out, nil
}

// FollowersNamed returns the followers (actor ids) whose preferredUsername
// is username, in any case.
func (tx *Tx) FollowersNamed(username string) ([]string, error) {
	out, err := queryList(tx, func(rows *sql.Rows) (string, error) {
		var iri string
		return iri, rows.Scan(&iri)
	}, `SELECT DISTINCT f.follower FROM followers f JOIN remote_actors r ON r.iri = f.follower
		WHERE r.username = ? COLLATE NOCASE ORDER BY f.follower`, username)
	if err != nil {
		return nil, fmt.Errorf("look up followers: %w", err)
	}
	return out, nil
}

// CancelUnusedInbox gives up the pending deliveries to inbox when no
// follower of any local actor has it as inbox or shared inbox any more: a
// removed follower's server gets nothing it no longer wants (what is queued
// to a shared inbox serves every follower there). It returns how many.
func (tx *Tx) CancelUnusedInbox(inbox string) (int, error) {
	if inbox == "" {
		return 0, nil
	}
	n, err := tx.cancelPending("follower removed", `inbox = ?
		AND NOT EXISTS (SELECT 1 FROM followers WHERE followers.inbox = ? OR followers.shared_inbox = ?)`, inbox, inbox, inbox)
	if err != nil {
		return 0, fmt.Errorf("cancel deliveries to %s: %w", inbox, err)
	}
	return n, nil
}

// DeleteNote marks the note seq deleted as of tx.Now and erases its text:
// its content, content warning and tags, the build errors of the failures
// it announced, and the note inside its Create and its Updates (edits),
// whose bodies become tombstone. It gives up the deliveries of those
// still queued, and returns how many, and how many of those a running
// server had claimed (their requests may be under way).
func (tx *Tx) DeleteNote(seq int64, tombstone []byte) (cancelled, inFlight int, err error) {
	if _, err := tx.exec(`UPDATE notes SET deleted_at = ?, content = '', source = '', summary = '', sensitive = 0
		WHERE id = ? AND deleted_at IS NULL`, ms(tx.Now), seq); err != nil {
		return 0, 0, fmt.Errorf("delete note: %w", err)
	}
	if _, err := tx.exec(`DELETE FROM note_tags WHERE note_id = ?`, seq); err != nil {
		return 0, 0, fmt.Errorf("delete note: %w", err)
	}
	// The build errors of the failures it announced go with it: the pages
	// show them (0009), and they hold more of the log than the note did.
	if _, err := tx.exec(`UPDATE feed_failures SET msg = '' WHERE note_id = ?`, seq); err != nil {
		return 0, 0, fmt.Errorf("delete note: %w", err)
	}
	// The Create's deliveries are all given up below and nothing serves
	// its body, so it may hold the Delete: only the note's text must go.
	// (Anything that ever resends a given-up Create must skip these.)
	// Its Updates (edits) hold its text too, and go the same way.
	if _, err := tx.exec(`UPDATE activities SET body = ? WHERE note_id = ? AND type IN ('Create', 'Update')`, tombstone, seq); err != nil {
		return 0, 0, fmt.Errorf("delete note: %w", err)
	}
	cancelled, inFlight, err = tx.withdraw("note deleted", `activity_id IN (SELECT id FROM activities WHERE note_id = ? AND type IN ('Create', 'Update'))`, seq)
	if err != nil {
		return 0, 0, fmt.Errorf("delete note: %w", err)
	}
	return cancelled, inFlight, nil
}

// DelayDeliveries makes the deliveries of the activity id due at until
// at the earliest.
func (tx *Tx) DelayDeliveries(activityID int64, until time.Time) error {
	if _, err := tx.exec(`UPDATE deliveries SET next_attempt_at = ? WHERE activity_id = ? AND state = 'pending' AND next_attempt_at < ?`,
		ms(until), activityID, ms(until)); err != nil {
		return fmt.Errorf("delay deliveries: %w", err)
	}
	return nil
}

// HostStatus is the delivery queue of one server (registrable domain), as
// `deliveries` shows it.
type HostStatus struct {
	Domain      string
	Pending     int
	Retrying    int       // pending deliveries tried and failed at least once
	NextAttempt time.Time // the earliest pending one's; zero when none
	// Breaker is the breaker's state (HostFailing, HostHeld or
	// HostParked), "" when it has no row: closed.
	Breaker   string
	Failures  int       // in a row, while the breaker has a row
	NextProbe time.Time // while held
	// LastError is the last failed attempt (an HTTP status, or an error
	// when no answer came); LastFailed tells whether it is also the last
	// attempt of all.
	LastStatus int
	LastError  string
	LastErrAt  time.Time
	LastFailed bool
}

// Failing reports whether h's deliveries fail now: its breaker is open,
// its last attempt failed, or deliveries wait for a retry.
func (h HostStatus) Failing() bool { return h.Breaker != "" || h.LastFailed || h.Retrying > 0 }

// HostStatuses returns, by domain, every server with deliveries queued,
// attempts kept (within the retention) or a breaker row.
func (tx *Tx) HostStatuses() ([]HostStatus, error) {
	out, err := queryList(tx, func(rows *sql.Rows) (HostStatus, error) {
		var h HostStatus
		var next, probe, errAt sql.NullInt64
		err := rows.Scan(&h.Domain, &h.Pending, &h.Retrying, &next, &h.Breaker, &h.Failures, &probe,
			&h.LastStatus, &h.LastError, &errAt, &h.LastFailed)
		for _, t := range []struct {
			v   sql.NullInt64
			out *time.Time
		}{{next, &h.NextAttempt}, {probe, &h.NextProbe}, {errAt, &h.LastErrAt}} {
			if t.v.Valid {
				*t.out = fromMS(t.v.Int64)
			}
		}
		return h, err
	}, `WITH q AS (SELECT COALESCE(NULLIF(domain, ''), registrable_domain(inbox)) AS domain, id, state, attempts, next_attempt_at FROM deliveries),
		pending AS (SELECT domain, COUNT(*) AS n, SUM(attempts > 0) AS retrying, MIN(next_attempt_at) AS next
		            FROM q WHERE state = 'pending' GROUP BY domain),
		tried AS (SELECT q.domain, MAX(a.id) AS last_id, MAX(CASE WHEN a.status NOT BETWEEN 200 AND 299 THEN a.id END) AS fail_id
		          FROM delivery_attempts a JOIN q ON q.id = a.delivery_id GROUP BY q.domain),
		domains AS (SELECT domain FROM pending UNION SELECT domain FROM tried UNION SELECT domain FROM delivery_hosts)
		SELECT x.domain, COALESCE(p.n, 0), COALESCE(p.retrying, 0), p.next, COALESCE(h.state, ''), COALESCE(h.failures, 0),
		       h.next_probe_at, COALESCE(f.status, 0), COALESCE(f.error, ''), f.attempted_at, COALESCE(t.fail_id = t.last_id, 0)
		FROM domains x
		LEFT JOIN pending p ON p.domain = x.domain
		LEFT JOIN tried t ON t.domain = x.domain
		LEFT JOIN delivery_attempts f ON f.id = t.fail_id
		LEFT JOIN delivery_hosts h ON h.domain = x.domain
		WHERE x.domain <> ''
		ORDER BY x.domain`)
	if err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	return out, nil
}
