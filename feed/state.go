package feed

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
)

// failingTargets lists the targets failing in our state.
func (f *Feed) failingTargets(ctx context.Context) ([]string, error) {
	rows, err := f.db.QueryContext(ctx, `SELECT target FROM feed_targets WHERE failing = 1 ORDER BY target`)
	if err != nil {
		return nil, fmt.Errorf("feed state: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// postedIdentities returns which of the builds' failures were announced
// already, in one query.
func (f *Feed) postedIdentities(ctx context.Context, builds []Build) (map[identity]bool, error) {
	posted := map[identity]bool{}
	if len(builds) == 0 {
		return posted, nil
	}
	targets := map[string]bool{}
	for _, b := range builds {
		targets[b.Target] = true
	}
	list, _ := json.Marshal(sortedKeys(targets))
	rows, err := f.db.QueryContext(ctx, `SELECT target, user, nuttx_hash, apps_hash, build FROM feed_failures
		WHERE target IN (SELECT value FROM json_each(?))`, string(list))
	if err != nil {
		return nil, fmt.Errorf("feed state: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id identity
		if err := rows.Scan(&id.Target, &id.User, &id.NuttxHash, &id.AppsHash, &id.Build); err != nil {
			return nil, err
		}
		posted[id] = true
	}
	return posted, rows.Err()
}

// targetRow is a target's thread and state, read inside a transaction.
type targetRow struct {
	exists  bool
	thread  string
	failing bool
}

func loadTarget(ctx context.Context, tx *sql.Tx, target string) (targetRow, error) {
	var r targetRow
	var failing int
	err := tx.QueryRowContext(ctx, `SELECT thread, failing FROM feed_targets WHERE target = ?`, target).Scan(&r.thread, &failing)
	if errors.Is(err, sql.ErrNoRows) {
		return r, nil
	}
	r.exists, r.failing = err == nil, failing == 1
	return r, err
}

// markFailing records that b's host fails its target, whose thread is
// thread and latest note note; a target that was not failing starts an
// incident.
func markFailing(ctx context.Context, tx *sql.Tx, b Build, thread, note string, now time.Time) error {
	ms := now.UnixMilli()
	_, err := tx.ExecContext(ctx, `INSERT INTO feed_targets (target, board, config, arch, thread, last_note, failing, failing_since, changed_at)
		VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)
		ON CONFLICT (target) DO UPDATE SET thread = excluded.thread, last_note = excluded.last_note,
			arch = CASE WHEN excluded.arch <> '' THEN excluded.arch ELSE feed_targets.arch END,
			failing_since = CASE WHEN feed_targets.failing = 1 THEN feed_targets.failing_since ELSE excluded.failing_since END,
			failing = 1, changed_at = excluded.changed_at`,
		b.Target, b.Board, b.Config, b.Arch, thread, note, ms, ms)
	if err != nil {
		return fmt.Errorf("feed state: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO feed_failing (target, user, since) VALUES (?, ?, ?)`, b.Target, b.User, ms); err != nil {
		return fmt.Errorf("feed state: %w", err)
	}
	return nil
}

// claimFailure records b's identity; false when it was announced already.
func claimFailure(ctx context.Context, tx *sql.Tx, b Build, now time.Time) (int64, bool, error) {
	id := b.identity()
	res, err := tx.ExecContext(ctx, `INSERT INTO feed_failures (target, user, nuttx_hash, apps_hash, build, score, url, note, seen_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, '', ?) ON CONFLICT DO NOTHING`,
		id.Target, id.User, id.NuttxHash, id.AppsHash, id.Build, b.Score, b.URL, now.UnixMilli())
	if err != nil {
		return 0, false, fmt.Errorf("feed state: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, false, nil
	}
	rowID, err := res.LastInsertId()
	return rowID, true, err
}

// apply carries out one action in one transaction: the post and the state
// change commit together, or neither does. It returns whether a note was
// published and whether the state changed without one.
func (f *Feed) apply(ctx context.Context, a action) (posted, changed bool, err error) {
	tx, err := f.db.BeginTx(ctx, nil)
	if err != nil {
		return false, false, err
	}
	defer tx.Rollback()
	posted, changed, err = f.applyIn(ctx, tx, a, f.now())
	if err != nil || (!posted && !changed) {
		return false, false, err
	}
	if err := tx.Commit(); err != nil {
		return false, false, fmt.Errorf("feed: commit: %w", err)
	}
	return posted, changed, nil
}

func (f *Feed) applyIn(ctx context.Context, tx *sql.Tx, a action, now time.Time) (posted, changed bool, err error) {
	switch a.kind {
	case actFailure:
		posted, err = f.applyFailure(ctx, tx, a.builds[0], now)
	case actDigest:
		posted, err = f.applyDigest(ctx, tx, a.builds, now)
	case actBreak:
		posted, err = f.applyBreak(ctx, tx, a.builds[0], a.good, a.bad, now)
	case actRecovery:
		posted, changed, err = f.applyRecovery(ctx, tx, a.target, a.builds, now)
	}
	return posted, changed, err
}

// Planned is a post that a poll would publish now.
type Planned struct {
	InReplyTo string // the thread it would reply to; "" starts a thread
	Text      string // the post as plain text
}

// Preview runs a poll against the real state inside a transaction that it
// rolls back: it returns what would be published, and changes nothing.
func (f *Feed) Preview(ctx context.Context) ([]Planned, error) {
	obs, err := f.observe(ctx)
	if err != nil {
		return nil, err
	}
	actions, err := f.plan(ctx, obs)
	if err != nil {
		return nil, err
	}
	tx, err := f.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rec := &recordingPublisher{Publisher: f.pub}
	dry := *f
	dry.pub = rec
	dry.log = slog.New(slog.DiscardHandler)
	now := f.now()
	for _, a := range actions {
		if _, _, err := dry.applyIn(ctx, tx, a, now); err != nil {
			return nil, err
		}
	}
	return rec.planned, nil
}

// recordingPublisher notes what is published through it.
type recordingPublisher struct {
	Publisher
	planned []Planned
}

func (r *recordingPublisher) PublishTx(ctx context.Context, tx *sql.Tx, username string, p activitypub.Post) (*activitypub.Note, error) {
	r.planned = append(r.planned, Planned{InReplyTo: p.InReplyTo, Text: p.Content.PlainText()})
	return r.Publisher.PublishTx(ctx, tx, username, p)
}

func (f *Feed) publish(ctx context.Context, tx *sql.Tx, c *activitypub.Content, inReplyTo string) (string, error) {
	n, err := f.pub.PublishTx(ctx, tx, f.cfg.Username, activitypub.Post{Content: c, InReplyTo: inReplyTo})
	if err != nil {
		return "", fmt.Errorf("feed: publish: %w", err)
	}
	return f.pub.NoteIRI(n), nil
}

func (f *Feed) applyFailure(ctx context.Context, tx *sql.Tx, b Build, now time.Time) (bool, error) {
	rowID, fresh, err := claimFailure(ctx, tx, b, now)
	if err != nil || !fresh {
		return false, err
	}
	t, err := loadTarget(ctx, tx, b.Target)
	if err != nil {
		return false, err
	}
	regressed := t.exists && !t.failing
	note, err := f.publish(ctx, tx, f.cfg.Format.Failure(b, regressed), t.thread)
	if err != nil {
		return false, err
	}
	thread := t.thread
	if !t.exists {
		thread = note
	}
	if _, err := tx.ExecContext(ctx, `UPDATE feed_failures SET note = ? WHERE id = ?`, note, rowID); err != nil {
		return false, err
	}
	if err := markFailing(ctx, tx, b, thread, note, now); err != nil {
		return false, err
	}
	f.log.Info("feed: failure posted", "target", b.Target, "user", b.User, "nuttx", short(b.NuttxHash), "regressed", regressed, "note", note)
	return true, nil
}

// applyDigest posts one note for a burst; it becomes the thread root of
// every target in it, so their later news replies to the digest.
func (f *Feed) applyDigest(ctx context.Context, tx *sql.Tx, builds []Build, now time.Time) (bool, error) {
	var fresh []Build
	var rowIDs []int64
	for _, b := range builds {
		rowID, ok, err := claimFailure(ctx, tx, b, now)
		if err != nil {
			return false, err
		}
		if ok {
			fresh, rowIDs = append(fresh, b), append(rowIDs, rowID)
		}
	}
	if len(fresh) == 0 {
		return false, nil
	}
	note, err := f.publish(ctx, tx, f.cfg.Format.Digest(fresh), "")
	if err != nil {
		return false, err
	}
	for _, id := range rowIDs {
		if _, err := tx.ExecContext(ctx, `UPDATE feed_failures SET note = ? WHERE id = ?`, note, id); err != nil {
			return false, err
		}
	}
	for _, b := range fresh {
		if err := markFailing(ctx, tx, b, note, note, now); err != nil {
			return false, err
		}
	}
	f.log.Info("feed: digest posted", "failures", len(fresh), "note", note)
	return true, nil
}

func (f *Feed) applyBreak(ctx context.Context, tx *sql.Tx, b Build, good, bad commits, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO feed_breaks (target, bad_nuttx, bad_apps, good_nuttx, good_apps, note, seen_at)
		VALUES (?, ?, ?, ?, ?, '', ?) ON CONFLICT DO NOTHING`, b.Target, bad.Nuttx, bad.Apps, good.Nuttx, good.Apps, now.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("feed state: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	t, err := loadTarget(ctx, tx, b.Target)
	if err != nil {
		return false, err
	}
	note, err := f.publish(ctx, tx, f.cfg.Format.Break(b, good, bad), t.thread)
	if err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE feed_breaks SET note = ? WHERE target = ? AND bad_nuttx = ? AND bad_apps = ?`,
		note, b.Target, bad.Nuttx, bad.Apps); err != nil {
		return false, err
	}
	if t.exists {
		_, err = tx.ExecContext(ctx, `UPDATE feed_targets SET last_note = ?, changed_at = ? WHERE target = ?`, note, now.UnixMilli(), b.Target)
	} else { // a rewind before any failure post: it starts the thread
		_, err = tx.ExecContext(ctx, `INSERT INTO feed_targets (target, board, config, arch, thread, last_note, failing, changed_at)
			VALUES (?, ?, ?, ?, ?, ?, 0, ?)`, b.Target, b.Board, b.Config, b.Arch, note, note, now.UnixMilli())
	}
	if err != nil {
		return false, err
	}
	f.log.Info("feed: breaking commit posted", "target", b.Target, "bad", short(bad.Nuttx), "good", short(good.Nuttx), "note", note)
	return true, nil
}

// applyRecovery removes the hosts that build target again from its failing
// set; when none is left the incident ends, with a "recovered" reply unless
// recoveries are not posted.
func (f *Feed) applyRecovery(ctx context.Context, tx *sql.Tx, target string, builds []Build, now time.Time) (posted, changed bool, err error) {
	var removed int64
	for _, b := range builds {
		res, err := tx.ExecContext(ctx, `DELETE FROM feed_failing WHERE target = ? AND user = ?`, target, b.User)
		if err != nil {
			return false, false, fmt.Errorf("feed state: %w", err)
		}
		n, _ := res.RowsAffected()
		removed += n
	}
	if removed == 0 {
		return false, false, nil
	}
	var remaining int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM feed_failing WHERE target = ?`, target).Scan(&remaining); err != nil {
		return false, false, err
	}
	t, err := loadTarget(ctx, tx, target)
	if err != nil {
		return false, false, err
	}
	if remaining > 0 || !t.failing {
		return false, true, nil
	}
	last := builds[len(builds)-1]
	note := ""
	if f.cfg.PostRecoveries {
		if note, err = f.publish(ctx, tx, f.cfg.Format.Recovery(last), t.thread); err != nil {
			return false, false, err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE feed_targets SET failing = 0, failing_since = NULL, changed_at = ?,
		last_note = CASE WHEN ? <> '' THEN ? ELSE last_note END WHERE target = ?`, now.UnixMilli(), note, note, target); err != nil {
		return false, false, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO feed_recoveries (target, user, nuttx_hash, apps_hash, note, seen_at) VALUES (?, ?, ?, ?, ?, ?)`,
		target, last.User, last.NuttxHash, last.AppsHash, note, now.UnixMilli()); err != nil {
		return false, false, err
	}
	f.log.Info("feed: target recovered", "target", target, "note", note)
	return note != "", note == "", nil
}

// TargetStatus is a failing target, for `nuttx-feed feed status`.
type TargetStatus struct {
	Target string
	Since  time.Time
	Users  []string // failing build hosts
	Thread string   // root note of its thread
}

// Status lists the targets failing now, longest-failing first.
func (f *Feed) Status(ctx context.Context) ([]TargetStatus, error) {
	rows, err := f.db.QueryContext(ctx, `SELECT t.target, COALESCE(t.failing_since, t.changed_at), t.thread,
		COALESCE((SELECT json_group_array(user) FROM feed_failing WHERE target = t.target), '[]')
		FROM feed_targets t WHERE t.failing = 1 ORDER BY 2, 1`)
	if err != nil {
		return nil, fmt.Errorf("feed state: %w", err)
	}
	defer rows.Close()
	var out []TargetStatus
	for rows.Next() {
		var s TargetStatus
		var since int64
		var users string
		if err := rows.Scan(&s.Target, &since, &s.Thread, &users); err != nil {
			return nil, err
		}
		s.Since = time.UnixMilli(since).UTC()
		json.Unmarshal([]byte(users), &s.Users)
		out = append(out, s)
	}
	return out, rows.Err()
}
