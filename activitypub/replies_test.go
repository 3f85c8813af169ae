package activitypub

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// threadReplies returns the remote replies the page of note n shows.
func (e *testEnv) threadReplies(n *store.Note) []*store.RemoteReply {
	e.t.Helper()
	var out []*store.RemoteReply
	err := e.db.View(e.ctx, func(tx *store.Tx) (err error) {
		out, err = tx.ThreadReplies(e.s.NoteIRI(n))
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// send hands activity from r to the shared inbox.
func (e *testEnv) send(r *fedtest.Remote, activity map[string]any) error {
	return e.s.HandleInbox(e.ctx, "", inbound(e.t, r, "/inbox", activity))
}

// A reply is stored with its author as the actor document fetched for the
// key shows it (no fetch of its own); a reply to it joins the thread;
// Update replaces it and Delete removes it, only from its author: the
// same from someone else change nothing.
func TestRepliesFromTheAuthorOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	root := e.publish("build failed")
	alice := e.remote("alice", fedtest.GoToSocial) // a key stub: the actor is fetched for the key, once
	alice.DisplayName, alice.AvatarURL = "Alice <b>A.</b>", alice.Server.URL+"/alice.png"
	bob := e.remote("bob", fedtest.Mastodon)
	reply := alice.ActorID() + "/statuses/1"
	if err := e.send(alice, alice.NoteActivity("Create", reply, e.s.NoteIRI(root), "<p>looking</p>")); err != nil {
		t.Fatal(err)
	}
	fetches := len(alice.Gets())
	if err := e.send(bob, bob.NoteActivity("Create", bob.ActorID()+"/statuses/2", reply, "<p>me too</p>")); err != nil {
		t.Fatal(err)
	}
	replies := e.threadReplies(root)
	if len(replies) != 2 {
		t.Fatalf("%d replies in the thread, want alice's and bob's answer to it", len(replies))
	}
	a := replies[0]
	host := strings.TrimPrefix(alice.Server.URL, "http://")
	if a.NoteID != reply || a.AuthorName != "Alice <b>A.</b>" || a.AuthorHandle != "@alice@"+host || a.AuthorAvatar != alice.AvatarURL ||
		a.AuthorURL != alice.ActorID() || a.Content != "<p>looking</p>" || a.URL != reply+"/page" || a.InReplyTo != e.s.NoteIRI(root) {
		t.Errorf("alice's reply stored as %+v", a)
	}
	if b := replies[1]; b.InReplyTo != reply || b.Thread != e.s.NoteIRI(root) || b.AuthorName != "@bob@"+strings.TrimPrefix(bob.Server.URL, "http://") {
		t.Errorf("bob's answer stored as %+v, want it in alice's thread, named by its handle", b)
	}

	// Bob's Update and Delete of alice's reply change nothing.
	if err := e.send(bob, bob.NoteActivity("Update", reply, e.s.NoteIRI(root), "<p>hijacked</p>")); err != nil {
		t.Errorf("Update by someone else: %v, want accepted and ignored", err)
	}
	if err := e.send(bob, bob.DeleteActivity(reply)); err != nil {
		t.Errorf("Delete by someone else: %v, want accepted and ignored", err)
	}
	if r := e.threadReplies(root); len(r) != 2 || r[0].Content != "<p>looking</p>" {
		t.Errorf("after bob's Update and Delete of alice's reply: %d replies, first %q; want both, unchanged", len(r), r[0].Content)
	}

	// Alice's own Update replaces it, her Delete (a Tombstone) removes it.
	if err := e.send(alice, alice.NoteActivity("Update", reply, "https://elsewhere.example/x", "<p>fixed</p>")); err != nil {
		t.Fatal(err)
	}
	if r := e.threadReplies(root); len(r) != 2 || r[0].Content != "<p>fixed</p>" || r[0].InReplyTo != e.s.NoteIRI(root) {
		t.Errorf("after alice's Update: %+v, want her new text in its old place", r[0])
	}
	if err := e.send(alice, alice.DeleteActivity(map[string]any{"id": reply, "type": "Tombstone"})); err != nil {
		t.Fatal(err)
	}
	if r := e.threadReplies(root); len(r) != 1 || r[0].Author != bob.ActorID() {
		t.Errorf("after alice's Delete: %d replies, want bob's alone", len(r))
	}
	if n := len(alice.Gets()); n != fetches || n != 2 {
		t.Errorf("alice's server got %d GETs (%d after her first reply), want 2: her key stub and actor, once", n, fetches)
	}
}

// A Create of a note that the signer did not write, or whose id is on
// another host, is refused; a reply to something not ours (or to a note we
// do not hold) is acknowledged and dropped; nothing is stored.
func TestRepliesRefusedOrDropped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	root := e.publish("build failed")
	mallory := e.remote("mallory", fedtest.Mastodon)
	before := e.snapshot()
	forged := mallory.NoteActivity("Create", mallory.ActorID()+"/statuses/1", e.s.NoteIRI(root), "<p>hi</p>")
	forged["object"].(map[string]any)["attributedTo"] = "https://victim.example/users/v"
	elsewhere := mallory.NoteActivity("Create", "https://victim.example/statuses/1", e.s.NoteIRI(root), "<p>hi</p>")
	for name, a := range map[string]map[string]any{"attributed to another": forged, "an id on another host": elsewhere} {
		if err := e.send(mallory, a); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("a reply with %s: %v, want ErrUnauthorized", name, err)
		}
	}
	for name, inReplyTo := range map[string]string{
		"elsewhere":          "https://elsewhere.example/statuses/1",
		"a missing note":     testBase + "/users/nuttx_build/statuses/0123456789abcdef",
		"another local path": testBase + "/users/nuttx_build",
	} {
		if err := e.send(mallory, mallory.NoteActivity("Create", mallory.ActorID()+"/statuses/"+fedtest.RandomHex(), inReplyTo, "x")); err != nil {
			t.Errorf("a reply to %s: %v, want accepted and dropped", name, err)
		}
	}
	e.sameSnapshot(before, "refused and dropped replies")
	if n := len(e.threadReplies(root)); n != 0 {
		t.Errorf("%d replies stored, want none", n)
	}
}

// xssPayloads are reply contents that try to run script or style the page.
var xssPayloads = []string{
	`<script>alert(1)</script>`,
	`<img src=x onerror=alert(1)>`,
	`<a href="javascript:alert(1)">click</a>`,
	`<a href="JaVaScRiPt:alert(1)">click</a>`,
	`<a href=" javascript:alert(1)">click</a>`,
	`<a href="data:text/html,<script>alert(1)</script>">click</a>`,
	`<p onclick="alert(1)" style="position:fixed">p</p>`,
	`<style>body{display:none}</style>`,
	`<iframe src="https://evil.example"></iframe>`,
	`<svg><script>alert(1)</script></svg>`,
	`<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`,
	`<a href="https://ok.example" target="_blank" rel="opener">ok</a>`,
	`<form action="https://evil.example"><input name=x></form>`,
	`<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>`,
	`<<script>script>alert(1)<</script>/script>`,
	`<object data="https://evil.example/x.swf"></object>`,
	`<base href="https://evil.example/">`,
	`<meta http-equiv="refresh" content="0;url=https://evil.example">`,
}

// checkInert fails unless html, as stored or shown, can neither run script
// nor load or style anything: only the kept elements, no attribute but a
// link's http(s) href and its rel, which is "nofollow noopener ugc".
func checkInert(t *testing.T, what, html string) {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]bool{"html": true, "head": true, "body": true, "p": true, "br": true, "a": true, "span": true, "pre": true,
		"code": true, "blockquote": true, "ul": true, "ol": true, "li": true, "strong": true, "em": true, "b": true, "i": true, "del": true}
	doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		el := s.Get(0)
		if !kept[el.Data] {
			t.Errorf("%s: element <%s> kept in %q", what, el.Data, html)
		}
		for _, a := range el.Attr {
			ok := el.Data == "a" && (a.Key == "href" && (strings.HasPrefix(a.Val, "https://") || strings.HasPrefix(a.Val, "http://")) ||
				a.Key == "rel" && a.Val == "nofollow noopener ugc")
			if !ok {
				t.Errorf("%s: attribute %s=%q on <%s> kept in %q", what, a.Key, a.Val, el.Data, html)
			}
		}
		if rel, _ := s.Attr("rel"); el.Data == "a" && rel != "nofollow noopener ugc" {
			t.Errorf("%s: link without rel=\"nofollow noopener ugc\" in %q", what, html)
		}
	})
}

// Hostile reply content is stored inert; links keep their http(s) href and
// get rel="nofollow noopener ugc"; a reply too long keeps its text, cut.
func TestReplyContentIsSanitized(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	root := e.publish("build failed")
	r := e.remote("eve", fedtest.Mastodon)
	for i, p := range xssPayloads {
		id := fmt.Sprintf("%s/statuses/%d", r.ActorID(), i)
		if err := e.send(r, r.NoteActivity("Create", id, e.s.NoteIRI(root), p)); err != nil {
			t.Fatalf("%q: %v", p, err)
		}
	}
	replies := e.threadReplies(root)
	if len(replies) != len(xssPayloads) {
		t.Fatalf("%d replies stored, want %d", len(replies), len(xssPayloads))
	}
	for _, reply := range replies {
		checkInert(t, "stored", reply.Content)
		if strings.Contains(strings.ToLower(reply.Content), "javascript") {
			t.Errorf("stored %q still names javascript", reply.Content)
		}
	}
	if c := replies[11].Content; c != `<a rel="nofollow noopener ugc" href="https://ok.example">ok</a>` {
		t.Errorf("a plain link stored as %q", c)
	}

	long := "<p>" + strings.Repeat("gcc: error <b>x</b> ", 5000) + "</p>"
	if err := e.send(r, r.NoteActivity("Create", r.ActorID()+"/statuses/long", e.s.NoteIRI(root), long)); err != nil {
		t.Fatal(err)
	}
	got := e.threadReplies(root)[len(xssPayloads)].Content
	if len(got) > maxReplyContent || !strings.HasPrefix(got, "<p>gcc: error x gcc: error x") || !strings.HasSuffix(got, "…</p>") {
		t.Errorf("a %d-byte reply stored as %d bytes: %.80q…; want its text, cut", len(long), len(got), got)
	}
}

// A deleted actor's replies go with it.
func TestDeletedActorLosesReplies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	root := e.publish("build failed")
	r := e.remote("gone", fedtest.Mastodon)
	if err := e.send(r, r.NoteActivity("Create", r.ActorID()+"/statuses/1", e.s.NoteIRI(root), "bye")); err != nil {
		t.Fatal(err)
	}
	if err := e.send(r, r.DeleteActivity(r.ActorID())); err != nil {
		t.Fatal(err)
	}
	if n := len(e.threadReplies(root)); n != 0 {
		t.Errorf("%d replies of the deleted actor left, want none", n)
	}
}

// mention is a public note by r mentioning target (a Mention tag), in
// reply to inReplyTo ("" for none).
func mention(r *fedtest.Remote, id, inReplyTo, target, content string) map[string]any {
	a := r.NoteActivity("Create", id, inReplyTo, content)
	note := a["object"].(map[string]any)
	note["tag"] = []any{map[string]any{"type": "Hashtag", "href": "https://x.example/tags/a", "name": "#a"},
		map[string]any{"type": "Mention", "href": target, "name": "@nuttx_build@nuttx-feed.org"}}
	if inReplyTo == "" {
		delete(note, "inReplyTo")
	}
	return a
}

// A public note that mentions our actor (by a Mention tag, or addressed
// to it) is stored like a reply, under the actor; a private one is not
// (it would show on a public page), nor one mentioning someone else. A
// reply to our thread that mentions us is stored once, in its thread; an
// answer to a stored mention that does not mention us is dropped. The
// author's Update and Delete apply to mentions as to replies.
func TestMentionsStoredLikeReplies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	root := e.publish("build failed")
	us := e.s.site.Actor("nuttx_build")
	alice := e.remote("alice", fedtest.Mastodon)
	tagged := alice.ActorID() + "/statuses/1"
	if err := e.send(alice, mention(alice, tagged, "", us, "<p>@nuttx_build hi</p>")); err != nil {
		t.Fatal(err)
	}
	addressed := alice.NoteActivity("Create", alice.ActorID()+"/statuses/2", "https://elsewhere.example/1", "<p>cc</p>")
	addressed["object"].(map[string]any)["cc"] = []any{us}
	if err := e.send(alice, addressed); err != nil {
		t.Fatal(err)
	}
	private := mention(alice, alice.ActorID()+"/statuses/3", "", us, "<p>secret</p>")
	private["object"].(map[string]any)["to"] = []any{us}
	someoneElse := mention(alice, alice.ActorID()+"/statuses/4", "", "https://elsewhere.example/users/x", "x")
	unknownLocal := mention(alice, alice.ActorID()+"/statuses/5", "", testBase+"/users/nobody", "x")
	inThread := mention(alice, alice.ActorID()+"/statuses/6", e.s.NoteIRI(root), us, "<p>reply and mention</p>")
	answer := alice.NoteActivity("Create", alice.ActorID()+"/statuses/7", tagged, "<p>answer to a mention</p>")
	for _, a := range []map[string]any{private, someoneElse, unknownLocal, inThread, answer} {
		if err := e.send(alice, a); err != nil {
			t.Fatal(err)
		}
	}
	mentions := e.mentions(us)
	if len(mentions) != 2 || mentions[0].NoteID != alice.ActorID()+"/statuses/2" || mentions[1].NoteID != tagged {
		t.Fatalf("mentions %v, want the addressed and the tagged one, newest first", noteIDs(mentions))
	}
	if m := mentions[1]; m.Thread != us || m.Content != "<p>@nuttx_build hi</p>" || m.Author != alice.ActorID() {
		t.Errorf("mention stored as %+v", m)
	}
	if r := e.threadReplies(root); len(r) != 1 || r[0].NoteID != alice.ActorID()+"/statuses/6" {
		t.Errorf("thread replies %v, want the reply that mentions us, once", noteIDs(r))
	}
	if err := e.send(alice, alice.NoteActivity("Update", tagged, "", "<p>edited</p>")); err != nil {
		t.Fatal(err)
	}
	if err := e.send(alice, alice.DeleteActivity(alice.ActorID()+"/statuses/2")); err != nil {
		t.Fatal(err)
	}
	if m := e.mentions(us); len(m) != 1 || m[0].Content != "<p>edited</p>" || m[0].Thread != us {
		t.Errorf("after Update and Delete: %v, want the edited mention alone", noteIDs(m))
	}
}

// mentions returns the stored mentions of the local actor iri.
func (e *testEnv) mentions(iri string) []*store.RemoteReply {
	e.t.Helper()
	var out []*store.RemoteReply
	err := e.db.View(e.ctx, func(tx *store.Tx) (err error) {
		out, err = tx.Mentions(iri)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// noteIDs lists the note ids of replies.
func noteIDs(replies []*store.RemoteReply) []string {
	out := make([]string, len(replies))
	for i, r := range replies {
		out[i] = r.NoteID
	}
	return out
}

// Only replies addressed to the public (public or unlisted) are kept: the
// thread page is public. A followers-only or direct reply is dropped, and
// an Update that narrows a stored reply's audience removes it.
func TestPrivateRepliesAreNotKept(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	root := e.publish("build failed")
	alice := e.remote("alice", fedtest.Mastodon)
	narrow := func(a map[string]any, to ...any) map[string]any {
		note := a["object"].(map[string]any)
		note["to"], note["cc"] = to, []any{}
		a["to"], a["cc"] = to, []any{}
		return a
	}
	thread := e.s.NoteIRI(root)
	us := e.s.site.Actor("nuttx_build")
	followersOnly := narrow(alice.NoteActivity("Create", alice.ActorID()+"/statuses/1", thread, "<p>for my followers</p>"), alice.ActorID()+"/followers", us)
	direct := narrow(alice.NoteActivity("Create", alice.ActorID()+"/statuses/2", thread, "<p>just you</p>"), us)
	unlisted := alice.NoteActivity("Create", alice.ActorID()+"/statuses/3", thread, "<p>quiet but public</p>")
	note := unlisted["object"].(map[string]any)
	note["to"], note["cc"] = []any{alice.ActorID() + "/followers"}, []any{"as:Public"}
	for _, a := range []map[string]any{followersOnly, direct, unlisted} {
		if err := e.send(alice, a); err != nil {
			t.Fatal(err)
		}
	}
	if r := e.threadReplies(root); len(r) != 1 || r[0].NoteID != alice.ActorID()+"/statuses/3" {
		t.Fatalf("thread replies %v, want the unlisted one alone", noteIDs(r))
	}
	if err := e.send(alice, narrow(alice.NoteActivity("Update", alice.ActorID()+"/statuses/3", thread, "<p>now private</p>"), us)); err != nil {
		t.Fatal(err)
	}
	if r := e.threadReplies(root); len(r) != 0 {
		t.Errorf("after an Update to a direct message: %v, want the reply gone", noteIDs(r))
	}
}
