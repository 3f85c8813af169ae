package feed

import (
	"context"
	"fmt"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// Alerts from Prometheus Alertmanager: each alert, by fingerprint, has a
// thread. planAlerts decides on paper (pure, table-tested) what one
// notification publishes given the stored state of its alerts, and
// ReceiveAlerts reads that state, plans and publishes in one transaction of
// the store: every post of a notification and its state commit together,
// or none does.
//
// The rules, per alert (an episode is one startsAt):
//   - firing, never seen: a thread root ("firing").
//   - firing with the startsAt stored, or an older one: a repeat
//     (Alertmanager resends every repeat_interval) or a late notification:
//     nothing.
//   - firing with a newer startsAt: a new episode, a reply "firing again"
//     in its thread (a root when nothing was posted about it yet); a
//     resolution missed in between is not made up.
//   - resolved while stored as firing (this episode or a newer one): a
//     reply "resolved after <duration>".
//   - a reply whose thread root was deleted (by an admin or the API) is
//     a new root instead, and the alert's thread from then on.
//   - resolved, never seen or stored as resolved: recorded, nothing posted:
//     nobody saw it fire here, so its end is no news; and a late firing
//     notification of that episode then posts nothing either.

// alertActionKind is what an alertAction does.
type alertActionKind int

const (
	alertOpen    alertActionKind = iota // the first post of an alert: a thread root
	alertRefire                         // firing again: a reply in its thread
	alertResolve                        // resolved: a reply in its thread
	alertRecord                         // resolved unannounced: state only
)

// alertAction is one alert's change: a post and its new state, or the
// state alone.
type alertAction struct {
	kind  alertActionKind
	alert Alert
	prev  *store.Alert // the stored state; nil when never seen
}

// planAlerts returns what n changes, in the order of its alerts, given the
// stored state of its alerts by fingerprint. Alerts that change nothing
// have no action.
func planAlerts(states map[string]*store.Alert, n AlertNotification) []alertAction {
	var actions []alertAction
	for _, a := range n.Alerts {
		prev := states[a.Fingerprint]
		if kind, ok := planAlert(prev, a); ok {
			actions = append(actions, alertAction{kind: kind, alert: a, prev: prev})
		}
	}
	return actions
}

// planAlert applies the rules above to one alert.
func planAlert(prev *store.Alert, a Alert) (alertActionKind, bool) {
	newer := prev == nil || a.StartsAt.After(prev.StartsAt)
	switch {
	case a.Status == AlertFiring && prev == nil:
		return alertOpen, true
	case a.Status == AlertFiring && newer && prev.Thread == "":
		return alertOpen, true
	case a.Status == AlertFiring && newer:
		return alertRefire, true
	case a.Status == AlertResolved && prev != nil && prev.Firing && !a.StartsAt.Before(prev.StartsAt):
		return alertResolve, true
	case a.Status == AlertResolved && newer:
		return alertRecord, true
	}
	return 0, false
}

// AlertResult tells what a notification did.
type AlertResult struct {
	Posts        int // notes published
	StateChanges int // alerts recorded without a post
}

// ReceiveAlerts publishes what the notification n changes, in one
// transaction: it posts all of it or, on an error, nothing. Past the
// burst threshold, one post tells it all (alertburst.go).
func (f *Feed) ReceiveAlerts(ctx context.Context, n AlertNotification) (AlertResult, error) {
	fingerprints := make([]string, len(n.Alerts))
	for i, a := range n.Alerts {
		fingerprints[i] = a.Fingerprint
	}
	var res AlertResult
	err := f.store.Update(ctx, func(tx *store.Tx) error {
		res = AlertResult{}
		states, err := tx.Alerts(fingerprints)
		if err != nil {
			return err
		}
		actions := planAlerts(states, n)
		if posting(actions) > f.cfg.BurstThreshold {
			res, err = f.applyBurst(tx, n, actions)
			return err
		}
		for _, act := range actions {
			posted, err := f.applyAlert(tx, n, act)
			if err != nil {
				return fmt.Errorf("alert %s (%s): %w", act.alert.Fingerprint, act.alert.Name(), err)
			}
			if posted {
				res.Posts++
			} else {
				res.StateChanges++
			}
		}
		return nil
	})
	if err != nil {
		return AlertResult{}, err
	}
	return res, nil
}

// postAlert publishes the text tmpl of v, cut to the feed's MaxChars,
// as a reply to the root of next's thread, and records the note in next.
// With no root, or a root that was deleted (a reply to it would be an
// orphan), the note is a new root: the alert's thread from now on.
func (f *Feed) postAlert(tx *store.Tx, next *store.Alert, tmpl string, v alertView) error {
	if next.Thread != "" {
		stands, err := f.pub.NoteStands(tx, next.Thread)
		if err != nil {
			return fmt.Errorf("thread root: %w", err)
		}
		if !stands {
			next.Thread = ""
		}
	}
	content, err := f.cfg.AlertTemplates.content(tmpl, v, f.cfg.Format)
	if err != nil {
		return err
	}
	note, err := f.pub.Publish(tx, f.cfg.Username, activitypub.Post{Content: content, InReplyTo: next.Thread})
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	next.LastNote = f.pub.NoteIRI(note)
	if next.Thread == "" {
		next.Thread = next.LastNote
	}
	return nil
}

// nextState is the stored state of act's alert after it, its thread and
// last note as they were.
func nextState(act alertAction) store.Alert {
	a := act.alert
	next := store.Alert{Fingerprint: a.Fingerprint, Name: a.Name(), Firing: a.Status == AlertFiring, StartsAt: a.StartsAt, EndsAt: a.EndsAt}
	if act.prev != nil {
		next.Thread, next.LastNote = act.prev.Thread, act.prev.LastNote
	}
	return next
}

// applyAlert carries out one action in tx and tells whether it posted.
func (f *Feed) applyAlert(tx *store.Tx, n AlertNotification, act alertAction) (bool, error) {
	a := act.alert
	next := nextState(act)
	tmpl := map[alertActionKind]string{alertOpen: tmplFiring, alertRefire: tmplRefiring, alertResolve: tmplResolved}[act.kind]
	if tmpl != "" {
		if err := f.postAlert(tx, &next, tmpl, viewOf(n, a)); err != nil {
			return false, err
		}
	}
	if err := tx.SaveAlert(next); err != nil {
		return false, err
	}
	f.log.Info("alert", "fingerprint", a.Fingerprint, "name", a.Name(), "status", a.Status, "posted", tmpl != "", "note", next.LastNote)
	return tmpl != "", nil
}
