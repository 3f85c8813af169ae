package feed

import (
	"context"
	"errors"
	"fmt"

	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// apply carries out planned actions. Each runs in one transaction: the post
// and the state change commit together, or neither does. Every action
// claims what it announces (a UNIQUE insert, or the removal of a failing
// host), so running it twice announces nothing twice.

// applier runs actions inside one transaction.
type applier struct {
	f   *Feed
	tx  *store.Tx
	pub Publisher

	echoes int // notes published by feed accounts (echo.go)
}

// run carries out a and tells whether a note was published and whether the
// state changed without one.
func (ap *applier) run(a action) (posted, changed bool, err error) {
	switch a.kind {
	case actFailure:
		posted, err = ap.failure(a.builds[0], a.regressed)
	case actDigest:
		posted, err = ap.digest(a.builds)
	case actBreak:
		posted, err = ap.breaking(a.builds[0], a.good, a.bad)
	case actRecovery, actHostsRecovered:
		posted, changed, err = ap.recovery(a.recoveries[0])
	case actRecoveryDigest:
		posted, changed, err = ap.recoveryDigest(a.recoveries)
	default:
		err = fmt.Errorf("feed: unknown action %d", a.kind)
	}
	return posted, changed, err
}

// failureText is the text of a failure, for echoes.
func failureText(regressed bool) func(Formatter, Build) *richtext.Content {
	return func(f Formatter, b Build) *richtext.Content { return f.Failure(b, regressed) }
}

// target returns the state of target, or a fresh one describing b.
func (ap *applier) target(b Build) (*store.FeedTarget, bool, error) {
	t, err := ap.tx.FeedTarget(b.Target)
	if errors.Is(err, store.ErrNotFound) {
		return &store.FeedTarget{Target: b.Target, Board: b.Board, Config: b.Config, Arch: b.Arch}, false, nil
	}
	return t, err == nil, err
}

func (ap *applier) failure(b Build, regressed bool) (bool, error) {
	id := b.identity()
	if fresh, err := ap.tx.ClaimFailure(id, b.Record()); err != nil || !fresh {
		return false, err
	}
	t, exists, err := ap.target(b)
	if err != nil {
		return false, err
	}
	note, err := ap.post(ap.f.cfg.Format.Failure(b, regressed), t.Thread, news{builds: []Build{b}, one: failureText(regressed)})
	if err != nil {
		return false, err
	}
	if !exists {
		t.Thread = note
	}
	if err := ap.tx.SetFailureNote(id, note); err != nil {
		return false, err
	}
	t.Arch, t.LastNote = b.Arch, note
	if err := ap.tx.MarkFailing(*t, b.User); err != nil {
		return false, err
	}
	ap.f.log.Info("feed: failure posted", "target", b.Target, "user", b.User, "nuttx", short(b.NuttxHash), "regressed", regressed, "note", note)
	return true, nil
}

// digest posts one note for a burst; it becomes the thread root of every
// target in it, so their later news replies to the digest.
func (ap *applier) digest(builds []Build) (bool, error) {
	var fresh []Build
	for _, b := range builds {
		ok, err := ap.tx.ClaimFailure(b.identity(), b.Record())
		if err != nil {
			return false, err
		}
		if ok {
			fresh = append(fresh, b)
		}
	}
	if len(fresh) == 0 {
		return false, nil
	}
	note, err := ap.post(ap.f.cfg.Format.Digest(fresh), "", news{builds: fresh, one: failureText(false), many: Formatter.Digest, startsThreads: true})
	if err != nil {
		return false, err
	}
	for _, b := range fresh {
		if err := ap.tx.SetFailureNote(b.identity(), note); err != nil {
			return false, err
		}
		t := store.FeedTarget{Target: b.Target, Board: b.Board, Config: b.Config, Arch: b.Arch, Thread: note, LastNote: note}
		if err := ap.tx.MarkFailing(t, b.User); err != nil {
			return false, err
		}
	}
	ap.f.log.Info("feed: digest posted", "failures", len(fresh), "note", note)
	return true, nil
}

func (ap *applier) breaking(b Build, good, bad commits) (bool, error) {
	id := store.BreakID{Target: b.Target, BadNuttx: bad.Nuttx, BadApps: bad.Apps}
	if fresh, err := ap.tx.ClaimBreak(id, good.Nuttx, good.Apps, ""); err != nil || !fresh {
		return false, err
	}
	t, _, err := ap.target(b)
	if err != nil {
		return false, err
	}
	note, err := ap.post(ap.f.cfg.Format.Break(b, good, bad), t.Thread, news{builds: []Build{b}, one: func(f Formatter, b Build) *richtext.Content { return f.Break(b, good, bad) }})
	if err != nil {
		return false, err
	}
	if err := ap.tx.SetBreakNote(id, note); err != nil {
		return false, err
	}
	// A rewind before any failure post starts the target's thread.
	if err := ap.tx.SetLastNote(*t, note); err != nil {
		return false, err
	}
	ap.f.log.Info("feed: breaking commit posted", "target", b.Target, "bad", short(bad.Nuttx), "good", short(good.Nuttx), "note", note)
	return true, nil
}

// recovered removes the hosts of r from its target's failing set and tells
// whether none is left, ending the incident.
func (ap *applier) recovered(r recovery) (removed bool, ended bool, t *store.FeedTarget, err error) {
	n, err := ap.tx.RemoveFailingUsers(r.target, r.users)
	if err != nil || n == 0 {
		return false, false, nil, err
	}
	t, err = ap.tx.FeedTarget(r.target)
	if err != nil {
		return false, false, nil, err
	}
	return true, t.Failing && len(t.FailingUsers) == 0, t, nil
}

// recovery ends an incident when every failing host of its target builds
// again, with a "recovered" reply unless recoveries are not posted; when
// some hosts still fail, it only records those that recovered.
func (ap *applier) recovery(r recovery) (posted, changed bool, err error) {
	removed, ended, t, err := ap.recovered(r)
	if err != nil || !removed {
		return false, false, err
	}
	if !ended {
		return false, true, nil
	}
	note := ""
	if ap.f.cfg.PostRecoveries {
		if note, err = ap.post(ap.f.cfg.Format.Recovery(r.last), t.Thread, news{builds: []Build{r.last}, one: Formatter.Recovery}); err != nil {
			return false, false, err
		}
	}
	if err := ap.tx.EndIncident(recoveryRecord(r, note)); err != nil {
		return false, false, err
	}
	ap.f.log.Info("feed: target recovered", "target", r.target, "note", note)
	return note != "", note == "", nil
}

// recoveryDigest announces a burst of recoveries in one note: a reply to
// the targets' common thread (their failure digest) when they share one,
// else a post of its own.
func (ap *applier) recoveryDigest(rs []recovery) (posted, changed bool, err error) {
	var ended []recovery
	var builds []Build
	threads := map[string]bool{}
	for _, r := range rs {
		removed, end, t, err := ap.recovered(r)
		if err != nil {
			return false, false, err
		}
		changed = changed || removed
		if end {
			ended, builds = append(ended, r), append(builds, r.last)
			threads[t.Thread] = true
		}
	}
	if len(ended) == 0 {
		return false, changed, nil
	}
	inReplyTo := ""
	if len(threads) == 1 {
		for t := range threads {
			inReplyTo = t
		}
	}
	note, err := ap.post(ap.f.cfg.Format.RecoveryDigest(builds), inReplyTo, news{builds: builds, one: Formatter.Recovery, many: Formatter.RecoveryDigest})
	if err != nil {
		return false, false, err
	}
	for _, r := range ended {
		if err := ap.tx.EndIncident(recoveryRecord(r, note)); err != nil {
			return false, false, err
		}
	}
	ap.f.log.Info("feed: recoveries posted", "targets", len(ended), "note", note)
	return true, false, nil
}

func recoveryRecord(r recovery, note string) store.Recovery {
	return store.Recovery{Target: r.target, User: r.last.User, NuttxHash: r.last.NuttxHash, AppsHash: r.last.AppsHash, Note: note}
}

// applyAll runs each action in its own transaction.
func (f *Feed) applyAll(ctx context.Context, actions []action) (Result, error) {
	var res Result
	for _, a := range actions {
		var posted, changed bool
		echoes := 0
		err := f.store.Update(ctx, func(tx *store.Tx) (err error) {
			ap := &applier{f: f, tx: tx, pub: f.pub}
			posted, changed, err = ap.run(a)
			echoes = ap.echoes
			return err
		})
		if err != nil {
			return res, err
		}
		res.Echoes += echoes
		if posted {
			res.Posts++
		} else if changed {
			res.StateChanges++
		}
	}
	return res, nil
}
