package feed

import (
	"fmt"
	"sort"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// A burst: more alerts than the feed's burst threshold (--burst-threshold)
// would post from one notification (a rule firing on every instance, a
// site going down). One post each would flood followers' timelines, and
// queueing thousands of deliveries would hold the store's write lock for
// as long (the attack review measured a minute for 1,000 alerts and 2,000
// inboxes). As the build feed's digest does, one post lists them instead:
// a thread root that becomes the thread of the alerts it opens; alerts
// that had a thread keep it, and their next news replies there.

// tmplBurst is the template of a burst's post.
const tmplBurst = "burst"

// burstView is what the burst template sees.
type burstView struct {
	Total        int         // alerts the post is about
	Alerts       []burstLine // the first of them, as many as fit --max-chars
	More         int         // the others
	Receiver     string      // Alertmanager's receiver
	DashboardURL string      // Alertmanager's page
}

// burstLine is one alert of a burst: how it changed, and its view.
type burstLine struct {
	Change string // Firing, Firing again, Resolved after 1h 5m
	alertView
}

// changeOf says how act changes its alert, for a burst's line.
func changeOf(act alertAction, v alertView) string {
	switch act.kind {
	case alertRefire:
		return "Firing again"
	case alertResolve:
		return "Resolved after " + v.Duration
	}
	return "Firing"
}

// posting counts the actions that post.
func posting(actions []alertAction) int {
	n := 0
	for _, act := range actions {
		if act.kind != alertRecord {
			n++
		}
	}
	return n
}

// applyBurst publishes one post about every posting action, then saves
// the state of every action in tx.
func (f *Feed) applyBurst(tx *store.Tx, n AlertNotification, actions []alertAction) (AlertResult, error) {
	view := burstView{Receiver: n.Receiver, DashboardURL: n.ExternalURL}
	for _, act := range actions {
		if act.kind != alertRecord {
			v := viewOf(n, act.alert)
			view.Alerts = append(view.Alerts, burstLine{Change: changeOf(act, v), alertView: v})
		}
	}
	view.Total = len(view.Alerts)
	content, err := f.cfg.AlertTemplates.burstContent(view, f.cfg.Format)
	if err != nil {
		return AlertResult{}, err
	}
	note, err := f.pub.Publish(tx, f.cfg.Username, activitypub.Post{Content: content})
	if err != nil {
		return AlertResult{}, fmt.Errorf("publish: %w", err)
	}
	iri := f.pub.NoteIRI(note)
	res := AlertResult{Posts: 1}
	for _, act := range actions {
		next := nextState(act)
		if act.kind == alertRecord {
			res.StateChanges++
		} else {
			next.LastNote = iri
			if next.Thread == "" {
				next.Thread = iri
			}
		}
		if err := tx.SaveAlert(next); err != nil {
			return AlertResult{}, err
		}
	}
	f.log.Info("alert burst", "alerts", view.Total, "receiver", n.Receiver, "note", iri)
	return res, nil
}

// burstContent renders v as a post that counts at most fm.MaxChars: it
// lists as many of v's alerts as fit (found by bisection: a burst may
// hold a thousand), and counts the others in More.
func (at *AlertTemplates) burstContent(v burstView, fm Formatter) (*richtext.Content, error) {
	all := v.Alerts
	render := func(k int) (*richtext.Content, error) {
		v.Alerts, v.More = all[:k], len(all)-k
		text, err := at.render(tmplBurst, v)
		return richtext.Parse(text), err
	}
	c, err := render(len(all))
	if err != nil || fm.MaxChars <= 0 || c.Length() <= fm.MaxChars {
		return c, err
	}
	fits := sort.Search(len(all), func(k int) bool { // the first k that does not fit, past 0
		c, err := render(k + 1)
		return err != nil || c.Length() > fm.MaxChars
	})
	return render(fits)
}
