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
