package web

import (
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// The views of the pages about build targets: the table of targets failing
// now on the profile page, and the target page.

// FailingRow is a target failing now, as the profile page lists it.
type FailingRow struct {
	Target, Arch string
	Since        time.Time
	Hosts        []string
	Excerpt      string // the first lines of its latest build error
	PageURL      string // its target page
	LogURL       string // the latest failure's build log; "" for none
	HistoryURL   string // its build history elsewhere; "" for none
	ThreadURL    string // its thread here; "" for none
}

// FailingTable is the profile page's table of targets failing now, in
// natural order; More counts those left out to bound the page.
type FailingTable struct {
	Rows []FailingRow
	More int
}

// CommitLink is a commit linked to its page on GitHub.
type CommitLink struct {
	Repo, Short, URL string
}

// CommitLinks links the nuttx and nuttx-apps commits that are known.
func CommitLinks(nuttx, apps string) []CommitLink {
	var out []CommitLink
	for _, c := range []struct{ repo, hash, base string }{
		{"nuttx", nuttx, "https://github.com/apache/nuttx/commit/"},
		{"apps", apps, "https://github.com/apache/nuttx-apps/commit/"},
	} {
		if c.hash != "" {
			out = append(out, CommitLink{Repo: c.repo, Short: shortHash(c.hash), URL: c.base + c.hash})
		}
	}
	return out
}

// shortHash is a commit's first 7 characters, as git shows it.
func shortHash(h string) string {
	if len(h) > 7 {
		return h[:7]
	}
	return h
}

// FailureRow is one failure on a target page.
type FailureRow struct {
	Seen    time.Time
	User    string
	Commits []CommitLink
	Build   string // the build's label when both commits are unknown
	Excerpt string
	LogURL  string
	NoteURL string // "" when no note of its own announced it
}

// RecoveryRow is one recovery on a target page.
type RecoveryRow struct {
	Seen    time.Time
	User    string
	Commits []CommitLink
	NoteURL string
}

// BreakRow is one breaking commit on a target page.
type BreakRow struct {
	Seen      time.Time
	Bad, Good []CommitLink
	NoteURL   string
}

// TargetPage is /targets/{board}:{config}.
type TargetPage struct {
	Page
	Profile      ProfileView
	Target, Arch string
	Failing      bool
	Since        time.Time
	FailingHosts []string
	ThreadURL    string
	HistoryURL   string
	FeedURL      string
	Failures     []FailureRow
	FailureCount int // all failures, listed or not
	Recoveries   []RecoveryRow
	Breaks       []BreakRow
	Hosts        []store.TargetHost
	MoreHosts    int // build hosts left out of Hosts
	Incidents    int // ended and ongoing
	FailedFor    time.Duration
}

// FailedForText is the time the target spent failing, in words.
func (p TargetPage) FailedForText() string { return HumanDuration(p.FailedFor) }

// HumanDuration writes d as "3d 4h 5m", to the minute ("under a minute"
// under one, and for a negative d: a time a skewed clock put in the
// future).
func HumanDuration(d time.Duration) string {
	m := int64(max(d, 0) / time.Minute)
	if m == 0 {
		return "under a minute"
	}
	days, hours, mins := m/(24*60), m/60%24, m%60
	var parts []string
	if days > 0 {
		parts = append(parts, fmt.Sprintf("%dd", days))
	}
	if hours > 0 {
		parts = append(parts, fmt.Sprintf("%dh", hours))
	}
	if mins > 0 {
		parts = append(parts, fmt.Sprintf("%dm", mins))
	}
	return strings.Join(parts, " ")
}

// TargetStatus is a build target as a thread page shows it: failing
// since when and on which build hosts, or building again.
type TargetStatus struct {
	Target  string // "board:config"
	URL     string // its page
	Failing bool
	Since   time.Time // when it started failing
	Hosts   []string  // the build hosts failing it
}

// FailureExcerpt is what a page shows of a failure's error: the start of
// its stored build message, else (a failure recorded before messages were
// kept) the first code block of the note that announced it, at most
// maxLines lines and maxBytes bytes as the page writes them (escaped),
// ending in "…" when cut; indentation stays. "" when there is neither.
func FailureExcerpt(msg, noteContent string, maxLines, maxBytes int) string {
	if msg != "" {
		return linesExcerpt(msg, maxLines, maxBytes)
	}
	return CodeExcerpt(noteContent, maxLines, maxBytes)
}

// CodeExcerpt returns the first code block of a note's HTML as text, cut
// as linesExcerpt cuts; "" when the note has no code block.
func CodeExcerpt(content string, maxLines, maxBytes int) string {
	_, rest, ok := strings.Cut(content, "<pre><code>")
	if !ok {
		return ""
	}
	code, _, _ := strings.Cut(rest, "</code></pre>")
	return linesExcerpt(html.UnescapeString(code), maxLines, maxBytes)
}

// linesExcerpt returns text cut to at most maxLines lines and maxBytes
// bytes once escaped for the page (escapedLen), ending in "…" when cut.
// Compiler output quotes C ("&&", "->"), which escaping makes longer.
func linesExcerpt(text string, maxLines, maxBytes int) string {
	lines := strings.Split(text, "\n")
	cut := len(lines) > maxLines
	if cut {
		lines = lines[:maxLines]
	}
	text = strings.Join(lines, "\n")
	used := 0
	for i, r := range text {
		if used += escapedLen(r); used > maxBytes {
			text, cut = text[:i], true
			break
		}
	}
	if cut {
		return strings.TrimRight(text, " \n") + "…"
	}
	return text
}
