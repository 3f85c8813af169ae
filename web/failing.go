package web

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// The views of what is failing now: the profile's section, and the state
// of the build feed it and the directory (/targets) show, so that an
// empty list from a feed that cannot reach Prometheus does not read as
// "nothing is failing".

// FeedStatus is what the server knows of the build feed that keeps the
// list of failing targets: whether it runs, when it last polled
// Prometheus successfully (in this process: the time is not stored), and
// whether that is too long ago to trust the list.
type FeedStatus struct {
	Enabled  bool      // the server polls Prometheus (--prometheus-url)
	LastPoll time.Time // the last successful poll; zero: none since Started
	Started  time.Time // when this server started
	Stale    bool      // no successful poll for longer than the feed allows
}

// timeFormat is how the feed's times read on the pages: in UTC, without
// the year (they are recent).
const timeFormat = "2 Jan 15:04 MST"

// Fresh reports whether the list can be trusted: the feed runs, has
// polled successfully and not too long ago.
func (f FeedStatus) Fresh() bool { return f.Enabled && !f.LastPoll.IsZero() && !f.Stale }

// Text says, in one sentence, how current the list of failing targets
// is: as of which poll, or why it may be out of date.
func (f FeedStatus) Text() string {
	switch {
	case !f.Enabled:
		return "The build feed is off on this server (no Prometheus URL is set): this list is what it last recorded and may be out of date."
	case f.LastPoll.IsZero():
		return "The build feed has not reached Prometheus since this server started at " + utc(f.Started) + ": this list may be out of date."
	case f.Stale:
		return "The build feed has not reached Prometheus since " + utc(f.LastPoll) + ": this list may be out of date."
	}
	return "As of the last poll of Prometheus, " + utc(f.LastPoll) + "."
}

// utc writes t in UTC as the feed's times read.
func utc(t time.Time) string { return t.UTC().Format(timeFormat) }

// FailingNow is the profile's section on the targets failing now: the
// first rows of the table, how many fail in all, the feed's status and
// the page that lists them all.
type FailingNow struct {
	FailingTable
	Count  int // all the targets failing now
	Feed   FeedStatus
	AllURL string // the /targets page
}

// The build hosts a page shows of a target: at most MaxHostsShown names,
// each at most MaxHostBytes bytes (the feed cuts the user label there
// too; older records may hold longer ones), so that a target failing on
// many hosts, or on hosts of hostile names, keeps its page small.
const (
	MaxHostsShown = 10
	MaxHostBytes  = 100
)

// ShownHosts is what a page lists of hosts: the first MaxHostsShown,
// each cut by HostName, then "and N more" for the rest.
func ShownHosts(hosts []string) []string {
	n := min(len(hosts), MaxHostsShown)
	shown := make([]string, n, n+1)
	for i, h := range hosts[:n] {
		shown[i] = HostName(h)
	}
	if more := len(hosts) - n; more > 0 {
		shown = append(shown, fmt.Sprintf("and %d more", more))
	}
	return shown
}

// HostName is a build host's name as a page shows it: cut at
// MaxHostBytes (on a character boundary) with an ellipsis.
func HostName(h string) string {
	if len(h) <= MaxHostBytes {
		return h
	}
	cut := MaxHostBytes
	for cut > 0 && !utf8.RuneStart(h[cut]) {
		cut--
	}
	return h[:cut] + "…"
}

// ShownHosts is what a thread page lists of the build hosts failing t.
func (t TargetStatus) ShownHosts() []string { return ShownHosts(t.Hosts) }
