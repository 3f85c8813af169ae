package store

import (
	"database/sql"
	"fmt"
	"time"
)

// Read queries for the web pages about build targets: what the feed
// recorded of each (migrations/0002_feed.sql), newest first.

// TargetFailure is one failure of a target as the feed recorded it.
type TargetFailure struct {
	Target, User        string
	NuttxHash, AppsHash string // the commits built; "" when unknown
	Build               string // the build's timestamp label (or log URL) when both hashes are missing
	URL                 string // its build log
	Note                string // the note announcing it (a digest's for a failure in a burst)
	Msg                 string // the first 1,024 characters of its build message; "" when none was stored
	Seen                time.Time
}

// TargetRecovery is one recovery of a target.
type TargetRecovery struct {
	User, NuttxHash, AppsHash string // the build that recovered it
	Note                      string // "" when not posted
	Seen                      time.Time
}

// TargetBreak is a breaking commit found for a target: the build broke
// between Good and Bad.
type TargetBreak struct {
	BadNuttx, BadApps, GoodNuttx, GoodApps string
	Note                                   string
	Seen                                   time.Time
}

// TargetHost is a build host that failed a target.
type TargetHost struct {
	User     string
	Failures int
	Last     time.Time
}

// TargetHistory is what the feed recorded of one target: its latest
// failures, recoveries and breaking commits (at most the limit asked for
// each, newest first), every build host that failed it, and how long its
// ended incidents lasted.
type TargetHistory struct {
	Failures     []TargetFailure
	FailureCount int // all of them, listed or not
	Recoveries   []TargetRecovery
	Breaks       []TargetBreak
	Hosts        []TargetHost // by name
	Incidents    int          // ended incidents: one per recovery
	FailedFor    time.Duration
}

// targetFailureColumns select a TargetFailure: of its build message, the
// first 1,024 characters (the pages show its first lines), never 64 KiB.
const targetFailureColumns = `target, user, nuttx_hash, apps_hash, build, url, note, seen_at, substr(msg, 1, 1024)`

func scanTargetFailure(rows *sql.Rows) (TargetFailure, error) {
	var f TargetFailure
	var seen int64
	err := rows.Scan(&f.Target, &f.User, &f.NuttxHash, &f.AppsHash, &f.Build, &f.URL, &f.Note, &seen, &f.Msg)
	f.Seen = fromMS(seen)
	return f, err
}

// TargetHistory returns the history of target, limit items of each list.
func (tx *Tx) TargetHistory(target string, limit int) (*TargetHistory, error) {
	h := &TargetHistory{}
	var err error
	if h.Failures, err = queryList(tx, scanTargetFailure, `SELECT `+targetFailureColumns+` FROM feed_failures
		WHERE target = ? ORDER BY seen_at DESC, id DESC LIMIT ?`, target, limit); err != nil {
		return nil, fmt.Errorf("target history: %w", err)
	}
	if h.Recoveries, err = queryList(tx, func(rows *sql.Rows) (TargetRecovery, error) {
		var r TargetRecovery
		var seen int64
		err := rows.Scan(&r.User, &r.NuttxHash, &r.AppsHash, &r.Note, &seen)
		r.Seen = fromMS(seen)
		return r, err
	}, `SELECT user, nuttx_hash, apps_hash, note, seen_at FROM feed_recoveries
		WHERE target = ? ORDER BY seen_at DESC, id DESC LIMIT ?`, target, limit); err != nil {
		return nil, fmt.Errorf("target history: %w", err)
	}
	if h.Breaks, err = queryList(tx, func(rows *sql.Rows) (TargetBreak, error) {
		var b TargetBreak
		var seen int64
		err := rows.Scan(&b.BadNuttx, &b.BadApps, &b.GoodNuttx, &b.GoodApps, &b.Note, &seen)
		b.Seen = fromMS(seen)
		return b, err
	}, `SELECT bad_nuttx, bad_apps, good_nuttx, good_apps, note, seen_at FROM feed_breaks
		WHERE target = ? ORDER BY seen_at DESC, bad_nuttx, bad_apps LIMIT ?`, target, limit); err != nil {
		return nil, fmt.Errorf("target history: %w", err)
	}
	if h.Hosts, err = queryList(tx, func(rows *sql.Rows) (TargetHost, error) {
		var host TargetHost
		var last int64
		err := rows.Scan(&host.User, &host.Failures, &last)
		host.Last = fromMS(last)
		return host, err
	}, `SELECT user, COUNT(*), MAX(seen_at) FROM feed_failures WHERE target = ? GROUP BY user ORDER BY user`, target); err != nil {
		return nil, fmt.Errorf("target history: %w", err)
	}
	for _, host := range h.Hosts {
		h.FailureCount += host.Failures
	}
	if err := tx.incidents(target, h); err != nil {
		return nil, fmt.Errorf("target history: %w", err)
	}
	return h, nil
}

// incidents sets h.Incidents and h.FailedFor from the ended incidents of
// target: each ran from the first failure after the previous recovery to
// its own recovery.
func (tx *Tx) incidents(target string, h *TargetHistory) error {
	var failedMS int64
	err := tx.queryRow(`WITH r AS (
			SELECT seen_at AS end_at, LAG(seen_at, 1, -1) OVER (ORDER BY seen_at, id) AS prev
			FROM feed_recoveries WHERE target = ?)
		SELECT COUNT(*), COALESCE(SUM(end_at - (SELECT MIN(f.seen_at) FROM feed_failures f
			WHERE f.target = ? AND f.seen_at > r.prev AND f.seen_at <= r.end_at)), 0) FROM r`,
		target, target).Scan(&h.Incidents, &failedMS)
	h.FailedFor = time.Duration(failedMS) * time.Millisecond
	return err
}

// LastFailures returns the latest failure recorded of each of targets
// that has one.
func (tx *Tx) LastFailures(targets []string) (map[string]TargetFailure, error) {
	list, err := queryList(tx, scanTargetFailure, `SELECT `+targetFailureColumns+` FROM feed_failures
		WHERE id IN (SELECT MAX(id) FROM feed_failures WHERE target IN (SELECT value FROM json_each(?)) GROUP BY target)`,
		jsonList(targets))
	if err != nil {
		return nil, fmt.Errorf("last failures: %w", err)
	}
	out := make(map[string]TargetFailure, len(list))
	for _, f := range list {
		out[f.Target] = f
	}
	return out, nil
}

// LastFailureURLs returns the build log URL of the latest failure
// recorded of each of targets that has one: what /targets links, read
// without the failures' messages.
func (tx *Tx) LastFailureURLs(targets []string) (map[string]string, error) {
	type row struct{ target, url string }
	list, err := queryList(tx, func(rows *sql.Rows) (row, error) {
		var r row
		return r, rows.Scan(&r.target, &r.url)
	}, `SELECT target, url FROM feed_failures
		WHERE id IN (SELECT MAX(id) FROM feed_failures WHERE target IN (SELECT value FROM json_each(?)) GROUP BY target)`,
		jsonList(targets))
	if err != nil {
		return nil, fmt.Errorf("last failure URLs: %w", err)
	}
	out := make(map[string]string, len(list))
	for _, r := range list {
		out[r.target] = r.url
	}
	return out, nil
}

// NoteContents returns the HTML of the notes with the given public ids
// that exist and are not deleted, by public id.
func (tx *Tx) NoteContents(publicIDs []string) (map[string]string, error) {
	type row struct{ id, content string }
	list, err := queryList(tx, func(rows *sql.Rows) (row, error) {
		var r row
		return r, rows.Scan(&r.id, &r.content)
	}, `SELECT public_id, content FROM notes WHERE deleted_at IS NULL AND public_id IN (SELECT value FROM json_each(?))`,
		jsonList(publicIDs))
	if err != nil {
		return nil, fmt.Errorf("note contents: %w", err)
	}
	out := make(map[string]string, len(list))
	for _, r := range list {
		out[r.id] = r.content
	}
	return out, nil
}
