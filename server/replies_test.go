package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// postReply POSTs activity from r to the server's shared inbox over HTTP
// and wants 202.
func postReply(t *testing.T, ts *testServer, r *fedtest.Remote, activity map[string]any) {
	t.Helper()
	resp, err := r.Post(ts.URL+"/inbox", activity)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%s from %s: HTTP %d, want 202", activity["type"], r.Username, resp.StatusCode)
	}
}

// A simulated server posts signed replies to a note over HTTP: the thread
// page shows them in order with the author's name, handle (linking to
// their profile), avatar and time, the content sanitized; the reply count
// includes them on the thread and on the profile; the CSP lets https
// avatars load and no script run.
func TestThreadPageShowsFediverseReplies(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	root := ts.publish(t, "Build failed: sim:nsh")
	alice := fedtest.New(t, "alice", fedtest.Mastodon, fedtest.FetchKeys)
	alice.DisplayName, alice.AvatarURL = "Alice", "https://cdn.example/alice.png"
	iri := ts.svc.NoteIRI(root)
	first := alice.ActorID() + "/statuses/1"
	postReply(t, ts, alice, alice.NoteActivity("Create", first, iri, `<p>looking <a href="https://github.com/apache/nuttx/pull/1">#1</a></p>`))
	postReply(t, ts, alice, alice.NoteActivity("Create", alice.ActorID()+"/statuses/2", first,
		`<p onmouseover="alert(1)">fixed<script>document.title='owned'</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)">x</a></p>`))

	resp, _ := get(t, ts.site.NoteURL(root.Username, root.PublicID), "text/html")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' https:;") || strings.Contains(csp, "script-src") ||
		!strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q: want https images and no script", csp)
	}
	doc := getPage(t, ts.site.NoteURL(root.Username, root.PublicID), http.StatusOK)
	replies := doc.Find("article.remote-reply")
	if replies.Length() != 2 {
		t.Fatalf("%d remote replies shown, want 2", replies.Length())
	}
	host := strings.TrimPrefix(alice.Server.URL, "http://")
	one := replies.First()
	if name := one.Find(".name").Text(); name != "Alice" {
		t.Errorf("author name %q, want Alice", name)
	}
	if h := one.Find("a.handle"); h.Text() != "@alice@"+host || h.AttrOr("href", "") != alice.ActorID() || h.AttrOr("rel", "") != "nofollow noopener ugc" {
		t.Errorf("handle %q linking to %q (rel %q), want @alice@%s linking to %s", h.Text(), h.AttrOr("href", ""), h.AttrOr("rel", ""), host, alice.ActorID())
	}
	if img := one.Find("header.author img"); img.AttrOr("src", "") != alice.AvatarURL || img.AttrOr("alt", "") != "Avatar of Alice" {
		t.Errorf("avatar src %q alt %q, want %s with alt text", img.AttrOr("src", ""), img.AttrOr("alt", ""), alice.AvatarURL)
	}
	if tm := one.Find(".meta time").AttrOr("datetime", ""); tm != "2026-11-29T10:00:00Z" {
		t.Errorf("time %q, want the reply's published", tm)
	}
	if a := one.Find(".content a"); a.AttrOr("href", "") != "https://github.com/apache/nuttx/pull/1" || a.AttrOr("rel", "") != "nofollow noopener ugc" {
		t.Errorf("link in the reply: href %q rel %q", a.AttrOr("href", ""), a.AttrOr("rel", ""))
	}
	two := replies.Eq(1)
	if !strings.Contains(two.Find(".content").Text(), "fixed") {
		t.Errorf("second reply reads %q, want it shown in order", two.Find(".content").Text())
	}
	html, _ := goquery.OuterHtml(two.Find(".content"))
	checkInertPage(t, html)
	if doc.Find("script").Length() != 0 || doc.Find("[onmouseover], [onerror]").Length() != 0 {
		t.Error("the page has a script or an event handler")
	}
	if c := doc.Find("article.focus .meta span").Text(); c != "2 replies" {
		t.Errorf("thread reply count %q, want 2 replies", c)
	}
	profile := getPage(t, ts.site.Profile("nuttx_build"), http.StatusOK)
	if c := profile.Find("article.note .meta span").First().Text(); c != "2 replies" {
		t.Errorf("profile reply count %q, want 2 replies", c)
	}
}

// checkInertPage fails when a reply's HTML on the page holds anything but
// text, kept elements and links with an http(s) href.
func checkInertPage(t *testing.T, html string) {
	t.Helper()
	for _, bad := range []string{"<script", "<img", "onmouseover", "onerror", "javascript:", "owned"} {
		if strings.Contains(html, bad) {
			t.Errorf("reply HTML %q contains %q", html, bad)
		}
	}
}

// A note names its replies collection; the collection counts what the
// thread page counts (our own replies and those from the Fediverse, past
// the ones a page lists) and lists their ids oldest first, by pages of
// store.PageSize, readable as Mastodon reads one (first, then
// orderedItems). A deleted note has none; a bad page number is a 400.
func TestRepliesCollection(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	root := ts.publish(t, "Build failed: sim:nsh")
	iri := ts.svc.NoteIRI(root)
	ours, err := ts.publishPost(t, activitypub.Post{Content: richtext.Parse("fixed by #1"), InReplyTo: iri})
	if err != nil {
		t.Fatal(err)
	}
	alice := fedtest.New(t, "alice", fedtest.Mastodon, fedtest.FetchKeys)
	want := []string{ts.svc.NoteIRI(ours)} // published now: after alice's, which are dated 10:00
	var remote []string
	for i := range store.PageSize + 2 {
		id := fmt.Sprintf("%s/statuses/%d", alice.ActorID(), i)
		postReply(t, ts, alice, alice.NoteActivity("Create", id, iri, "<p>me too</p>"))
		remote = append(remote, id)
	}
	want = append(remote, want...)

	note := getJSON(t, iri)
	replies, _ := note["replies"].(map[string]any)
	if replies["id"] != iri+"/replies" || replies["type"] != "OrderedCollection" || replies["first"] != iri+"/replies?page=1" {
		t.Fatalf("the note's replies: %v", note["replies"])
	}
	front := getJSON(t, iri+"/replies")
	if front["type"] != "OrderedCollection" || front["totalItems"] != float64(len(want)) || front["first"] != iri+"/replies?page=1" {
		t.Errorf("front page %v, want an OrderedCollection of %d with its first page", front, len(want))
	}
	var got []string
	for url := front["first"].(string); url != ""; {
		page := getJSON(t, url)
		if page["type"] != "OrderedCollectionPage" || page["partOf"] != iri+"/replies" || page["totalItems"] != float64(len(want)) {
			t.Errorf("page %s: %v", url, page)
		}
		for _, item := range page["orderedItems"].([]any) {
			got = append(got, item.(string))
		}
		url, _ = page["next"].(string)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the collection lists %v, want %v", got, want)
	}
	doc := getPage(t, ts.site.NoteURL(root.Username, root.PublicID), http.StatusOK)
	if c := doc.Find("article.focus .meta span").Text(); c != fmt.Sprintf("%d replies", len(want)) {
		t.Errorf("thread page counts %q, the collection %d", c, len(want))
	}

	if resp, body := get(t, iri+"/replies?page=0", apAccept); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("page=0: %d %s, want 400", resp.StatusCode, body)
	}
	if resp, _ := get(t, ts.site.Note("nuttx_build", "0123456789abcdef0123456789abcdef")+"/replies", apAccept); resp.StatusCode != http.StatusNotFound {
		t.Errorf("replies of a missing note: %d, want 404", resp.StatusCode)
	}
	if _, err := ts.svc.DeleteNote(t.Context(), iri); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, iri+"/replies", apAccept); resp.StatusCode != http.StatusNotFound {
		t.Errorf("replies of a deleted note: %d, want 404", resp.StatusCode)
	}
}

// A public note mentioning the bot is shown in the profile's Mentions
// section, sanitized; a profile without mentions has no such section.
func TestProfileShowsMentions(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	if getPage(t, ts.site.Profile("nuttx_build"), http.StatusOK).Find("section.mentions").Length() != 0 {
		t.Error("a Mentions section without mentions")
	}
	alice := fedtest.New(t, "alice", fedtest.Mastodon, fedtest.FetchKeys)
	alice.DisplayName = "Alice"
	m := alice.NoteActivity("Create", alice.ActorID()+"/statuses/1", "", `<p>@nuttx_build why is sim:nsh red?<script>alert(1)</script></p>`)
	note := m["object"].(map[string]any)
	delete(note, "inReplyTo")
	note["tag"] = map[string]any{"type": "Mention", "href": ts.site.Actor("nuttx_build"), "name": "@nuttx_build"}
	postReply(t, ts, alice, m)

	doc := getPage(t, ts.site.Profile("nuttx_build"), http.StatusOK)
	section := doc.Find("section.mentions")
	if h := section.Find("h2").Text(); h != "Mentions" {
		t.Fatalf("mentions heading %q", h)
	}
	one := section.Find("article.remote-reply")
	if one.Length() != 1 || one.Find(".name").Text() != "Alice" || !strings.Contains(one.Find(".content").Text(), "why is sim:nsh red?") {
		t.Errorf("mentions shown: %d, first by %q reading %q", one.Length(), one.Find(".name").Text(), one.Find(".content").Text())
	}
	if doc.Find("script").Length() != 0 {
		t.Error("a script on the profile")
	}

	// A long mention shows the start of its text, on one line.
	long := alice.NoteActivity("Create", alice.ActorID()+"/statuses/2", "", "<p>@nuttx_build</p><p>"+strings.Repeat("very long question ", 800)+"</p>")
	note = long["object"].(map[string]any)
	delete(note, "inReplyTo")
	note["tag"] = map[string]any{"type": "Mention", "href": ts.site.Actor("nuttx_build"), "name": "@nuttx_build"}
	postReply(t, ts, alice, long)
	first := getPage(t, ts.site.Profile("nuttx_build"), http.StatusOK).Find("section.mentions article").First().Find(".content").Text()
	if n := len([]rune(first)); n > 281 || !strings.HasPrefix(first, "@nuttx_build very long question") || !strings.HasSuffix(first, "…") {
		t.Errorf("a long mention shows %d characters: %.60q…, want its first 280 and …", n, first)
	}
}

// ampURL is an https URL of 2,048 bytes (the most a reply's links keep)
// made of "&", which a page writes as "&amp;": five bytes for each.
func ampURL(prefix string) string {
	return prefix + strings.Repeat("&", 2048-len(prefix))
}

// TestPagesBoundWithEscapedNames: a remote actor whose name and links are
// all "&" (five times longer once escaped) sends 15 replies with such
// links, and as many mentions of the bot: the thread page and the
// profile stay under 100 KB (a mention too long for the profile's budget
// is left out).
func TestPagesBoundWithEscapedNames(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	root := ts.publish(t, "Build failed: sim:nsh")
	eve := fedtest.New(t, "eve", fedtest.Mastodon, fedtest.FetchKeys)
	eve.DisplayName = strings.Repeat("&", 100)
	eve.AvatarURL = ampURL("https://cdn.example/a?")
	eve.ProfileURL = ampURL("https://cdn.example/p?")
	iri := ts.svc.NoteIRI(root)
	for i := range 15 {
		act := eve.NoteActivity("Create", fmt.Sprintf("%s/statuses/%d", eve.ActorID(), i), iri, "<p>hi</p>")
		act["object"].(map[string]any)["url"] = ampURL(fmt.Sprintf("https://cdn.example/n%d?", i))
		postReply(t, ts, eve, act)
		m := eve.NoteActivity("Create", fmt.Sprintf("%s/statuses/m%d", eve.ActorID(), i), "", "<p>@nuttx_build "+strings.Repeat("&amp;", 300)+"</p>")
		note := m["object"].(map[string]any)
		delete(note, "inReplyTo")
		note["url"] = ampURL(fmt.Sprintf("https://cdn.example/m%d?", i))
		note["tag"] = map[string]any{"type": "Mention", "href": ts.site.Actor("nuttx_build"), "name": "@nuttx_build"}
		postReply(t, ts, eve, m)
	}
	for _, page := range []string{ts.site.NoteURL(root.Username, root.PublicID), ts.site.Profile("nuttx_build")} {
		resp, body := get(t, page, "text/html")
		if resp.StatusCode != http.StatusOK || len(body) >= maxPageBytes {
			t.Errorf("%s: %d, %d bytes; want 200 under %d", page, resp.StatusCode, len(body), maxPageBytes)
		}
	}
	// The thread page shows what fits, and pages the rest.
	doc := getPage(t, ts.site.NoteURL(root.Username, root.PublicID), http.StatusOK)
	if n := doc.Find("article.remote-reply").Length(); n == 0 || n == 15 || doc.Find("p.more-replies a").Length() != 1 {
		t.Errorf("the thread page shows %d of eve's 15 replies, with %d links to more; want some, and the rest on another page", n, doc.Find("p.more-replies a").Length())
	}
}
