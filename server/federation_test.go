package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// TestFollowReceivePostUnfollow is the whole story on loopback: a remote
// server (GoToSocial-like: hs2019, signed GETs only, no shared inbox) finds
// the bot with WebFinger, reads its actor, follows it, receives a signed
// Accept, then the note published with `nuttx-feed post` while the server
// runs; after its Undo it receives nothing more.
func TestFollowReceivePostUnfollow(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	r := fedtest.New(t, "alice", fedtest.GoToSocial, fedtest.FetchKeys)
	host := strings.TrimPrefix(ts.URL, "http://")

	// 1. WebFinger, the way GoToSocial asks (escaped resource).
	resp, body := get(t, ts.URL+"/.well-known/webfinger?resource="+url.QueryEscape("acct:nuttx_build@"+strings.Split(host, ":")[0]), "application/jrd+json")
	if resp.StatusCode != 200 {
		t.Fatalf("webfinger: %d %s", resp.StatusCode, body)
	}
	var jrd struct {
		Links []struct{ Rel, Type, Href string }
	}
	json.Unmarshal(body, &jrd)
	actorURL := jrd.Links[0].Href

	// 2. The actor, with a signed GET and GoToSocial's Accept header.
	req, _ := http.NewRequest(http.MethodGet, actorURL, nil)
	req.Header.Set("Accept", `application/ld+json; profile="https://www.w3.org/ns/activitystreams",application/activity+json`)
	if err := fedtest.SignAs(req, nil, fedtest.Style{Headers: []string{"(request-target)", "host", "date"}, Algorithm: "hs2019"}, r.KeyID(), r.Key); err != nil {
		t.Fatal(err)
	}
	aresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var actor map[string]any
	json.NewDecoder(aresp.Body).Decode(&actor)
	aresp.Body.Close()
	if actor["id"] != actorURL || actor["type"] != "Service" {
		t.Fatalf("actor = %v", actor)
	}
	sharedInbox := actor["endpoints"].(map[string]any)["sharedInbox"].(string)

	// 3. Follow through the shared inbox, as GoToSocial does.
	follow := r.FollowActivity(actorURL)
	fresp, err := r.Post(sharedInbox, follow)
	if err != nil {
		t.Fatal(err)
	}
	fresp.Body.Close()
	if fresp.StatusCode != http.StatusAccepted {
		t.Fatalf("Follow: HTTP %d, want 202", fresp.StatusCode)
	}

	// 4. The signed Accept, embedding the Follow with its exact id.
	d := r.WaitDeliveries(t, 1, 10*time.Second)[0]
	if d.VerifyErr != nil {
		t.Fatalf("Accept rejected by the remote: %v", d.VerifyErr)
	}
	if obj, _ := d.Activity["object"].(map[string]any); d.Activity["type"] != "Accept" || obj["id"] != follow["id"] {
		t.Fatalf("first delivery = %v, want an Accept of %v", d.Activity, follow["id"])
	}

	// 5. A note published from the command line while the server runs.
	code, out, errOut := run("post", "--data", ts.Dir, "--base-url", ts.URL, "Build failed: https://example.org/log #NuttX")
	if code != 0 {
		t.Fatalf("post: exit %d: %s", code, errOut)
	}
	noteURL := strings.TrimSpace(out)
	start := time.Now()
	d = r.WaitDeliveries(t, 2, 10*time.Second)[1]
	t.Logf("note delivered %v after the post command returned", time.Since(start).Round(time.Millisecond))
	if d.VerifyErr != nil {
		t.Fatalf("Create rejected by the remote: %v", d.VerifyErr)
	}
	obj, _ := d.Activity["object"].(map[string]any)
	if d.Activity["type"] != "Create" || obj["id"] != noteURL || d.Path != "/users/alice/inbox" {
		t.Fatalf("second delivery = %s %v", d.Path, d.Activity)
	}
	if !strings.Contains(obj["content"].(string), `<a href="https://example.org/log"`) {
		t.Errorf("content = %v", obj["content"])
	}
	// The note is dereferenceable at its id.
	if note := getJSON(t, noteURL); note["id"] != noteURL || note["attributedTo"] != actorURL {
		t.Errorf("GET note = %v", note)
	}

	// 6. Unfollow: the next post is not queued for alice at all.
	uresp, err := r.Post(sharedInbox, r.UndoActivity(follow))
	if err != nil {
		t.Fatal(err)
	}
	uresp.Body.Close()
	if uresp.StatusCode != http.StatusAccepted {
		t.Fatalf("Undo: HTTP %d", uresp.StatusCode)
	}
	if code, _, errOut := run("post", "--data", ts.Dir, "--base-url", ts.URL, "after the unfollow"); code != 0 {
		t.Fatalf("post: %s", errOut)
	}
	var queued int
	ts.sql(t).QueryRow(`SELECT COUNT(*) FROM deliveries WHERE inbox = ?`, r.Inbox()).Scan(&queued)
	if queued != 2 {
		t.Errorf("%d deliveries ever queued to alice, want 2 (Accept and the first note)", queued)
	}
	// Once nothing is pending, nothing more can reach alice.
	db := ts.sql(t)
	eventually.True(t, 10*time.Second, "an empty queue", func() bool {
		var pending int
		db.QueryRow(`SELECT COUNT(*) FROM deliveries WHERE state = 'pending'`).Scan(&pending)
		return pending == 0
	})
	if n := len(r.Deliveries()); n != 2 {
		t.Errorf("alice received %d activities, want 2", n)
	}
}

// TestBehindRewritingProxy puts the server behind a reverse proxy that
// rewrites Host, adds X-Forwarded-Proto and forwards chunked bodies, as a
// tunnel may (docs/FEDERATION.md, "Behind a proxy"): ids still come from the base URL and
// signed POSTs still verify.
func TestBehindRewritingProxy(t *testing.T) {
	t.Parallel()
	proxy := httptest.NewUnstartedServer(nil) // listening already: its URL is the server's base URL
	defer proxy.Close()
	proxyURL := "http://" + proxy.Listener.Addr().String()
	ts := startServer(t, func(c *Config) { c.BaseURL = proxyURL })
	origin, _ := url.Parse(ts.URL)
	proxy.Config.Handler = &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(origin)
		pr.Out.Host = "localhost:8080" // the origin sees another Host
		pr.Out.Header.Set("X-Forwarded-Proto", "https")
		if pr.Out.Body != nil && pr.Out.Body != http.NoBody {
			pr.Out.ContentLength = -1 // and a chunked body, without Content-Length
			pr.Out.Header.Del("Content-Length")
		}
	}}
	proxy.Start()

	r := fedtest.New(t, "pleroma_user", fedtest.Pleroma, fedtest.FetchKeys) // signs content-length too
	actor := getJSON(t, proxyURL+"/users/nuttx_build")
	if actor["id"] != proxyURL+"/users/nuttx_build" {
		t.Fatalf("id %v, want one built from the base URL", actor["id"])
	}
	resp, err := r.Post(proxyURL+"/inbox", r.FollowActivity(proxyURL+"/users/nuttx_build"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("Follow through the proxy: HTTP %d", resp.StatusCode)
	}
	if d := r.WaitDeliveries(t, 1, 10*time.Second)[0]; d.VerifyErr != nil || d.Activity["type"] != "Accept" {
		t.Fatalf("Accept: %v %v", d.VerifyErr, d.Activity["type"])
	}
}

// TestEveryPeerFollowsOverHTTP sends a Follow in every peer's signing style
// through the real HTTP stack.
func TestEveryPeerFollowsOverHTTP(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	for _, style := range fedtest.AllStyles {
		r := fedtest.New(t, "p_"+strings.ReplaceAll(style.Name, "-", "_"), style, fedtest.FetchKeys)
		for _, inbox := range []string{ts.URL + "/inbox", ts.URL + "/users/nuttx_build/inbox"} {
			resp, err := r.Post(inbox, r.FollowActivity(ts.URL+"/users/nuttx_build"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Errorf("%s Follow at %s: HTTP %d", style.Name, inbox, resp.StatusCode)
			}
		}
	}
	if n := storetest.Count(t, ts.sql(t), "followers"); n != len(fedtest.AllStyles) {
		t.Errorf("%d followers, want %d", n, len(fedtest.AllStyles))
	}
}

// TestSignedPostWithTrailingSlash: a POST signed for /inbox/ or
// /users/NAME/inbox/ (the path as the sender wrote it, slash included) is
// verified and accepted: routing ignores the slash, the signature check
// sees the request URI the sender signed.
func TestSignedPostWithTrailingSlash(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	r := fedtest.New(t, "slash", fedtest.GoToSocial, fedtest.FetchKeys)
	for _, inbox := range []string{"/inbox/", "/users/nuttx_build/inbox/"} {
		resp, err := r.Post(ts.URL+inbox, r.FollowActivity(ts.URL+"/users/nuttx_build"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Errorf("POST %s signed for that path: %d, want 202", inbox, resp.StatusCode)
		}
	}
	r.WaitDeliveries(t, 2, 10*time.Second) // both Follows accepted
	if page := getJSON(t, ts.URL+"/users/nuttx_build/outbox/?page=true"); page["type"] != "OrderedCollectionPage" {
		t.Errorf("GET outbox/?page=true: %v, want a page (the query kept)", page["type"])
	}
	// Signed for /inbox but sent to /inbox/: the URI differs from the signed one.
	body, _ := json.Marshal(r.FollowActivity(ts.URL + "/users/nuttx_build"))
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/inbox", bytes.NewReader(body))
	if err := r.Sign(req, body); err != nil {
		t.Fatal(err)
	}
	req.URL.Path = "/inbox/"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /inbox/ signed for /inbox: %d, want 401", resp.StatusCode)
	}
}
