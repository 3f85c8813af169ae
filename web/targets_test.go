package web

import (
	"testing"
	"time"
)

// TestHumanDuration: durations read in days, hours and minutes.
func TestHumanDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0:                            "0m",
		59 * time.Second:             "0m",
		90 * time.Minute:             "1h 30m",
		49*time.Hour + 5*time.Minute: "2d 1h 5m",
		72 * time.Hour:               "3d",
	} {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestCodeExcerpt: the first code block of a note, unescaped, cut to the
// lines and characters asked for with "…"; "" without one.
func TestCodeExcerpt(t *testing.T) {
	t.Parallel()
	content := "<p>title</p><pre><code>a &lt;b&gt;\n  indented\nthird</code></pre><p>#NuttX</p>"
	for _, c := range []struct {
		lines, chars int
		want         string
	}{
		{10, 100, "a <b>\n  indented\nthird"},
		{2, 100, "a <b>\n  indented…"},
		{10, 3, "a <…"},
	} {
		if got := CodeExcerpt(content, c.lines, c.chars); got != c.want {
			t.Errorf("CodeExcerpt(%d lines, %d chars) = %q, want %q", c.lines, c.chars, got, c.want)
		}
	}
	if got := CodeExcerpt("<p>no code</p>", 3, 100); got != "" {
		t.Errorf("no code block gives %q", got)
	}
}
