package activitypub

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	gofedsig "github.com/go-fed/httpsig"

	"github.com/nuttx-feed/nuttx-feed/internal/clock"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// origin simulates the server a forwarded reply comes from: its author's
// actor at /users/carol and its notes at the paths set with serve, each
// served only to a GET that go-fed/httpsig verifies as signed by us.
type origin struct {
	server *httptest.Server
	key    *rsa.PrivateKey
	keys   func(keyID string) (*rsa.PublicKey, error)

	mu      sync.Mutex
	answers map[string]originAnswer // by path
	gets    map[string]int          // verified GETs by path
	refused int                     // GETs whose signature did not verify
}

// originAnswer is what the origin answers at a path: status, and body
// (JSON) when status is 200.
type originAnswer struct {
	status      int
	body        any
	contentType string // "" for application/activity+json
}

func (e *testEnv) origin() *origin {
	e.t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		e.t.Fatal(err)
	}
	o := &origin{key: key, keys: e.ourKeys, answers: map[string]originAnswer{}, gets: map[string]int{}}
	o.server = httptest.NewServer(http.HandlerFunc(o.serveHTTP))
	e.t.Cleanup(o.server.Close)
	o.serveActor("carol")
	return o
}

// serveActor serves the actor /users/name, with the origin's key.
func (o *origin) serveActor(name string) {
	id := o.server.URL + "/users/" + name
	o.serve("/users/"+name, http.StatusOK, map[string]any{
		"@context": []any{"https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"},
		"id":       id, "type": "Person", "preferredUsername": name, "name": "Carol C.",
		"inbox":     id + "/inbox",
		"publicKey": map[string]any{"id": id + "#main-key", "owner": id, "publicKeyPem": fedtest.PublicKeyPEM(&o.key.PublicKey)},
	})
}

// actor is carol, the origin's author.
func (o *origin) actor() string { return o.server.URL + "/users/carol" }

// note is carol's note path (on the origin) answering inReplyTo.
func (o *origin) note(path, inReplyTo, content string) map[string]any {
	return map[string]any{"@context": "https://www.w3.org/ns/activitystreams", "id": o.server.URL + path, "type": "Note",
		"attributedTo": o.actor(), "inReplyTo": inReplyTo, "content": content, "published": "2026-11-29T11:00:00Z",
		"to": []any{publicAddress}}
}

// serve makes the origin answer path with status and, for 200, body.
func (o *origin) serve(path string, status int, body any) {
	o.mu.Lock()
	o.answers[path] = originAnswer{status: status, body: body}
	o.mu.Unlock()
}

// fetched returns how many verified GETs path got.
func (o *origin) fetched(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.gets[path]
}

func (o *origin) serveHTTP(w http.ResponseWriter, req *http.Request) {
	req.Header.Set("Host", req.Host) // go-fed/httpsig reads host from the header map
	v, err := gofedsig.NewVerifier(req)
	if err == nil {
		var pub *rsa.PublicKey
		if pub, err = o.keys(v.KeyId()); err == nil {
			err = v.Verify(pub, gofedsig.RSA_SHA256)
		}
	}
	o.mu.Lock()
	a, ok := o.answers[req.URL.Path]
	if err != nil {
		o.refused++
	} else {
		o.gets[req.URL.Path]++
	}
	o.mu.Unlock()
	switch {
	case err != nil:
		http.Error(w, "signed GET required", http.StatusUnauthorized)
	case !ok:
		http.NotFound(w, req)
	case a.status != http.StatusOK:
		w.WriteHeader(a.status)
	default:
		w.Header().Set("Content-Type", "application/activity+json")
		if a.contentType != "" {
			w.Header().Set("Content-Type", a.contentType)
		}
		json.NewEncoder(w).Encode(a.body)
	}
}

// forward is the activity bob's server forwards: typ (Create or Update)
// by carol of note, or a Delete by carol of the note's id.
func forward(o *origin, typ string, note map[string]any) map[string]any {
	act := map[string]any{"@context": "https://www.w3.org/ns/activitystreams", "id": o.actor() + "/activities/" + fedtest.RandomHex(),
		"type": typ, "actor": o.actor(), "object": note}
	if typ == "Delete" {
		act["object"] = note["id"]
	}
	return act
}

// storedReply returns the stored reply id, or nil.
func (e *testEnv) storedReply(id string) *store.RemoteReply {
	e.t.Helper()
	r, err := e.s.storedReply(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// forwarding starts an env (with mutate) holding a note, root, that
// carol on origin o answers, with bob's server forwarding.
func forwarding(t *testing.T, mutate ...func(*Options)) (e *testEnv, root *store.Note, o *origin, bob *fedtest.Remote) {
	e = newEnv(t, mutate...)
	return e, e.publish("build failed"), e.origin(), e.remote("bob", fedtest.Mastodon)
}

// A reply forwarded by another server (signed by it, not by its author) is
// fetched from its origin with a GET signed by us (verified with
// go-fed/httpsig), and stored as the origin serves it, with its author's
// profile; what the forwarder embedded is not trusted. Any other
// activity signed by someone else than its actor is still refused.
func TestForwardedReplyTakenFromOrigin(t *testing.T) {
	t.Parallel()
	e, note, o, bob := forwarding(t)
	root := e.s.NoteIRI(note)
	o.serve("/notes/1", http.StatusOK, o.note("/notes/1", root, "<p>from the origin</p>"))
	claimed := o.note("/notes/1", root, "<p>forged by the forwarder</p>")
	if err := e.send(bob, forward(o, "Create", claimed)); err != nil {
		t.Fatalf("forwarded reply: %v, want accepted", err)
	}
	r := e.storedReply(o.server.URL + "/notes/1")
	if r == nil {
		t.Fatal("the forwarded reply is not stored")
	}
	if r.Content != "<p>from the origin</p>" || r.Author != o.actor() || r.AuthorName != "Carol C." || r.Thread != root {
		t.Errorf("stored %+v, want the origin's content by carol in the root's thread", r)
	}
	if o.fetched("/notes/1") != 1 || o.fetched("/users/carol") == 0 || o.refused != 0 {
		t.Errorf("origin: %d signed GETs of the note, %d of the author, %d refused; want 1, some, 0", o.fetched("/notes/1"), o.fetched("/users/carol"), o.refused)
	}

	follow := bob.FollowActivity(e.s.site.Actor("nuttx_build"))
	follow["actor"] = o.actor()
	for name, act := range map[string]map[string]any{
		"Follow":           follow,
		"Undo":             {"id": o.actor() + "/undo", "type": "Undo", "actor": o.actor(), "object": follow},
		"Create{Question}": forward(o, "Create", map[string]any{"id": o.server.URL + "/q", "type": "Question"}),
		"Create of our note": forward(o, "Create", map[string]any{"id": root + "/x", "type": "Note", "attributedTo": testBase + "/users/nuttx_build",
			"inReplyTo": root}),
		"Delete actor": {"id": o.actor() + "/del", "type": "Delete", "actor": o.actor(), "object": bob.ActorID()},
	} {
		if err := e.send(bob, act); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s by carol signed by bob: %v, want ErrUnauthorized", name, err)
		}
	}
}

// A forwarded reply is acknowledged and dropped, nothing stored, when its
// origin does not serve it as claimed (another id, an author on another
// host, not a Note, not a reply to us, not ActivityPub, 404, 500); one
// that does not concern us is not even fetched, and the Delete of a note
// we do not hold is refused as any activity signed by another.
func TestForwardedReplyNotStored(t *testing.T) {
	t.Parallel()
	e, root, o, bob := forwarding(t)
	ours := e.s.NoteIRI(root)
	other := o.note("/notes/other", ours, "x")
	elsewhere := o.note("/notes/x", ours, "x")
	elsewhere["attributedTo"] = bob.ActorID()
	article := o.note("/notes/x", ours, "x")
	article["type"] = "Article"
	cases := map[string]originAnswer{
		"another id":                {status: http.StatusOK, body: other},
		"an author on another host": {status: http.StatusOK, body: elsewhere},
		"an Article":                {status: http.StatusOK, body: article},
		"a reply to something else": {status: http.StatusOK, body: o.note("/notes/x", "https://elsewhere.example/1", "x")},
		"HTML":                      {status: http.StatusOK, body: o.note("/notes/x", ours, "x"), contentType: "text/html"},
		"404":                       {status: http.StatusNotFound},
		"500":                       {status: http.StatusInternalServerError},
		"401":                       {status: http.StatusUnauthorized},
	}
	i := 0
	for name, answer := range cases {
		i++
		path := "/notes/" + fedtest.RandomHex()
		if body, ok := answer.body.(map[string]any); ok && name != "another id" {
			body["id"] = o.server.URL + path
		}
		o.mu.Lock()
		o.answers[path] = answer
		o.mu.Unlock()
		if err := e.send(bob, forward(o, "Create", o.note(path, ours, "claimed"))); err != nil {
			t.Errorf("%s: %v, want accepted and dropped", name, err)
		}
		if o.fetched(path) != 1 {
			t.Errorf("%s: the origin got %d GETs of the note, want 1", name, o.fetched(path))
		}
		if r := e.storedReply(o.server.URL + path); r != nil {
			t.Errorf("%s: stored %+v, want nothing", name, r)
		}
	}
	if n := len(e.threadReplies(root)); n != 0 {
		t.Errorf("%d replies stored, want none", n)
	}

	// Not about us: no fetch at all.
	before := len(o.gets)
	for _, inReplyTo := range []string{"https://elsewhere.example/1", testBase + "/users/nuttx_build/statuses/0123456789abcdef", ""} {
		if err := e.send(bob, forward(o, "Create", o.note("/notes/unrelated", inReplyTo, "x"))); err != nil {
			t.Errorf("unrelated forwarded note: %v, want accepted and dropped", err)
		}
	}
	if err := e.send(bob, forward(o, "Delete", o.note("/notes/unrelated", ours, "x"))); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("forwarded Delete of a note we do not hold: %v, want ErrUnauthorized as before", err)
	}
	if len(o.gets) != before {
		t.Errorf("the origin was asked %v for notes that concern nothing of ours", o.gets)
	}
}

// A forwarded Delete removes the stored reply only when its origin says it
// is gone (410, 404 or a Tombstone); while the origin still serves it, or
// cannot be reached, it stays. A forwarder can neither make us store a
// note its origin does not serve, nor remove or rewrite another's reply:
// an Update is taken from the origin as well, and a note id stored as one
// author's stays theirs.
func TestForwardedDeleteAndUpdate(t *testing.T) {
	t.Parallel()
	clk := clock.At(time.Now())
	e, root, o, bob := forwarding(t, func(o *Options) { o.Now = clk.Now })
	ours := e.s.NoteIRI(root)
	paths := []string{"/notes/gone", "/notes/missing", "/notes/tomb", "/notes/alive", "/notes/down"}
	for _, p := range paths {
		o.serve(p, http.StatusOK, o.note(p, ours, "<p>"+p+"</p>"))
		if err := e.send(bob, forward(o, "Create", o.note(p, ours, "x"))); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.threadReplies(root)); n != len(paths) {
		t.Fatalf("%d forwarded replies stored, want %d", n, len(paths))
	}
	o.serve("/notes/gone", http.StatusGone, nil)
	o.serve("/notes/missing", http.StatusNotFound, nil)
	o.serve("/notes/tomb", http.StatusOK, map[string]any{"id": o.server.URL + "/notes/tomb", "type": "Tombstone"})
	o.serve("/notes/down", http.StatusServiceUnavailable, nil)
	for _, p := range paths {
		if err := e.send(bob, forward(o, "Delete", map[string]any{"id": o.server.URL + p})); err != nil {
			t.Errorf("forwarded Delete of %s: %v, want accepted", p, err)
		}
	}
	for _, p := range paths {
		kept := e.storedReply(o.server.URL+p) != nil
		if want := p == "/notes/alive" || p == "/notes/down"; kept != want {
			t.Errorf("after a forwarded Delete of %s: kept %v, want %v", p, kept, want)
		}
	}

	// An Update forwarded within the minute is not fetched again; after
	// it, what the origin serves replaces the reply, whatever was embedded.
	o.serve("/notes/alive", http.StatusOK, o.note("/notes/alive", ours, "<p>edited at the origin</p>"))
	update := forward(o, "Update", o.note("/notes/alive", ours, "<p>forged</p>"))
	if err := e.send(bob, update); err != nil {
		t.Fatal(err)
	}
	if r := e.storedReply(o.server.URL + "/notes/alive"); r.Content != "<p>/notes/alive</p>" {
		t.Errorf("after an Update forwarded within the minute: %q, want unchanged", r.Content)
	}
	clk.Add(2 * time.Minute)
	if err := e.send(bob, forward(o, "Update", o.note("/notes/alive", ours, "<p>forged</p>"))); err != nil {
		t.Fatal(err)
	}
	if r := e.storedReply(o.server.URL + "/notes/alive"); r.Content != "<p>edited at the origin</p>" {
		t.Errorf("after a forwarded Update: %q, want the origin's edit", r.Content)
	}

	// The origin now says the note is dave's, another actor of its host:
	// a note stored as carol's stays hers.
	o.serveActor("dave")
	clk.Add(2 * time.Minute)
	daves := o.note("/notes/alive", ours, "<p>dave's now</p>")
	daves["attributedTo"] = o.server.URL + "/users/dave"
	o.serve("/notes/alive", http.StatusOK, daves)
	if err := e.send(bob, forward(o, "Update", daves)); err != nil {
		t.Fatal(err)
	}
	if r := e.storedReply(o.server.URL + "/notes/alive"); r.Author != o.actor() || r.Content != "<p>edited at the origin</p>" {
		t.Errorf("after the origin gave carol's note to dave: %+v, want carol's, unchanged", r)
	}
	if o.fetched("/users/dave") == 0 {
		t.Error("dave's actor was not fetched: the test did not reach the author check")
	}
}
