package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/nuttx-feed/nuttx-feed/webfinger"
)

// startFollowServer runs a test server that reaches simulated servers
// over plain http, as remote follow would over https.
func startFollowServer(t *testing.T, mutate ...func(*Config)) *testServer {
	t.Helper()
	ln := listen(t)
	cfg := startConfig(t, ln)
	for _, m := range mutate {
		m(&cfg)
	}
	return startWith(t, cfg, ln, withRemoteScheme("http"))
}

// remoteServer simulates a Fediverse server whose WebFinger answers with
// answer (nil: 404), counting the lookups and checking their resource.
func remoteServer(t *testing.T, user string, answer func(host string) []byte) (host string, lookups *atomic.Int32) {
	t.Helper()
	lookups = &atomic.Int32{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lookups.Add(1)
		if r.URL.Path != "/.well-known/webfinger" || r.URL.Query().Get("resource") != "acct:"+user+"@"+r.Host {
			t.Errorf("remote server asked %s", r.URL)
		}
		body := answer(r.Host)
		if body == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/jrd+json")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), lookups
}

// jrdWith is a WebFinger answer offering a subscribe template.
func jrdWith(template string) []byte {
	b, _ := json.Marshal(webfinger.JRD{Subject: "acct:alice@example.org", Links: []webfinger.Link{
		{Rel: "self", Type: "application/activity+json", Href: "https://example.org/users/alice"},
		{Rel: subscribeRel, Template: template},
	}})
	return b
}

// followFrom asks ts to send a visitor to server and returns where it sent
// them (the 303's Location).
func followFrom(t *testing.T, ts *testServer, server string) string {
	t.Helper()
	resp, body := get(t, ts.URL+"/follow?"+url.Values{"server": {server}}.Encode(), "text/html")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("follow from %q: %d %s, want 303", server, resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

// TestRemoteFollowUsesSubscribeTemplate: given a handle, remote follow
// looks up the visitor's server by WebFinger and sends them to its
// subscribe template filled with the bot's actor id.
func TestRemoteFollowUsesSubscribeTemplate(t *testing.T) {
	t.Parallel()
	ts := startFollowServer(t)
	host, lookups := remoteServer(t, "alice", func(host string) []byte {
		return jrdWith("http://" + host + "/authorize-follow?acct={uri}")
	})
	actor := url.QueryEscape(ts.URL + "/users/nuttx_build")
	want := "http://" + host + "/authorize-follow?acct=" + actor
	for _, in := range []string{"@alice@" + host, " alice@" + host + " ", "https://" + host + "/@alice", "http://" + host + "/@alice/"} {
		if got := followFrom(t, ts, in); got != want {
			t.Errorf("follow from %q: sent to %q, want %q", in, got, want)
		}
	}
	if n := lookups.Load(); n != 4 {
		t.Errorf("%d WebFinger lookups, want 4", n)
	}
}

// TestRemoteFollowFallsBack: with only a domain (no lookup), or when the
// visitor's server offers no usable template (none, 404, an answer past
// the size limit, a javascript: template, unreachable), remote follow
// sends the visitor to the server's /authorize_interaction.
func TestRemoteFollowFallsBack(t *testing.T) {
	t.Parallel()
	ts := startFollowServer(t)
	actor := url.QueryEscape(ts.URL + "/users/nuttx_build")
	fallback := func(host string) string { return "http://" + host + "/authorize_interaction?uri=" + actor }

	host, lookups := remoteServer(t, "alice", func(host string) []byte { return jrdWith("http://" + host + "/x?uri={uri}") })
	if got := followFrom(t, ts, host); got != fallback(host) {
		t.Errorf("follow from the domain %s: sent to %q, want %q", host, got, fallback(host))
	}
	if n := lookups.Load(); n != 0 {
		t.Errorf("a domain alone made %d lookups", n)
	}

	closed := listen(t)
	unreachable := closed.Addr().String()
	closed.Close()
	for name, answer := range map[string]func(string) []byte{
		"no template": func(string) []byte {
			return []byte(`{"subject":"acct:alice@x","links":[{"rel":"self","href":"https://x/u"}]}`)
		},
		"404":      func(string) []byte { return nil },
		"not JSON": func(string) []byte { return []byte("<html>") },
		"too large": func(host string) []byte {
			return append(bytes.Repeat([]byte(" "), maxFollowJRD), jrdWith("http://"+host+"/x?uri={uri}")...)
		},
		"javascript: template":   func(string) []byte { return jrdWith("javascript:alert(1)//{uri}") },
		"template without {uri}": func(host string) []byte { return jrdWith("http://" + host + "/follow") },
	} {
		host, lookups := remoteServer(t, "alice", answer)
		if got := followFrom(t, ts, "@alice@"+host); got != fallback(host) {
			t.Errorf("%s: sent to %q, want %q", name, got, fallback(host))
		}
		if n := lookups.Load(); n != 1 {
			t.Errorf("%s: %d lookups, want 1", name, n)
		}
	}
	if got := followFrom(t, ts, "@alice@"+unreachable); got != fallback(unreachable) {
		t.Errorf("unreachable server: sent to %q, want %q", got, fallback(unreachable))
	}
}

// TestRemoteFollowRefusesJunk: input that is no server name or handle
// gets a 400 page with a clear message, and no request leaves.
func TestRemoteFollowRefusesJunk(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.AllowPrivateNetworks = false })
	for _, in := range []string{
		"", "   ", "mastodon social", "https://mastodon.social/@alice/123", "https://mastodon.social/about", "mastodon.social/path",
		"javascript:alert(1)", "127.0.0.1", "[::1]", "@alice@127.0.0.1:8080", "10.1.2.3", "[::ffff:127.0.0.1]",
		"0177.0.0.1", "localhost", "@al ice@mastodon.social", "@a/b@mastodon.social", "@@mastodon.social",
		"alice@bob@mastodon.social", "mastodon.social:99999", "mastodon.social:x", "-bad.example", "a..example",
		"ex_ample.org", "%2e%2e", strings.Repeat("a", 300), strings.Repeat("a.", 150) + "org", "mastodon.social:80:80",
	} {
		resp, body := get(t, ts.URL+"/follow?"+url.Values{"server": {in}}.Encode(), "text/html")
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("follow from %q: %d (Location %q), want 400", in, resp.StatusCode, resp.Header.Get("Location"))
			continue
		}
		doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if msg := doc.Find("main p").First().Text(); !strings.Contains(msg, "your server's domain (mastodon.social) or your handle") {
			t.Errorf("follow from %q: message %q", in, msg)
		}
	}
	actor := url.QueryEscape(ts.URL + "/users/nuttx_build")
	for in, host := range map[string]string{"mastodon.social": "mastodon.social", "Mastodon.Social.": "mastodon.social",
		"https://mastodon.social": "mastodon.social", "HTTPS://mastodon.social/": "mastodon.social", "mastodon.social/": "mastodon.social",
		"ｍastodon.social:8443": "mastodon.social:8443", "[2606:4700::1]": "[2606:4700::1]", "2606:4700::1": "[2606:4700::1]"} {
		if got, want := followFrom(t, ts, in), "https://"+host+"/authorize_interaction?uri="+actor; got != want {
			t.Errorf("follow from %q: sent to %q, want %q", in, got, want)
		}
	}
	resp, _ := get(t, ts.URL+"/follow?server=mastodon.social&user=nobody", "text/html")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("follow of a user who is not here: %d, want 404", resp.StatusCode)
	}
}

// TestRemoteFollowIsRateLimited: /follow counts against --rate-limit.
func TestRemoteFollowIsRateLimited(t *testing.T) {
	t.Parallel()
	ts := startFollowServer(t, func(c *Config) { c.RateLimit = 2 })
	for range 2 {
		followFrom(t, ts, "mastodon.social")
	}
	if resp, _ := get(t, ts.URL+"/follow?server=mastodon.social", "text/html"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("past the limit: %d, want 429", resp.StatusCode)
	}
}

// TestProfileRemoteFollowForm: the profile carries the form, which
// submits the server field and the profile's user to /follow; the page's
// CSP lets it submit and redirect.
func TestProfileRemoteFollowForm(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	resp, body := get(t, ts.URL+"/@nuttx_build", "text/html")
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	form := doc.Find("form.remote-follow")
	if form.AttrOr("action", "") != "/follow" || form.AttrOr("method", "") != "get" {
		t.Fatalf("form action %q method %q", form.AttrOr("action", ""), form.AttrOr("method", ""))
	}
	if got := form.Find(`input[type=hidden][name=user]`).AttrOr("value", ""); got != "nuttx_build" {
		t.Errorf("user field %q", got)
	}
	id := form.Find(`input[name=server]`).AttrOr("id", "")
	if id == "" || form.Find(`label[for=`+id+`]`).Length() != 1 {
		t.Errorf("the server field (id %q) has no label", id)
	}
	if got := strings.TrimSpace(form.Find("button[type=submit]").Text()); got != "Follow from your server" {
		t.Errorf("button %q", got)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https:") {
		t.Errorf("CSP %q blocks the form", csp)
	}
}

// TestRemoteReplyToNote: with note=ID (the thread page's form), the
// visitor's server is asked to show that note, through its subscribe
// template or /authorize_interaction; an unknown note is 404 and a
// deleted one 410, and no lookup leaves for either.
func TestRemoteReplyToNote(t *testing.T) {
	t.Parallel()
	ts := startFollowServer(t)
	n := ts.publish(t, "sim:nsh broke")
	iri := url.QueryEscape(ts.svc.NoteIRI(n))
	host, lookups := remoteServer(t, "alice", func(host string) []byte { return jrdWith("http://" + host + "/interact?uri={uri}") })
	replyFrom := func(server, note string) *http.Response {
		resp, _ := get(t, ts.URL+"/follow?"+url.Values{"server": {server}, "note": {note}}.Encode(), "text/html")
		return resp
	}
	if got := replyFrom("@alice@"+host, n.PublicID).Header.Get("Location"); got != "http://"+host+"/interact?uri="+iri {
		t.Errorf("reply from a handle: sent to %q, want the template filled with the note's id", got)
	}
	if got := replyFrom(host, n.PublicID).Header.Get("Location"); got != "http://"+host+"/authorize_interaction?uri="+iri {
		t.Errorf("reply from a domain: sent to %q", got)
	}
	if resp := replyFrom("@alice@"+host, "0123456789abcdef0123456789abcdef"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("reply to an unknown note: %d, want 404", resp.StatusCode)
	}
	if _, err := ts.svc.DeleteNote(t.Context(), n.PublicID); err != nil {
		t.Fatal(err)
	}
	if resp := replyFrom("@alice@"+host, n.PublicID); resp.StatusCode != http.StatusGone {
		t.Errorf("reply to a deleted note: %d, want 410", resp.StatusCode)
	}
	if got := lookups.Load(); got != 1 {
		t.Errorf("%d WebFinger lookups, want 1 (none for a missing or deleted note)", got)
	}
}

// TestThreadPageReplyForm: a thread page carries the "reply from your
// server" form; submitted as a browser submits it, it sends the visitor's
// server the note's id. A deleted note's page has none.
func TestThreadPageReplyForm(t *testing.T) {
	t.Parallel()
	ts := startFollowServer(t)
	n := ts.publish(t, "sim:nsh broke")
	doc := getPage(t, ts.site.NoteURL(n.Username, n.PublicID), http.StatusOK)
	section := doc.Find("section.reply-help")
	if got := section.Find("code.post-address").Text(); got != ts.site.NoteURL(n.Username, n.PublicID) {
		t.Errorf("the page gives the address %q to paste", got)
	}
	form := section.Find("form.remote-follow")
	q := url.Values{"server": {"mastodon.example"}}
	form.Find("input[type=hidden]").Each(func(_ int, in *goquery.Selection) { q.Set(in.AttrOr("name", ""), in.AttrOr("value", "")) })
	resp, body := get(t, ts.URL+form.AttrOr("action", "")+"?"+q.Encode(), "text/html")
	if want := "http://mastodon.example/authorize_interaction?uri=" + url.QueryEscape(ts.svc.NoteIRI(n)); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
		t.Errorf("the form sends to %d %q %s, want 303 to %q", resp.StatusCode, resp.Header.Get("Location"), body, want)
	}
	if _, err := ts.svc.DeleteNote(t.Context(), n.PublicID); err != nil {
		t.Fatal(err)
	}
	if getPage(t, ts.site.NoteURL(n.Username, n.PublicID), http.StatusGone).Find("section.reply-help").Length() != 0 {
		t.Error("a deleted note's page offers to reply")
	}
}
