package activitypub

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/nuttx-feed/nuttx-feed/internal/clock"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
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

// retainedBytes is what c holds by construction: each entry's key and
// value, and the bytes of the strings of the value.
func retainedBytes(c *originCache) (total, most int) {
	for _, id := range c.entries.Keys() {
		r, _ := c.entries.Peek(id)
		n := len(id) + int(unsafe.Sizeof(id)) + int(unsafe.Sizeof(r)) + len(r.typ)
		total, most = total+n, max(most, n)
	}
	return total, most
}

// The origins' answers keep no note: forwarded Creates of new notes that
// answer our thread, each served at its origin as a note of almost
// maxFetchBody, leave entries of a few hundred bytes (key, type, hash),
// so that the cache, full, holds under 3 MB; and the heap does not grow
// with the notes served.
func TestOriginAnswersKeepNoNote(t *testing.T) {
	e, root, o, bob := forwarding(t)
	ours := e.s.NoteIRI(root)
	big := "<p>" + strings.Repeat("x", maxFetchBody-4096) + "</p>"
	const n = 16
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		p := fmt.Sprintf("/notes/big%d", i)
		o.serve(p, http.StatusOK, o.note(p, ours, big))
		if err := e.send(bob, forward(o, "Create", o.note(p, ours, "<p>x</p>"))); err != nil {
			t.Fatal(err)
		}
		if got := o.fetched(p); got != 1 {
			t.Fatalf("%s fetched %d times, want 1", p, got)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := e.s.originResults.entries.Len(); got != n {
		t.Fatalf("%d origin answers kept, want %d: the test did not reach the cache", got, n)
	}
	if r := e.storedReply(o.server.URL + "/notes/big0"); r == nil || !strings.HasPrefix(r.Content, "<p>xxx") {
		t.Fatalf("the origin's note was not stored: %+v", r)
	}
	total, most := retainedBytes(e.s.originResults)
	const bound = 3 << 20
	t.Logf("%d answers hold %d bytes, at most %d each; full (%d): at most %d bytes", n, total, most, originCacheSize, most*originCacheSize)
	if most > 256 || most*originCacheSize > bound {
		t.Errorf("an answer holds %d bytes: the full cache may hold %d bytes, want at most %d", most, most*originCacheSize, bound)
	}
	// The notes served total n MB; keeping them would grow the heap by
	// as much. Half of it is a generous margin for the rest of the env.
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("the heap grew by %d KB", grown>>10)
	if grown > n<<20/2 {
		t.Errorf("the heap grew by %d MB over %d forwarded notes of 1 MB, want under %d MB", grown>>20, n, n/2)
	}
	runtime.KeepAlive(e)
}

// The longest ids of answers kept are maxLinkLength bytes: a full cache
// of them holds under 3 MB, and a forwarder's check is a 32-byte key.
func TestOriginAnswersLongestIDs(t *testing.T) {
	t.Parallel()
	e, root, o, bob := forwarding(t)
	ours := e.s.NoteIRI(root)
	p := "/notes/"
	p += strings.Repeat("x", maxLinkLength-len(o.server.URL+p))
	o.serve(p, http.StatusOK, o.note(p, ours, "<p>x</p>"))
	checks := e.s.deleteChecks.last.Len()
	if err := e.send(bob, forward(o, "Create", o.note(p, ours, "<p>x</p>"))); err != nil {
		t.Fatal(err)
	}
	if got := o.fetched(p); got != 1 || e.storedReply(o.server.URL+p) == nil {
		t.Fatalf("a note whose id is %d bytes: fetched %d times, stored %v; want fetched once and stored", maxLinkLength, got, e.storedReply(o.server.URL+p) != nil)
	}
	_, most := retainedBytes(e.s.originResults)
	if bound := 3 << 20; most*originCacheSize > bound {
		t.Errorf("an answer of an id of %d bytes holds %d bytes: the full cache may hold %d, want at most %d", maxLinkLength, most, most*originCacheSize, bound)
	}
	keys := e.s.deleteChecks.last.Keys()
	if len(keys) != checks+1 {
		t.Fatalf("%d forwarders' checks, want %d", len(keys), checks+1)
	}
	for _, k := range keys {
		if len(k) > sha256.Size {
			t.Errorf("a forwarder's check is keyed by %d bytes, want %d", len(k), sha256.Size)
		}
	}
}

// A forwarded note or Delete whose id is over maxLinkLength, or a note
// whose author's id is, is dropped (202, logged): nothing fetched, kept
// as a cache key, or changed.
func TestForwardedLongIDsDropped(t *testing.T) {
	t.Parallel()
	e, root, o, bob := forwarding(t)
	ours := e.s.NoteIRI(root)
	long := func(i int) string { return fmt.Sprintf("/notes/%d/", i) + strings.Repeat("x", 400<<10) }
	for i := range 3 {
		p := long(i)
		o.serve(p, http.StatusOK, o.note(p, ours, "<p>x</p>"))
		if err := e.send(bob, forward(o, "Create", o.note(p, ours, "<p>x</p>"))); err != nil {
			t.Errorf("a forwarded Create of an id of %d bytes: %v, want accepted and dropped", len(p), err)
		}
		if o.fetched(p) != 0 || e.storedReply(o.server.URL+p) != nil {
			t.Errorf("a forwarded Create of an id of %d bytes was fetched or stored", len(p))
		}
	}

	// A reply with a long id stored (by its author's own Create): its
	// forwarded Delete is dropped, the reply kept.
	p := long(9)
	r := &store.RemoteReply{NoteID: o.server.URL + p, InReplyTo: ours, Thread: ours, Author: o.actor(),
		Content: "<p>x</p>", URL: o.server.URL + p, Published: time.Now()}
	if err := e.s.update(e.ctx, func(tx *store.Tx) error { return tx.SaveRemoteReply(r) }); err != nil {
		t.Fatal(err)
	}
	o.serve(p, http.StatusGone, nil)
	if err := e.send(bob, forward(o, "Delete", map[string]any{"id": o.server.URL + p})); err != nil {
		t.Errorf("a forwarded Delete of an id of %d bytes: %v, want accepted and dropped", len(p), err)
	}
	if o.fetched(p) != 0 || e.storedReply(o.server.URL+p) == nil {
		t.Errorf("a forwarded Delete of an id of %d bytes was fetched, or removed the reply", len(p))
	}

	// A note whose author's id is long: its author is not fetched.
	o.serve("/notes/by-long", http.StatusOK, func() map[string]any {
		n := o.note("/notes/by-long", ours, "<p>x</p>")
		n["attributedTo"] = o.server.URL + "/users/" + strings.Repeat("c", maxLinkLength)
		return n
	}())
	if err := e.send(bob, forward(o, "Create", o.note("/notes/by-long", ours, "<p>x</p>"))); err != nil {
		t.Fatal(err)
	}
	if o.fetched("/notes/by-long") != 1 || e.storedReply(o.server.URL+"/notes/by-long") != nil {
		t.Errorf("a note by an author whose id is long: fetched %d times, stored %v; want fetched once, dropped",
			o.fetched("/notes/by-long"), e.storedReply(o.server.URL+"/notes/by-long") != nil)
	}
	o.mu.Lock()
	paths, refused := len(o.gets), o.refused
	o.mu.Unlock()
	if refused != 0 || paths != 1 {
		t.Errorf("the origin got GETs of %d paths (%d refused), want only /notes/by-long", paths, refused)
	}
	for _, id := range e.s.originResults.entries.Keys() {
		if len(id) > maxLinkLength {
			t.Errorf("an id of %d bytes is a cache key", len(id))
		}
	}
}

// An origin's answer settles only the very note it served: a forward of
// the same content that differs in anything else (here its publication
// time and audience) is fetched anew, and what is stored is the origin's.
func TestOriginAnswerSettlesOnlyTheSameNote(t *testing.T) {
	t.Parallel()
	e, root, o, bob := forwarding(t)
	mallory := e.remote("mallory", fedtest.Mastodon)
	ours := e.s.NoteIRI(root)
	const p = "/notes/same"
	o.serve(p, http.StatusOK, o.note(p, ours, "<p>v1</p>"))
	if err := e.send(bob, forward(o, "Create", o.note(p, ours, "<p>v1</p>"))); err != nil {
		t.Fatal(err)
	}
	forged := o.note(p, ours, "<p>v1</p>")
	forged["published"] = "2020-01-01T00:00:00Z"
	if err := e.send(mallory, forward(o, "Update", forged)); err != nil {
		t.Fatal(err)
	}
	if got := o.fetched(p); got != 2 {
		t.Errorf("%s fetched %d times, want 2: a note that differs from the origin's answer is not settled by it", p, got)
	}
	if r := e.storedReply(o.server.URL + p); r == nil || r.Published.Year() != 2026 {
		t.Errorf("stored %+v, want the origin's note (published 2026)", r)
	}
}

// noteSum tells apart notes that differ in any field, and lists that
// differ only in where the audience ends.
func TestNoteSum(t *testing.T) {
	t.Parallel()
	base := remoteNote{ID: "i", Type: "Note", AttributedTo: "a", InReplyTo: "r", Content: "c", URL: "u",
		Published: time.Date(2026, 11, 29, 11, 0, 0, 0, time.UTC), Audience: []string{"x", "y"}, Mentions: []string{"m"}}
	sum := noteSum(&base)
	v := reflect.ValueOf(base)
	for i := range v.NumField() {
		changed := base
		f := reflect.ValueOf(&changed).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(f.String() + "!")
		case reflect.Slice:
			f.Set(reflect.Append(f, reflect.ValueOf("z")))
		default:
			changed.Published = base.Published.Add(time.Nanosecond)
		}
		if noteSum(&changed) == sum {
			t.Errorf("a note with another %s has the same sum", v.Type().Field(i).Name)
		}
	}
	moved := base
	moved.Audience, moved.Mentions = []string{"x"}, []string{"y", "m"}
	if noteSum(&moved) == sum {
		t.Error("a note with a mention taken for its audience has the same sum")
	}
	if copied := base; noteSum(&copied) != sum {
		t.Error("the same note has another sum")
	}
}

// The cache keeps the answers of the last minute only, at most
// originCacheSize of them, and get returns only a fresh one.
func TestOriginCacheExpiresAndIsBounded(t *testing.T) {
	t.Parallel()
	c := newOriginCache()
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for i := range originCacheSize + 10 {
		c.add(fmt.Sprint(i), originResult{typ: "Note", at: t0})
	}
	if got := c.entries.Len(); got != originCacheSize {
		t.Errorf("%d entries, want %d", got, originCacheSize)
	}
	if _, fresh := c.get("0", t0); fresh {
		t.Error("the oldest entry beyond the size is still there")
	}
	last := fmt.Sprint(originCacheSize + 9)
	if _, fresh := c.get(last, t0.Add(originResultAge-time.Second)); !fresh {
		t.Error("an answer of 59 s ago is not returned")
	}
	if _, fresh := c.get(last, t0.Add(originResultAge)); fresh {
		t.Error("an answer of a minute ago is returned")
	}
	c.add("new", originResult{at: t0.Add(originResultAge)})
	if got := c.entries.Len(); got != 1 {
		t.Errorf("%d entries after an answer a minute later, want 1: the stale ones dropped", got)
	}
}
