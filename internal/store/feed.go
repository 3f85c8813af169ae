package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The build feed's state (migrations/0002_feed.sql): which targets fail,
// their threads, and which failures, breaking commits and recoveries were
// announced. Note columns hold note IRIs.

// FailureID is what makes a build failure the same failure: target, build
// host and commits, or the build's timestamp (else its log URL) in Build
// when both hashes are missing. Each is announced once.
type FailureID struct {
	Target, User, NuttxHash, AppsHash, Build string
}

// BreakID names a breaking commit of a target, announced once.
type BreakID struct {
	Target, BadNuttx, BadApps string
}

// FeedTarget is a board:config target that ever failed.
type FeedTarget struct {
	Target, Board, Config, Arch string
	Thread                      string // root note of its thread
	LastNote                    string // latest note about it
	Failing                     bool
	FailingSince                time.Time // zero when not failing; the last change when unknown
	FailingUsers                []string  // the build hosts failing it now, sorted
}

// FailingTargets lists the targets failing now, sorted.
func (tx *Tx) FailingTargets() ([]string, error) {
	out, err := queryList(tx, func(rows *sql.Rows) (string, error) {
		var t string
		return t, rows.Scan(&t)
	}, `SELECT target FROM feed_targets WHERE failing = 1 ORDER BY target`)
	if err != nil {
		return nil, fmt.Errorf("feed state: %w", err)
	}
	return out, nil
}

// jsonList encodes values for `IN (SELECT value FROM json_each(?))`: one
// statement whatever the number of values.
func jsonList(values []string) string {
	b, _ := json.Marshal(nonNil(values))
	return string(b)
}

// FeedTargets returns the state of each of the given targets that exists.
// It runs once a poll for every target the poll names (2,000 at a burst):
// one join, its failing hosts gathered here rather than in JSON.
func (tx *Tx) FeedTargets(targets []string) (map[string]*FeedTarget, error) {
	rows, err := tx.query(`SELECT t.target, t.board, t.config, t.arch, t.thread, t.last_note, t.failing,
		CASE WHEN t.failing = 1 THEN COALESCE(t.failing_since, t.changed_at) ELSE 0 END, COALESCE(f.user, '')
		FROM feed_targets t LEFT JOIN feed_failing f ON f.target = t.target
		WHERE t.target IN (SELECT value FROM json_each(?)) ORDER BY t.target, f.user`, jsonList(targets))
	if err != nil {
		return nil, fmt.Errorf("feed state: %w", err)
	}
	defer rows.Close()
	out := make(map[string]*FeedTarget, len(targets))
	for rows.Next() {
		var r FeedTarget
		var since int64
		var user string
		if err := rows.Scan(&r.Target, &r.Board, &r.Config, &r.Arch, &r.Thread, &r.LastNote, &r.Failing, &since, &user); err != nil {
			return nil, fmt.Errorf("feed state: %w", err)
		}
		t, ok := out[r.Target]
		if !ok {
			if since != 0 {
				r.FailingSince = fromMS(since)
			}
			t = &r
			out[r.Target] = t
		}
		if user != "" {
			t.FailingUsers = append(t.FailingUsers, user)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("feed state: %w", err)
	}
	return out, nil
}

// maxThreadTargets bounds the targets ThreadTargets returns: a digest is
// the root of the thread of every target in its burst.
const maxThreadTargets = 1000

// ThreadTargets returns the targets whose thread is rooted at one of iris
// (a note and its ancestors: the feed replies to a thread's root), with
// their state, at most maxThreadTargets; none for a thread of no target.
func (tx *Tx) ThreadTargets(iris []string) ([]*FeedTarget, error) {
	out, err := queryList(tx, scanFeedTarget, `SELECT `+feedTargetColumns+` FROM feed_targets t
		WHERE t.thread IN (SELECT value FROM json_each(?)) LIMIT ?`, jsonList(iris), maxThreadTargets)
	if err != nil {
		return nil, fmt.Errorf("feed state: %w", err)
	}
	return out, nil
}

// NoteTargets returns the targets whose failures, recoveries or breaking
// commits the note seq (IRI iri) announced, with their state: one for a
// post about one target, the burst's for a digest, none for other posts.
// At most maxThreadTargets.
func (tx *Tx) NoteTargets(seq int64, iri string) ([]*FeedTarget, error) {
	out, err := queryList(tx, scanFeedTarget, `SELECT `+feedTargetColumns+` FROM feed_targets t WHERE t.target IN (
			SELECT target FROM feed_failures WHERE note_id = ?1
			UNION SELECT target FROM feed_recoveries WHERE note = ?2 AND note <> ''
			UNION SELECT target FROM feed_breaks WHERE note = ?2)
		LIMIT ?3`, seq, iri, maxThreadTargets)
	if err != nil {
		return nil, fmt.Errorf("feed state: %w", err)
	}
	return out, nil
}

// FeedTarget returns one target's state.
func (tx *Tx) FeedTarget(target string) (*FeedTarget, error) {
	rows, err := tx.FeedTargets([]string{target})
	if err != nil {
		return nil, err
	}
	if t, ok := rows[target]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("%w: target %q has no state", ErrNotFound, target)
}

const feedTargetColumns = `t.target, t.board, t.config, t.arch, t.thread, t.last_note, t.failing,
	CASE WHEN t.failing = 1 THEN COALESCE(t.failing_since, t.changed_at) ELSE 0 END,
	COALESCE((SELECT json_group_array(user) FROM (SELECT user FROM feed_failing WHERE target = t.target ORDER BY user)), '[]')`

func scanFeedTarget(rows *sql.Rows) (*FeedTarget, error) {
	t := &FeedTarget{}
	var since int64
	var users string
	if err := rows.Scan(&t.Target, &t.Board, &t.Config, &t.Arch, &t.Thread, &t.LastNote, &t.Failing, &since, &users); err != nil {
		return nil, err
	}
	if since != 0 {
		t.FailingSince = fromMS(since)
	}
	if err := json.Unmarshal([]byte(users), &t.FailingUsers); err != nil {
		return nil, fmt.Errorf("feed state: failing users of %s: %w", t.Target, err)
	}
	return t, nil
}

// FailingNow lists the failing targets, longest-failing first.
func (tx *Tx) FailingNow() ([]*FeedTarget, error) {
	out, err := queryList(tx, scanFeedTarget, `SELECT `+feedTargetColumns+` FROM feed_targets t
		WHERE t.failing = 1 ORDER BY COALESCE(t.failing_since, t.changed_at), t.target`)
	if err != nil {
		return nil, fmt.Errorf("feed state: %w", err)
	}
	return out, nil
}

// PostedFailures returns the failures of the given targets announced so far.
func (tx *Tx) PostedFailures(targets []string) (map[FailureID]bool, error) {
	list, err := queryList(tx, func(rows *sql.Rows) (FailureID, error) {
		var id FailureID
		return id, rows.Scan(&id.Target, &id.User, &id.NuttxHash, &id.AppsHash, &id.Build)
	}, `SELECT target, user, nuttx_hash, apps_hash, build FROM feed_failures
		WHERE target IN (SELECT value FROM json_each(?))`, jsonList(targets))
	if err != nil {
		return nil, fmt.Errorf("feed state: %w", err)
	}
	out := make(map[FailureID]bool, len(list))
	for _, id := range list {
		out[id] = true
	}
	return out, nil
}

// PostedBreaks returns the breaking commits of the given targets announced
// so far.
func (tx *Tx) PostedBreaks(targets []string) (map[BreakID]bool, error) {
	list, err := queryList(tx, func(rows *sql.Rows) (BreakID, error) {
		var id BreakID
		return id, rows.Scan(&id.Target, &id.BadNuttx, &id.BadApps)
	}, `SELECT target, bad_nuttx, bad_apps FROM feed_breaks WHERE target IN (SELECT value FROM json_each(?))`, jsonList(targets))
	if err != nil {
		return nil, fmt.Errorf("feed state: %w", err)
	}
	out := make(map[BreakID]bool, len(list))
	for _, id := range list {
		out[id] = true
	}
	return out, nil
}

// FailureRecord is what the feed records of a failure it announces.
type FailureRecord struct {
	Score float64
	URL   string // the build log
	Msg   string // the whole build message, searchable (failures_fts)
	Note  string // the note announcing it; "" until SetFailureNote
}

// ClaimFailure records a failure as announced. It returns false, changing
// nothing, when the failure was claimed before: the UNIQUE key is what
// makes each failure post once, whoever races for it.
func (tx *Tx) ClaimFailure(id FailureID, r FailureRecord) (bool, error) {
	res, err := tx.exec(`INSERT INTO feed_failures (target, user, nuttx_hash, apps_hash, build, score, url, msg, note, note_id, seen_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT id FROM notes WHERE public_id = ?), ?) ON CONFLICT DO NOTHING`,
		id.Target, id.User, id.NuttxHash, id.AppsHash, id.Build, r.Score, r.URL, r.Msg, r.Note, notePublicID(r.Note), ms(tx.Now))
	if err != nil {
		return false, fmt.Errorf("feed state: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// notePublicID is the public id of the local note with IRI iri: its last
// path segment (urls.Site.Note); "" for "".
func notePublicID(iri string) string {
	if iri == "" {
		return ""
	}
	return iri[strings.LastIndexByte(iri, '/')+1:]
}

// SetFailureNote records the note that announced a claimed failure.
func (tx *Tx) SetFailureNote(id FailureID, note string) error {
	if _, err := tx.exec(`UPDATE feed_failures SET note = ?, note_id = (SELECT id FROM notes WHERE public_id = ?)
		WHERE target = ? AND user = ? AND nuttx_hash = ? AND apps_hash = ? AND build = ?`,
		note, notePublicID(note), id.Target, id.User, id.NuttxHash, id.AppsHash, id.Build); err != nil {
		return fmt.Errorf("feed state: %w", err)
	}
	return nil
}

// MarkFailing records that user fails t (t.Board, t.Config and t.Arch
// describe it), whose thread is t.Thread and latest note t.LastNote. A
// target that was not failing starts an incident.
func (tx *Tx) MarkFailing(t FeedTarget, user string) error {
	now := ms(tx.Now)
	_, err := tx.exec(`INSERT INTO feed_targets (target, board, config, arch, thread, last_note, failing, failing_since, changed_at)
		VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)
		ON CONFLICT (target) DO UPDATE SET thread = excluded.thread, last_note = excluded.last_note,
			arch = CASE WHEN excluded.arch <> '' THEN excluded.arch ELSE feed_targets.arch END,
			failing_since = CASE WHEN feed_targets.failing = 1 THEN feed_targets.failing_since ELSE excluded.failing_since END,
			failing = 1, changed_at = excluded.changed_at`,
		t.Target, t.Board, t.Config, t.Arch, t.Thread, t.LastNote, now, now)
	if err != nil {
		return fmt.Errorf("feed state: %w", err)
	}
	if _, err := tx.exec(`INSERT OR IGNORE INTO feed_failing (target, user, since) VALUES (?, ?, ?)`, t.Target, user, now); err != nil {
		return fmt.Errorf("feed state: %w", err)
	}
	return nil
}

// ClaimBreak records a breaking commit (bad, found after good) as announced
// by note; false, changing nothing, when it was announced before.
func (tx *Tx) ClaimBreak(id BreakID, goodNuttx, goodApps, note string) (bool, error) {
	res, err := tx.exec(`INSERT INTO feed_breaks (target, bad_nuttx, bad_apps, good_nuttx, good_apps, note, seen_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		id.Target, id.BadNuttx, id.BadApps, goodNuttx, goodApps, note, ms(tx.Now))
	if err != nil {
		return false, fmt.Errorf("feed state: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SetBreakNote records the note that announced a claimed break.
func (tx *Tx) SetBreakNote(id BreakID, note string) error {
	if _, err := tx.exec(`UPDATE feed_breaks SET note = ? WHERE target = ? AND bad_nuttx = ? AND bad_apps = ?`,
		note, id.Target, id.BadNuttx, id.BadApps); err != nil {
		return fmt.Errorf("feed state: %w", err)
	}
	return nil
}

// SetLastNote records the latest note about a target, starting its thread
// (not failing) when the target has no state yet.
func (tx *Tx) SetLastNote(t FeedTarget, note string) error {
	_, err := tx.exec(`INSERT INTO feed_targets (target, board, config, arch, thread, last_note, failing, changed_at)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?)
		ON CONFLICT (target) DO UPDATE SET last_note = excluded.last_note, changed_at = excluded.changed_at`,
		t.Target, t.Board, t.Config, t.Arch, note, note, ms(tx.Now))
	if err != nil {
		return fmt.Errorf("feed state: %w", err)
	}
	return nil
}

// RemoveFailingUsers records that users build target again, and returns how
// many of them were failing it.
func (tx *Tx) RemoveFailingUsers(target string, users []string) (int, error) {
	res, err := tx.exec(`DELETE FROM feed_failing WHERE target = ? AND user IN (SELECT value FROM json_each(?))`,
		target, jsonList(users))
	if err != nil {
		return 0, fmt.Errorf("feed state: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Recovery is a target that builds again after failing.
type Recovery struct {
	Target, User, NuttxHash, AppsHash string // the build that recovered it
	Note                              string // the note announcing it; "" when not posted
}

// EndIncident records that r.Target builds again on every host: it is no
// longer failing, and its latest note is r.Note when one was posted.
func (tx *Tx) EndIncident(r Recovery) error {
	if _, err := tx.exec(`UPDATE feed_targets SET failing = 0, failing_since = NULL, changed_at = ?,
		last_note = CASE WHEN ? <> '' THEN ? ELSE last_note END WHERE target = ?`, ms(tx.Now), r.Note, r.Note, r.Target); err != nil {
		return fmt.Errorf("feed state: %w", err)
	}
	if _, err := tx.exec(`INSERT INTO feed_recoveries (target, user, nuttx_hash, apps_hash, note, seen_at) VALUES (?, ?, ?, ?, ?, ?)`,
		r.Target, r.User, r.NuttxHash, r.AppsHash, r.Note, ms(tx.Now)); err != nil {
		return fmt.Errorf("feed state: %w", err)
	}
	return nil
}
