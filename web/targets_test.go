package web

import (
	"testing"
	"time"
)

// TestHumanDuration: durations read in days, hours and minutes.
func TestHumanDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0:                            "under a minute",
		59 * time.Second:             "under a minute",
		time.Minute:                  "1m",
		90 * time.Minute:             "1h 30m",
		49*time.Hour + 5*time.Minute: "2d 1h 5m",
		72 * time.Hour:               "3d",
		-18 * time.Minute:            "under a minute", // a clock skewed ahead: not "-18m"
		-50 * time.Hour:              "under a minute",
	} {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestCodeExcerpt: the first code block of a note, unescaped, cut to the
// lines and bytes asked for (as the page escapes them) with "…"; "" without
// one. A stored build message is cut the same way.
func TestCodeExcerpt(t *testing.T) {
	t.Parallel()
	content := "<p>title</p><pre><code>a &lt;b&gt;\n  indented\nthird</code></pre><p>#NuttX</p>"
	for _, c := range []struct {
		lines, bytes int
		want         string
	}{
		{10, 100, "a <b>\n  indented\nthird"},
		{2, 100, "a <b>\n  indented…"},
		{10, 6, "a <…"}, // "a &lt;"
		{10, 5, "a…"},
	} {
		if got := CodeExcerpt(content, c.lines, c.bytes); got != c.want {
			t.Errorf("CodeExcerpt(%d lines, %d bytes) = %q, want %q", c.lines, c.bytes, got, c.want)
		}
	}
	if got := FailureExcerpt("x && y", content, 3, 8); got != "x &…" {
		t.Errorf(`FailureExcerpt("x && y", 8 bytes) = %q, want "x &…" ("x &amp; " is 8 bytes)`, got)
	}
	if got := CodeExcerpt("<p>no code</p>", 3, 100); got != "" {
		t.Errorf("no code block gives %q", got)
	}
}

// TestFailingThreads: a feed account's view lists the firehose's threads
// of the targets it shows failing: a target's own, a board's failing
// rows; none for a target that builds or a row without a thread.
func TestFailingThreads(t *testing.T) {
	t.Parallel()
	failing := FeedAccountView{Target: &TargetPage{Target: "rv-virt:citest", Failing: true, ThreadURL: "/@b/1"}}
	if got := failing.FailingThreads(); len(got) != 1 || got[0] != (ThreadLink{Target: "rv-virt:citest", URL: "/@b/1"}) {
		t.Errorf("a failing target: %v", got)
	}
	builds := FeedAccountView{Target: &TargetPage{Target: "rv-virt:citest", ThreadURL: "/@b/1"}}
	if got := builds.FailingThreads(); got != nil {
		t.Errorf("a target that builds: %v", got)
	}
	board := FeedAccountView{Targets: []DirectoryRow{{Label: "a:x", Failing: 1, ThreadURL: "/@b/2"}, {Label: "a:y", ThreadURL: "/@b/3"}, {Label: "a:z", Failing: 1}}}
	if got := board.FailingThreads(); len(got) != 1 || got[0].Target != "a:x" {
		t.Errorf("a board: %v", got)
	}
	// 30 failing, one listed with its thread: 29 more.
	board.Failing = 30
	if got := board.MoreFailing(); got != 29 {
		t.Errorf("a board with 30 failing, one thread listed: %d more, want 29", got)
	}
	if got := failing.MoreFailing(); got != 0 {
		t.Errorf("a target: %d more, want 0", got)
	}
}

// TestBreakableHandle: a handle may wrap after its ".", "-" and "@"
// (a <wbr> after each), and its text is escaped.
func TestBreakableHandle(t *testing.T) {
	t.Parallel()
	for h, want := range map[string]string{
		"@rv-virt.citest@nuttx-feed.org": "@<wbr>rv-<wbr>virt.<wbr>citest@<wbr>nuttx-<wbr>feed.<wbr>org",
		"<b>&x":                          "&lt;b&gt;&amp;x",
		"":                               "",
	} {
		if got := string(BreakableHandle(h)); got != want {
			t.Errorf("BreakableHandle(%q) = %q, want %q", h, got, want)
		}
	}
}
