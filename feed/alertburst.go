package feed

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/natsort"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// A burst: more alerts than the feed's burst threshold (--burst-threshold)
// would post from one notification (a rule firing on every instance, a
// site going down). One post each would flood followers' timelines, and
// queueing thousands of deliveries would hold the store's write lock for
// as long (the attack review measured a minute for 1,000 alerts and 2,000
// inboxes). As the build feed's digest does, one post tells it all. When
// every alert it is about has the same thread (a burst resolving), it
// replies there; else it is a root, and the thread of the alerts it opens.
// Alerts that had a thread keep it: their next news replies there.

// tmplBurst is the template of a burst's post.
const tmplBurst = "burst"

// The kinds of change of a burst's alerts, as its lines name them.
const (
	changeFiring   = "Firing"
	changeRefiring = "Firing again"
	changeResolved = "Resolved"
)

// burstView is what the burst template sees.
type burstView struct {
	Total                      int          // alerts the post is about
	Firing, Refiring, Resolved int          // of them, by change
	Changes                    string       // the same in words: 12 firing, 1 resolved
	Groups                     []burstGroup // the first alerts, as many as fit --max-chars
	More                       int          // the others
	Receiver                   string       // Alertmanager's receiver
	DashboardURL               string       // Alertmanager's page
}

// burstGroup is the alerts of a burst with one change, name and severity,
// in natural order of their summaries (runner-2 before runner-10).
type burstGroup struct {
	Change, Name, Severity string
	Alerts                 []alertView // .Duration tells how long a resolved one fired
}

// burstAlert is one alert of a burst: its change and its view.
type burstAlert struct {
	change string
	view   alertView
}

// changeOf names how act changes its alert.
func changeOf(act alertAction) string {
	switch act.kind {
	case alertRefire:
		return changeRefiring
	case alertResolve:
		return changeResolved
	}
	return changeFiring
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

// burstAlerts returns the alerts of the posting actions, ordered as the
// post lists them: by change, name, severity, then summary and labels in
// natural order.
func burstAlerts(n AlertNotification, actions []alertAction) []burstAlert {
	var out []burstAlert
	for _, act := range actions {
		if act.kind != alertRecord {
			out = append(out, burstAlert{change: changeOf(act), view: viewOf(n, act.alert)})
		}
	}
	order := map[string]int{changeFiring: 0, changeRefiring: 1, changeResolved: 2}
	slices.SortStableFunc(out, func(a, b burstAlert) int {
		return cmp.Or(cmp.Compare(order[a.change], order[b.change]), natsort.Compare(a.view.Name, b.view.Name),
			natsort.Compare(a.view.Severity, b.view.Severity), natsort.Compare(a.view.Summary, b.view.Summary),
			natsort.Compare(labelText(a.view), labelText(b.view)))
	})
	return out
}

// labelText is the alert's other labels as one string, to order by.
func labelText(v alertView) string {
	parts := make([]string, len(v.OtherLabels))
	for i, l := range v.OtherLabels {
		parts[i] = l.Name + "=" + l.Value
	}
	return strings.Join(parts, ",")
}

// groupBurst groups alerts (in burstAlerts' order) by change, name and
// severity.
func groupBurst(alerts []burstAlert) []burstGroup {
	var groups []burstGroup
	for _, a := range alerts {
		last := len(groups) - 1
		if last < 0 || groups[last].Change != a.change || groups[last].Name != a.view.Name || groups[last].Severity != a.view.Severity {
			groups = append(groups, burstGroup{Change: a.change, Name: a.view.Name, Severity: a.view.Severity})
			last++
		}
		groups[last].Alerts = append(groups[last].Alerts, a.view)
	}
	return groups
}

// burstThread is the thread a burst replies in: the one every alert of
// actions that posts has, when that thread's root stands; else "" (a new
// root).
func (f *Feed) burstThread(tx *store.Tx, actions []alertAction) (string, error) {
	thread := ""
	for _, act := range actions {
		if act.kind == alertRecord {
			continue
		}
		if act.prev == nil || act.prev.Thread == "" || (thread != "" && act.prev.Thread != thread) {
			return "", nil
		}
		thread = act.prev.Thread
	}
	stands, err := f.pub.NoteStands(tx, thread)
	if err != nil || !stands {
		return "", err
	}
	return thread, nil
}

// applyBurst publishes one post about every posting action, then saves
// the state of every action in tx.
func (f *Feed) applyBurst(tx *store.Tx, n AlertNotification, actions []alertAction) (AlertResult, error) {
	alerts := burstAlerts(n, actions)
	view := burstView{Total: len(alerts), Receiver: n.Receiver, DashboardURL: n.ExternalURL}
	for _, a := range alerts {
		switch a.change {
		case changeFiring:
			view.Firing++
		case changeRefiring:
			view.Refiring++
		default:
			view.Resolved++
		}
	}
	view.Changes = countsText(view)
	content, err := f.cfg.AlertTemplates.burstContent(view, alerts, f.cfg.Format)
	if err != nil {
		return AlertResult{}, err
	}
	thread, err := f.burstThread(tx, actions)
	if err != nil {
		return AlertResult{}, fmt.Errorf("thread root: %w", err)
	}
	note, err := f.pub.Publish(tx, f.cfg.Username, activitypub.Post{Content: content, InReplyTo: thread})
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
	f.log.Info("alert burst", "alerts", view.Total, "receiver", n.Receiver, "note", iri, "in_reply_to", thread)
	return res, nil
}

// countsText says how many alerts of v changed how: "12 firing, 1
// resolved".
func countsText(v burstView) string {
	var parts []string
	for _, c := range []struct {
		n    int
		what string
	}{{v.Firing, "firing"}, {v.Refiring, "firing again"}, {v.Resolved, "resolved"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	return strings.Join(parts, ", ")
}

// burstContent renders v, with alerts grouped, as a post that counts at
// most fm.MaxChars: it lists as many of the alerts as fit (found by
// bisection: a burst may hold a thousand), and counts the others in More.
func (at *AlertTemplates) burstContent(v burstView, alerts []burstAlert, fm Formatter) (*richtext.Content, error) {
	render := func(k int) (*richtext.Content, error) {
		v.Groups, v.More = groupBurst(alerts[:k]), len(alerts)-k
		text, err := at.render(tmplBurst, v)
		return richtext.Parse(text), err
	}
	c, err := render(len(alerts))
	if err != nil || fm.MaxChars <= 0 || c.Length() <= fm.MaxChars {
		return c, err
	}
	fits := sort.Search(len(alerts), func(k int) bool { // the first k that does not fit, past 0
		c, err := render(k + 1)
		return err != nil || c.Length() > fm.MaxChars
	})
	return render(fits)
}
