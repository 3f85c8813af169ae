package feed

import (
	"strings"
	"unicode/utf8"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// AccountProfile writes the profile of the feed account a (a board, a
// board:config target or an architecture): what it posts and where the
// rest is, with links to its build history (a target's; the dashboard for
// the others), the NuttX dashboard, the directory of accounts (/targets)
// and the firehose, the account firehose that posts everything. Its
// visibility is left empty: the store reads the firehose's.
func AccountProfile(f Formatter, site urls.Site, firehose string, a store.FeedAccount) activitypub.Profile {
	subject, what := accountSubject(a)
	p := activitypub.Profile{Username: a.Username, DisplayName: accountName(subject)}
	history := ""
	if a.Kind == store.KindTarget {
		history = f.History(Build{Target: a.Target, Board: a.Board, Config: a.Config})
	}
	var fields []store.Field
	addField := func(name, url string) {
		if strings.HasPrefix(url, "https://") || strings.HasPrefix(url, "http://") {
			fields = append(fields, store.Field{Name: name, URL: url})
		}
	}
	addField("Build history", history)
	addField("Dashboard", f.DashboardURL)
	addField("All accounts", site.Failing())
	addField("Every build", site.Profile(firehose))
	p.Fields = fields

	intro := "Failed builds, breaking commits and recoveries of " + what + " from the NuttX build farm, one thread per target."
	firehoseLine := " Every target's builds: @" + site.Handle(firehose) + " " + site.Profile(firehose)
	summary := intro + firehoseLine
	if history != "" {
		summary = intro + " Build history: " + history + "." + firehoseLine
	}
	if utf8.RuneCountInString(summary) > activitypub.MaxSummary { // a long history URL goes first
		summary = intro + firehoseLine
	}
	p.Summary = cutRunes(summary, activitypub.MaxSummary)
	return p
}

// accountSubject returns what a feed account is about, as its name shows
// it (rv-virt:citest, rv-virt, risc-v) and as its bio says it.
func accountSubject(a store.FeedAccount) (subject, what string) {
	switch a.Kind {
	case store.KindTarget:
		return a.Target, "the NuttX target " + a.Target
	case store.KindArch:
		return a.Arch, "every NuttX target of the " + a.Arch + " architecture"
	default:
		return a.Board, "every configuration of the NuttX board " + a.Board
	}
}

// accountName is "SUBJECT builds", or the subject alone when that is too
// long for a display name, cut to MaxDisplayName characters at most (an
// empty label shows as "(none)").
func accountName(subject string) string {
	if strings.TrimSpace(subject) == "" {
		subject = "(none)"
	}
	if name := subject + " builds"; utf8.RuneCountInString(name) <= activitypub.MaxDisplayName {
		return name
	}
	return cutRunes(subject, activitypub.MaxDisplayName)
}

// cutRunes returns s cut to at most n characters (runes).
func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
