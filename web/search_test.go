package web

import (
	"html"
	"strings"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// TestBoundSnippet: long text around and between matches keeps the ends
// next to the matches, an excerpt without a match keeps its start, and an
// excerpt stops at maxSnippetBytes bytes as written with "…"; a short
// one is left alone.
func TestBoundSnippet(t *testing.T) {
	long := strings.Repeat("~", 1000)
	text := func(parts []store.TextPart) string {
		var b strings.Builder
		for _, p := range parts {
			if p.Match {
				b.WriteString("[" + p.Text + "]")
			} else {
				b.WriteString(p.Text)
			}
		}
		return b.String()
	}
	gap := strings.Repeat("~", snippetGap)
	for _, c := range []struct {
		in   []store.TextPart
		want string
	}{
		{[]store.TextPart{{Text: "a.c:1: "}, {Text: "overflow", Match: true}, {Text: " here"}}, "a.c:1: [overflow] here"},
		{[]store.TextPart{{Text: "x" + long}, {Text: "overflow", Match: true}, {Text: long + "y"}, {Text: "stack", Match: true}, {Text: long}},
			"…" + gap + "[overflow]" + gap + "…" + gap[1:] + "y[stack]" + gap + "…"},
		{[]store.TextPart{{Text: "start" + long}}, "start" + gap[5:] + "…"},
	} {
		if got := text(BoundSnippet(c.in)); got != c.want {
			t.Errorf("BoundSnippet: %q, want %q", got, c.want)
		}
	}
	var many []store.TextPart
	for range 100 {
		many = append(many, store.TextPart{Text: "overflow", Match: true}, store.TextPart{Text: " ~ "})
	}
	got := []rune(text(BoundSnippet(many)))
	if len(got) > maxSnippetBytes || !strings.HasSuffix(string(got), "…") {
		t.Errorf("100 matches: %d characters ending %q, want fewer than %d and …", len(got), string(got[len(got)-5:]), maxSnippetBytes)
	}
	// What the page writes counts: "&" is "&amp;", and each match its <mark>.
	amps := BoundSnippet([]store.TextPart{{Text: "a", Match: true}, {Text: strings.Repeat("&", 30)}, {Text: "a", Match: true}, {Text: strings.Repeat("&", 1000)}})
	written := 0
	for _, p := range amps {
		written += len(html.EscapeString(p.Text))
		if p.Match {
			written += markBytes
		}
	}
	if written > maxSnippetBytes+len("…") {
		t.Errorf("an excerpt of '&' writes %d bytes, past %d", written, maxSnippetBytes)
	}
}
