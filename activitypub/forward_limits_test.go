package activitypub

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/clock"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
)

// The origin's answer about a forwarded note is reused for a minute, and
// each forwarding server may make us GET a note once a minute: a stranger
// forwarding fake Deletes or Updates of a stored reply (mallory) neither
// costs the origin more than one GET a minute nor keeps the genuine
// forwarded Delete or Update (bob's) from being checked at the origin.
func TestForwardedFakesDoNotBlockTheGenuineForward(t *testing.T) {
	t.Parallel()
	clk := clock.At(time.Now())
	e, root, o, bob := forwarding(t, func(o *Options) { o.Now = clk.Now })
	mallory := e.remote("mallory", fedtest.Mastodon)
	ours := e.s.NoteIRI(root)
	send := func(by *fedtest.Remote, act map[string]any) {
		t.Helper()
		if err := e.send(by, act); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(path string, gets int, content string) {
		t.Helper()
		if n := o.fetched(path); n != gets {
			t.Errorf("%s fetched %d times, want %d", path, n, gets)
		}
		r := e.storedReply(o.server.URL + path)
		switch {
		case content == "" && r != nil:
			t.Errorf("%s is stored (%q), want removed", path, r.Content)
		case content != "" && r == nil:
			t.Errorf("%s is not stored, want %q", path, content)
		case r != nil && r.Content != content:
			t.Errorf("%s: %q, want %q", path, r.Content, content)
		}
	}

	const del, upd = "/notes/deleted", "/notes/updated"
	for _, p := range []string{del, upd} {
		o.serve(p, http.StatusOK, o.note(p, ours, "<p>v1</p>"))
		send(bob, forward(o, "Create", o.note(p, ours, "<p>v1</p>")))
		// Another server forwarding the same note within the minute: the
		// origin's answer settles it, no GET.
		send(mallory, forward(o, "Create", o.note(p, ours, "<p>v1</p>")))
		expect(p, 1, "<p>v1</p>")
	}

	clk.Add(2 * time.Minute)
	send(mallory, forward(o, "Delete", map[string]any{"id": o.server.URL + del}))
	expect(del, 2, "<p>v1</p>") // the origin still serves it
	send(mallory, forward(o, "Delete", map[string]any{"id": o.server.URL + del}))
	expect(del, 2, "<p>v1</p>") // within mallory's minute: its answer reused
	send(mallory, forward(o, "Update", o.note(upd, ours, "<p>v1</p>")))
	expect(upd, 2, "<p>v1</p>")

	// The author deletes one and edits the other; bob forwards the genuine
	// Delete and Update 30 s after mallory's fakes.
	clk.Add(30 * time.Second)
	o.serve(del, http.StatusGone, nil)
	o.serve(upd, http.StatusOK, o.note(upd, ours, "<p>v2</p>"))
	send(bob, forward(o, "Delete", map[string]any{"id": o.server.URL + del}))
	expect(del, 3, "")
	send(bob, forward(o, "Update", o.note(upd, ours, "<p>v2</p>")))
	expect(upd, 3, "<p>v2</p>")

	// Within the minute, the same Update forwarded again by anyone is
	// settled by the origin's answer: no GET.
	send(mallory, forward(o, "Update", o.note(upd, ours, "<p>v2</p>")))
	expect(upd, 3, "<p>v2</p>")
}

// A forwarded note whose id is on our host is never fetched, whatever
// its scheme or default port: http://OUR-HOST/... on an https site is
// refused as not forwardable, as https://OUR-HOST/... is.
func TestForwardedNoteOnOurHostRefused(t *testing.T) {
	t.Parallel()
	e, root, o, bob := forwarding(t)
	ours := e.s.NoteIRI(root)
	for _, id := range []string{testBase + "/notes/x", "http://nuttx-feed.org/notes/x", "HTTP://NUTTX-FEED.ORG:80/notes/x", "https://nuttx-feed.org:443/notes/x"} {
		note := o.note("/notes/x", ours, "<p>x</p>")
		note["id"] = id
		if err := e.send(bob, forward(o, "Create", note)); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("a forwarded Create of %s: %v, want %v", id, err, ErrUnauthorized)
		}
	}
	for iri, want := range map[string]bool{
		"http://nuttx-feed.org/users/nuttx_build": true,
		"https://nuttx-feed.org:443/x":            true,
		"http://Nuttx-Feed.org:80/x":              true,
		"urn:uuid:1":                              true, // no host: never fetched
		"https://nuttx-feed.org:8443/x":           false,
		"http://nuttx-feed.org:443/x":             false,
		"https://other.example/x":                 false,
		"https://nuttx-feed.org.example/x":        false,
	} {
		if got := e.s.onOurServer(iri); got != want {
			t.Errorf("onOurServer(%q) = %v, want %v", iri, got, want)
		}
	}
}
