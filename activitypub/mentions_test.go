package activitypub

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// resolveAndPublish resolves the mentions of a post of text (replying to
// inReplyTo) and publishes it, as `nuttx-feed post` does.
func (e *testEnv) resolveAndPublish(text, inReplyTo string) (*store.Note, error) {
	p := Post{Content: richtext.Parse(text), InReplyTo: inReplyTo}
	if err := e.s.ResolveMentions(e.ctx, &p); err != nil {
		return nil, err
	}
	return publishNow(e.ctx, e.s, "nuttx_build", p)
}

// tagsOf returns the Mention tags of a served note as "href name".
func tagsOf(t *testing.T, note map[string]any) []string {
	t.Helper()
	var out []string
	tags, _ := note["tag"].([]any)
	for _, raw := range tags {
		tag := raw.(map[string]any)
		if tag["type"] == "Mention" {
			out = append(out, tag["href"].(string)+" "+tag["name"].(string))
		}
	}
	return out
}

// decoded round-trips a document through JSON, as a peer reads it.
func decoded(t *testing.T, doc map[string]any) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(marshal(doc), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPostMentions: each @user@host of a post is found by WebFinger and a
// signed GET of its actor, linked to its profile in the content, tagged
// and addressed in cc; the Create goes to each mentioned actor's inbox
// (the shared one where there is one), signed, once per inbox even when
// a follower shares it; a Delete of the note goes the same way.
func TestPostMentions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bob := e.remote("bob", fedtest.Mastodon)
	bob.SharedInbox, bob.ProfileURL = true, bob.Server.URL+"/@bob"
	carol := e.remote("carol", fedtest.GoToSocial) // no shared inbox, no url: the profile is the id
	a, _ := e.s.Actor(e.ctx, "nuttx_build")
	e.saveFollowers(store.Follower{ActorID: a.ID, IRI: bob.Server.URL + "/users/dave", Inbox: bob.Server.URL + "/users/dave/inbox",
		SharedInbox: bob.SharedInboxURL(), FollowID: bob.Server.URL + "/follows/1"})

	n, err := e.resolveAndPublish("thanks "+bob.Handle()+" and "+carol.Handle()+", cc "+strings.ToUpper(bob.Handle()), "")
	if err != nil {
		t.Fatal(err)
	}
	bobHost := strings.TrimPrefix(bob.Server.URL, "http://")
	wantMentions := []store.Mention{
		{Href: bob.ActorID(), Name: bob.Handle(), Inbox: bob.SharedInboxURL()},
		{Href: carol.ActorID(), Name: carol.Handle(), Inbox: carol.Inbox()},
	}
	if !slices.Equal(n.Mentions, wantMentions) {
		t.Errorf("mentions %+v, want %+v", n.Mentions, wantMentions)
	}
	for _, want := range []string{
		`<span class="h-card" translate="no"><a href="` + bob.Server.URL + `/@bob" class="u-url mention">@<span>bob</span></a></span>`,
		`<a href="` + carol.ActorID() + `" class="u-url mention">@<span>carol</span></a>`,
		`<a href="` + bob.Server.URL + `/@bob" class="u-url mention">@<span>BOB</span></a>`,
	} {
		if !strings.Contains(n.Content, want) {
			t.Errorf("content %s lacks %s", n.Content, want)
		}
	}
	// What the store gives back is what was published.
	var stored *store.Note
	e.db.View(e.ctx, func(tx *store.Tx) (err error) { stored, err = tx.NoteByPublicID(n.PublicID); return err })
	if stored == nil || !slices.Equal(stored.Mentions, wantMentions) {
		t.Fatalf("stored mentions %+v, want %+v", stored, wantMentions)
	}
	note := decoded(t, noteDocument(e.s.site, stored))
	if got, want := tagsOf(t, note), []string{bob.ActorID() + " @bob@" + bobHost, carol.ActorID() + " " + carol.Handle()}; !slices.Equal(got, want) {
		t.Errorf("Mention tags %v, want %v", got, want)
	}
	if cc := note["cc"].([]any); len(cc) != 3 || cc[0] != testBase+"/users/nuttx_build/followers" || cc[1] != bob.ActorID() || cc[2] != carol.ActorID() {
		t.Errorf("cc = %v, want the followers, bob and carol", cc)
	}

	var inboxes []string
	rows, _ := e.db.SQL.Query(`SELECT inbox FROM deliveries ORDER BY inbox`)
	for rows.Next() {
		var s string
		rows.Scan(&s)
		inboxes = append(inboxes, s)
	}
	rows.Close()
	if want := slices.Sorted(slices.Values([]string{bob.SharedInboxURL(), carol.Inbox()})); !slices.Equal(inboxes, want) {
		t.Errorf("queued to %v, want %v (one delivery to the shared inbox bob and the follower use)", inboxes, want)
	}

	e.runDelivery()
	for _, r := range []*fedtest.Remote{bob, carol} {
		d := r.WaitDeliveries(t, 1, 10*time.Second)[0]
		if d.VerifyErr != nil {
			t.Fatalf("%s: the Create does not verify: %v", r.Username, d.VerifyErr)
		}
		obj, _ := d.Activity["object"].(map[string]any)
		if d.Activity["type"] != "Create" || !slices.Contains(d.Activity["cc"].([]any), any(r.ActorID())) || len(tagsOf(t, obj)) != 2 {
			t.Errorf("%s received %v", r.Username, d.Activity)
		}
	}

	eventually.True(t, 10*time.Second, "the Creates recorded as delivered", func() bool { // else the Delete waits for them
		return storetest.Count(t, e.db.SQL, "deliveries WHERE state = 'pending'") == 0
	})
	if _, err := e.s.DeleteNote(e.ctx, n.PublicID); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*fedtest.Remote{bob, carol} {
		d := r.WaitDeliveries(t, 2, 10*time.Second)[1]
		if d.VerifyErr != nil || d.Activity["type"] != "Delete" || !slices.Contains(d.Activity["cc"].([]any), any(r.ActorID())) {
			t.Errorf("%s: second delivery %v (%v), want a Delete addressed to it", r.Username, d.Activity, d.VerifyErr)
		}
	}
}

// TestReplyMentionsAuthor: a reply to a remote note fetches it (signed),
// replies to its id and mentions its author; a handle of the author in
// the text adds no second mention. A local parent costs no fetch.
func TestReplyMentionsAuthor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.remote("alice", fedtest.GoToSocial)
	noteID := alice.AddNote("1", "<p>is rv-virt fixed?</p>")

	n, err := e.resolveAndPublish("yes, fixed "+alice.Handle(), noteID)
	if err != nil {
		t.Fatal(err)
	}
	if n.InReplyTo != noteID {
		t.Errorf("inReplyTo %q, want %q", n.InReplyTo, noteID)
	}
	want := []store.Mention{{Href: alice.ActorID(), Name: alice.Handle(), Inbox: alice.Inbox()}}
	if !slices.Equal(n.Mentions, want) {
		t.Errorf("mentions %+v, want %+v", n.Mentions, want)
	}
	if e.deliveryTo(alice.Inbox()).State != "pending" {
		t.Error("no delivery to the author of the parent")
	}

	gets := len(alice.Gets())
	local, err := e.resolveAndPublish("a follow-up", e.s.NoteIRI(n))
	if err != nil || len(local.Mentions) != 0 || local.InReplyTo != e.s.NoteIRI(n) {
		t.Errorf("reply to a local note: %v %+v", err, local)
	}
	if len(alice.Gets()) != gets {
		t.Error("a reply to a local note fetched something")
	}
}

// TestMentionOfOurselves: a handle of a local actor is tagged with its
// actor id and linked to its profile, without any request or delivery.
func TestMentionOfOurselves(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n, err := e.resolveAndPublish("see @NuttX_Build@nuttx-feed.org", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Mention{{Href: testBase + "/users/nuttx_build", Name: "@NuttX_Build@nuttx-feed.org"}}
	if !slices.Equal(n.Mentions, want) || !strings.Contains(n.Content, `<a href="`+testBase+`/@nuttx_build" class="u-url mention">`) {
		t.Errorf("mentions %+v, content %s", n.Mentions, n.Content)
	}
	if d := e.snapshot()["deliveries"]; d != 0 {
		t.Errorf("%d deliveries queued for a mention of ourselves", d)
	}
	if _, err := e.resolveAndPublish("@nobody@nuttx-feed.org", ""); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "@nobody@nuttx-feed.org") {
		t.Errorf("mention of an unknown local actor: %v", err)
	}
}

// TestMentionFailures: a handle or a parent that cannot be resolved fails
// with an error naming it, and the caller stores nothing.
func TestMentionFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.remote("alice", fedtest.Mastodon)
	host := strings.TrimPrefix(alice.Server.URL, "http://")
	// A server whose WebFinger points at an actor on a host that serves
	// another actor, one whose inbox is elsewhere, and a note by someone
	// on another host.
	var liar *httptest.Server
	liar = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/.well-known/webfinger" && strings.HasPrefix(r.URL.Query().Get("resource"), "acct:noself@"):
			w.Header().Set("Content-Type", "application/jrd+json")
			w.Write([]byte(`{"links":[{"rel":"self","type":"text/html","href":"` + liar.URL + `/@noself"}]}`))
		case r.URL.Path == "/.well-known/webfinger":
			w.Header().Set("Content-Type", "application/jrd+json")
			user := strings.TrimPrefix(strings.Split(r.URL.Query().Get("resource"), "@")[0], "acct:")
			w.Write([]byte(`{"links":[{"rel":"self","type":"application/activity+json","href":"` + liar.URL + `/users/` + user + `"}]}`))
		case r.URL.Path == "/users/other":
			w.Header().Set("Content-Type", "application/activity+json")
			w.Write([]byte(`{"id":"` + alice.ActorID() + `","type":"Person","inbox":"` + alice.Inbox() + `"}`))
		case r.URL.Path == "/users/elsewhere":
			w.Header().Set("Content-Type", "application/activity+json")
			w.Write([]byte(`{"id":"` + liar.URL + `/users/elsewhere","type":"Person","inbox":"` + alice.Inbox() + `"}`))
		case r.URL.Path == "/notes/forged":
			w.Header().Set("Content-Type", "application/activity+json")
			w.Write([]byte(`{"id":"` + liar.URL + `/notes/forged","type":"Note","attributedTo":"` + alice.ActorID() + `"}`))
		case r.URL.Path == "/notes/actor":
			w.Header().Set("Content-Type", "application/activity+json")
			w.Write([]byte(`{"id":"` + liar.URL + `/notes/actor","type":"Person"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(liar.Close)
	liarHost := strings.TrimPrefix(liar.URL, "http://")
	if _, _, err := e.s.Block(e.ctx, "blocked.example"); err != nil {
		t.Fatal(err)
	}
	before := e.snapshot()
	for _, tt := range []struct {
		text, inReplyTo string
		want            string // in the error
	}{
		{"hi @nobody@" + host, "", "cannot mention @nobody@" + host + ": GET http://" + host + "/.well-known/webfinger?resource=acct%3Anobody%40" + strings.ReplaceAll(host, ":", "%3A") + ": HTTP 404"},
		{"hi @x@127.0.0.1:1", "", "cannot mention @x@127.0.0.1:1: GET http://127.0.0.1:1/.well-known/webfinger"},
		{"hi @x@blocked.example", "", "cannot mention @x@blocked.example: blocked.example is blocked here"},
		{"hi @noself@" + liarHost, "", "cannot mention @noself@" + liarHost + ": WebFinger"},
		{"hi @other@" + liarHost, "", "cannot mention @other@" + liarHost + ": " + liar.URL + "/users/other serves another actor"},
		{"hi @elsewhere@" + liarHost, "", "cannot mention @elsewhere@" + liarHost + ": " + liar.URL + "/users/elsewhere: inbox"},
		{"ok " + alice.Handle() + " but @nobody@" + host, "", "cannot mention @nobody@"},
		{"a reply", alice.Server.URL + "/users/alice/statuses/404", "cannot reply to " + alice.Server.URL + "/users/alice/statuses/404: GET"},
		{"a reply", liar.URL + "/notes/forged", "cannot reply to " + liar.URL + "/notes/forged: " + alice.ActorID() + " is not on " + liarHost},
		{"a reply", liar.URL + "/notes/actor", "cannot reply to " + liar.URL + "/notes/actor: the document has no attributedTo"},
		{"a reply", "https://blocked.example/notes/1", "cannot reply to https://blocked.example/notes/1: blocked.example is blocked here"},
	} {
		_, err := e.resolveAndPublish(tt.text, tt.inReplyTo)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("post %q (in reply to %q): %v, want an error with %q", tt.text, tt.inReplyTo, err, tt.want)
		}
	}
	var many strings.Builder
	for i := range maxMentions + 1 {
		many.WriteString(" @u" + string(rune('a'+i)) + "@" + host)
	}
	if _, err := e.resolveAndPublish(many.String(), ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("%d mentions: %v, want ErrInvalid", maxMentions+1, err)
	}
	e.sameSnapshot(before, "failed mentions")
}

// TestUnlistedMentionAudience: an unlisted note goes to the followers,
// with Public and the mentioned actors in cc.
func TestUnlistedMentionAudience(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n := &store.Note{Username: "nuttx_build", PublicID: "x", Visibility: store.Unlisted,
		Mentions: []store.Mention{{Href: "https://a.example/users/a", Name: "@a@a.example"}}}
	m := decoded(t, createDocument(e.s.site, n))
	if to, cc := m["to"].([]any), m["cc"].([]any); len(to) != 1 || to[0] != testBase+"/users/nuttx_build/followers" ||
		len(cc) != 2 || cc[0] != publicAddress || cc[1] != "https://a.example/users/a" {
		t.Errorf("to %v cc %v", to, cc)
	}
}
