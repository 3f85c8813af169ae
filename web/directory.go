package web

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

// The views of the directory of the feed's accounts (/targets) and of the
// profile page of a board's, target's or architecture's account.

// KindNames names the kinds of feed account as the pages write them.
var KindNames = map[string]string{"arch": "Architecture", "board": "Board", "target": "Target"}

// DirectoryRow is an account as the directory lists it.
type DirectoryRow struct {
	Kind      string // "arch", "board" or "target"
	Label     string // what it stands for: an architecture, a board, a board:config target
	Arch      string // a target's architecture; "" when unknown or not a target
	Handle    string // @user@host, to copy; "" when it has no account
	Followers int
	Targets   int // a board's or architecture's targets
	Failing   int // of those, how many fail now; a target: 1 when it fails
	Since     time.Time
	Hosts     []string // the build hosts failing a target (ShownHosts)
	// Links: its profile page, the target's page ("" when the feed
	// recorded nothing of it), the directory of a board's or
	// architecture's targets, and a failing target's latest build log,
	// build history and thread ("" for none).
	ProfileURL, PageURL, TargetsURL string
	LogURL, HistoryURL, ThreadURL   string
	KindName                        string // KindNames[Kind]
	FailingFor                      string // how long a failing target has failed, in words
}

// StateText says in words how a board or an architecture builds
// (TargetsState); a target's state is its time.
func (r DirectoryRow) StateText() string { return TargetsState(r.Failing, r.Targets) }

// TargetsState says in words how targets of a board or an architecture
// build, failing of them failing now, in the one form both the directory
// and the profile write: "1 of 2 targets failing", or "ok: 2 targets".
func TargetsState(failing, targets int) string {
	if failing == 0 {
		return fmt.Sprintf("ok: %d %s", targets, Plural(targets, "target", "targets"))
	}
	return fmt.Sprintf("%d of %d %s failing", failing, targets, Plural(targets, "target", "targets"))
}

// Plural is one when n is 1, else many.
func Plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// BreakableHandle is handle h as HTML that a narrow column wraps only
// after its ".", "-" and "@" (a <wbr> after each), never inside a word;
// its text, as a click selects and copies it, is h.
func BreakableHandle(h string) template.HTML {
	var b strings.Builder
	for _, r := range h {
		b.WriteString(template.HTMLEscapeString(string(r)))
		if r == '.' || r == '-' || r == '@' {
			b.WriteString("<wbr>")
		}
	}
	return template.HTML(b.String()) // escaped above
}

// DirectoryChoice is an option of one of the directory form's selects.
type DirectoryChoice struct {
	Value, Label string
	Selected     bool
}

// DirectoryPage is /targets: the directory of the accounts of
// architectures, boards and targets, searched and filtered on the server,
// a page of it.
type DirectoryPage struct {
	Page
	Profile ProfileView
	Status  FeedStatus // the build feed's: how current the states are
	// The search as asked: the words, the kind ("" for all), failing
	// only, and the board or architecture whose targets alone are listed
	// (its handle; "" for none).
	Search, Kind, Of string
	FailingOnly      bool
	Kinds, States    []DirectoryChoice // the form's choices, the asked one selected
	Rows             []DirectoryRow    // this page's
	Count            int               // all the accounts the search found
	First            int               // the position of Rows[0] among them, from 1
	PrevURL, NextURL string            // the previous and next pages, "" for none
	PageNum          int               // this page, from 1
	PageLast         int               // the last page
	AllURL           string            // the directory without a search
	FormURL          string            // the search form's action, by path
	OfHandle         string            // Of as @user@host
}

// Last is the position of the page's last row among all.
func (p DirectoryPage) Last() int { return p.First + len(p.Rows) - 1 }

// Searched reports whether the page shows a search or a filter rather
// than the whole directory.
func (p DirectoryPage) Searched() bool {
	return p.Search != "" || p.Kind != "" || p.Of != "" || p.FailingOnly
}

// Heading is the page's h2: "Failing now (N)" for the failing targets,
// else "Accounts (N)".
func (p DirectoryPage) Heading() string {
	if p.FailingOnly && p.Kind == "target" && p.Search == "" && p.Of == "" {
		return fmt.Sprintf("Failing now (%d)", p.Count)
	}
	return fmt.Sprintf("Accounts (%d)", p.Count)
}

// FeedAccountView is what the profile of a board's, target's or
// architecture's account shows of what it follows.
type FeedAccountView struct {
	Kind, KindName string
	Label          string // its architecture, board or board:config target
	// A target's state and history as its target page shows them (the
	// latest of each list); nil when the feed recorded nothing of it.
	Target  *TargetPage
	PageURL string // the target's page; "" for none
	// A board's or architecture's targets, failing first (bounded): how
	// many in all, of them failing, and those left out.
	Targets              []DirectoryRow
	Count, Failing, More int
	TargetsURL           string // the directory of its targets
	DirectoryURL         string // the whole directory
}

// ThreadLink is a target's thread on the firehose, linked.
type ThreadLink struct {
	Target, URL string
}

// FailingThreads lists the firehose's threads of the targets failing now
// that the view shows: a target's own, a board's or architecture's listed
// ones; nil when none fails (or the feed recorded no thread).
func (v FeedAccountView) FailingThreads() []ThreadLink {
	var out []ThreadLink
	if t := v.Target; t != nil && t.Failing && t.ThreadURL != "" {
		out = append(out, ThreadLink{Target: t.Target, URL: t.ThreadURL})
	}
	for _, r := range v.Targets {
		if r.Failing > 0 && r.ThreadURL != "" {
			out = append(out, ThreadLink{Target: r.Label, URL: r.ThreadURL})
		}
	}
	return out
}

// MoreFailing counts the targets failing now whose threads
// FailingThreads leaves out (a board's or architecture's beyond those the
// page lists, or without a thread).
func (v FeedAccountView) MoreFailing() int {
	if v.Target != nil {
		return 0
	}
	return max(0, v.Failing-len(v.FailingThreads()))
}

// StateText says how a board's or an architecture's targets build, as
// the directory's row of it says (TargetsState).
func (v FeedAccountView) StateText() string { return TargetsState(v.Failing, v.Count) }
