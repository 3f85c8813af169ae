package activitypub

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// The inbox's defences against hostile servers (docs/FEDERATION.md,
// "Limits"). server/attack_test.go replays the attacks over HTTP; these
// pin the rules one by one.

func TestCheckInboxes(t *testing.T) {
	t.Parallel()
	strict := &Service{}
	lenient := &Service{httpInbox: true}
	const actor = "https://social.example/users/a"
	for _, c := range []struct {
		name, inbox, shared string
		strictOK, lenientOK bool
	}{
		{"https on the actor's host", "https://social.example/users/a/inbox", "https://social.example/inbox", true, true},
		{"no shared inbox", "https://social.example/users/a/inbox", "", true, true},
		{"host in other case", "https://Social.Example/users/a/inbox", "", true, true},
		{"no inbox", "", "https://social.example/inbox", false, false},
		{"the default port named", "https://social.example:443/users/a/inbox", "", true, true},
		{"http for an https actor", "http://social.example/users/a/inbox", "", false, false},
		{"file URL", "file:///etc/passwd", "", false, false},
		{"another host", "https://victim.example/inbox", "", false, false},
		{"a subdomain", "https://in.social.example/inbox", "", false, false},
		{"another port", "https://social.example:8443/inbox", "", false, false},
		{"shared inbox on another host", "https://social.example/users/a/inbox", "https://victim.example/inbox", false, false},
		{"userinfo", "https://x@social.example/inbox", "", false, false},
		{"opaque", "https:social.example/inbox", "", false, false},
	} {
		if err := strict.checkInboxes(actor, c.inbox, c.shared); (err == nil) != c.strictOK {
			t.Errorf("%s, https only: %v, want ok=%v", c.name, err, c.strictOK)
		}
		if err := lenient.checkInboxes(actor, c.inbox, c.shared); (err == nil) != c.lenientOK {
			t.Errorf("%s, private networks allowed: %v, want ok=%v", c.name, err, c.lenientOK)
		}
	}
	const httpActor = "http://social.example/users/a"
	if err := lenient.checkInboxes(httpActor, httpActor+"/inbox", ""); err != nil {
		t.Errorf("an http actor's http inbox, private networks allowed: %v", err)
	}
	if err := strict.checkInboxes(httpActor, httpActor+"/inbox", ""); err == nil {
		t.Error("an http actor's http inbox, https only: accepted")
	}
}

func TestFetchLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now()
	l := newFetchLimits(4, 2, 3, 30*time.Millisecond)
	at := func(domain, client string) fetchTarget {
		return fetchTarget{domain: domain, authority: domain + ":443", client: client}
	}
	take := func(what string, ft fetchTarget, when time.Time) func() {
		t.Helper()
		release, err := l.acquire(ctx, ft, when)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return release
	}
	refused := func(what string, ft fetchTarget, wantWait time.Duration) {
		t.Helper()
		_, err := l.acquire(ctx, ft, now)
		if !errors.Is(err, ErrUnavailable) || RetryAfter(err) != wantWait {
			t.Fatalf("%s: %v (Retry-After %v), want ErrUnavailable with %v", what, err, RetryAfter(err), wantWait)
		}
	}
	busy := 10 * time.Second
	// Per domain: 2.
	r1 := take("first to a.example", at("a.example", ""), now)
	r2 := take("second to a.example", at("a.example", ""), now)
	refused("a third fetch to one domain", at("a.example", ""), busy)
	// Per client: 3, whatever the domains; the global pool: 4.
	r3 := take("the client's first", at("b.example", "203.0.113.9"), now)
	r1()
	r4 := take("the client's second, where a.example has room again", at("a.example", "203.0.113.9"), now)
	r5 := take("the client's third", at("c.example", "203.0.113.9"), now)
	refused("the client's fourth", at("d.example", "203.0.113.9"), busy)
	refused("anyone's fetch beyond the global pool", at("e.example", ""), busy)
	for _, release := range []func(){r2, r3, r4, r5} {
		release()
	}
	l.mu.Lock()
	left := len(l.slots)
	l.mu.Unlock()
	if left != 0 {
		t.Errorf("%d semaphores still tracked after every release", left)
	}
	// Three failures in a row leave the authority alone for a while; a
	// success in between resets the count; another port of the same host
	// is not concerned.
	for i := range failingHostAfter {
		if i > 0 {
			l.record("d.example:443", false, now)
		}
		l.record("d.example:443", true, now)
	}
	take("after failures with a success between them", at("d.example", ""), now)()
	for range failingHostAfter {
		l.record("d.example:443", true, now)
	}
	refused("a failing authority", at("d.example", ""), failingFor)
	take("another port of a failing authority", fetchTarget{domain: "d.example", authority: "d.example:8443"}, now)()
	take("a failing authority once the time is over", at("d.example", ""), now.Add(failingFor))()
}

// A keyId whose fetch failed is not fetched again for a while, and the
// sender is told only what its server answered.
func TestFailingKeyIsNotFetchedAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var gets atomic.Int64
	missing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		http.NotFound(w, r)
	}))
	defer missing.Close()
	r := e.remote("mia", fedtest.Mastodon)
	for range 3 {
		req := inbound(t, r, "/inbox", r.FollowActivity(testBase+"/users/nuttx_build"))
		sig := req.Header.Get("Signature")
		req.Header.Set("Signature", replaceKeyID(sig, missing.URL+"/users/mia#main-key"))
		err := e.s.HandleInbox(e.ctx, "", req)
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("HandleInbox = %v, want ErrUnauthorized", err)
		}
	}
	if n := gets.Load(); n != 1 {
		t.Errorf("the missing key was fetched %d times, want once", n)
	}
}

// replaceKeyID points a Signature header at another key id (the signature
// itself then cannot verify, which does not matter before the key is read).
func replaceKeyID(sig, keyID string) string {
	return regexp.MustCompile(`keyId="[^"]*"`).ReplaceAllLiteralString(sig, `keyId="`+keyID+`"`)
}

// A key reached through a redirect on the same host is fetched, the
// redirected GET signed for its own path; a redirect to another host is
// refused.
func TestKeyFetchRedirects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.remote("rita", fedtest.Mastodon)
	ourKey, err := e.ourKeys(testBase + "/users/nuttx_build#main-key")
	if err != nil {
		t.Fatal(err)
	}
	var badSignature atomic.Value
	mux := http.NewServeMux()
	var front *httptest.Server
	mux.HandleFunc("/old/rita", func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, "/users/rita", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/away/rita", func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, r.ActorID(), http.StatusFound) // another host (port)
	})
	mux.HandleFunc("/users/rita", func(w http.ResponseWriter, req *http.Request) {
		in := InboundRequest{Method: req.Method, RequestURI: req.RequestURI, Header: req.Header}
		if err := verifyGET(in, req.Host, time.Now(), ourKey); err != nil {
			badSignature.Store(err.Error())
		}
		id := front.URL + "/users/rita"
		w.Header().Set("Content-Type", "application/activity+json")
		json.NewEncoder(w).Encode(map[string]any{"id": id, "type": "Person", "inbox": id + "/inbox",
			"publicKey": map[string]any{"id": front.URL + "/old/rita#main-key", "owner": id, "publicKeyPem": fedtest.PublicKeyPEM(&r.Key.PublicKey)}})
	})
	front = httptest.NewServer(mux)
	defer front.Close()

	k, _, err := e.s.key(e.ctx, front.URL+"/old/rita#main-key", false)
	if err != nil {
		t.Fatalf("a key behind a same-host redirect: %v", err)
	}
	if k.owner != front.URL+"/users/rita" {
		t.Errorf("owner %s", k.owner)
	}
	if v := badSignature.Load(); v != nil {
		t.Errorf("the redirected GET does not verify: %v", v)
	}
	_, _, err = e.s.key(e.ctx, front.URL+"/away/rita#main-key", false)
	var de *docError
	if !errors.As(err, &de) {
		t.Errorf("a key behind a redirect to another host: %v, want the document's fault", err)
	}
}

// A replayed Follow is answered with a new Accept only when none went out
// in the last hour.
func TestReplayedFollowGetsItsAcceptAgainAfterAnHour(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.remote("ray", fedtest.Mastodon)
	req := inbound(t, r, "/inbox", r.FollowActivity(testBase+"/users/nuttx_build"))
	accepts := func() int {
		var n int
		e.db.SQL.QueryRow(`SELECT COUNT(*) FROM activities WHERE type = 'Accept'`).Scan(&n)
		return n
	}
	for range 2 {
		if err := e.s.HandleInbox(e.ctx, "", req); err != nil {
			t.Fatal(err)
		}
	}
	if n := accepts(); n != 1 {
		t.Fatalf("%d Accepts after a Follow and its replay, want 1", n)
	}
	// The Accept went out (and, here, never arrived) two hours ago.
	if _, err := e.db.SQL.Exec(`UPDATE deliveries SET state = 'delivered', created_at = created_at - 7200000, finished_at = created_at - 7200000`); err != nil {
		t.Fatal(err)
	}
	if err := e.s.HandleInbox(e.ctx, "", req); err != nil {
		t.Fatal(err)
	}
	if n := accepts(); n != 2 {
		t.Errorf("%d Accepts after a replay two hours later, want 2", n)
	}
	if err := e.s.HandleInbox(e.ctx, "", req); err != nil {
		t.Fatal(err)
	}
	if n := accepts(); n != 2 {
		t.Errorf("%d Accepts after one more replay, want still 2", n)
	}
}

// An inbox that is no http(s) URL, stored before the inbox checked them,
// is given up at its first attempt, not retried for days.
func TestNonHTTPInboxIsGivenUpAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, _ := e.s.Actor(e.ctx, "nuttx_build")
	e.saveFollowers(store.Follower{ActorID: a.ID, IRI: "https://x.example/users/f", Inbox: "file:///etc/passwd", FollowID: "https://x.example/f"})
	e.runDelivery()
	e.publish("x")
	eventually.True(t, 10*time.Second, "the delivery finished", func() bool { return e.deliveryTo("file:///etc/passwd").State != store.Pending })
	if d := e.deliveryTo("file:///etc/passwd"); d.State != store.Failed || d.Attempts != 1 || !strings.Contains(d.Error, "bad inbox URL") {
		t.Errorf("delivery %+v, want failed after one attempt as a bad inbox URL", d)
	}
}

// The fetch limits are used by every inbox request at once: recording
// failures and acquiring slots must not race (go test -race).
func TestFetchLimitsConcurrentUse(t *testing.T) {
	t.Parallel()
	l := newFetchLimits(32, 2, 4, 50*time.Millisecond)
	now := time.Now()
	target := fetchTarget{domain: "victim.example", authority: "victim.example:443"}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 2000 {
				l.record(target.authority, i%4 != 0, now)
			}
		})
		wg.Go(func() {
			for range 2000 {
				if release, err := l.acquire(context.Background(), target, now); err == nil {
					release()
				}
			}
		})
	}
	wg.Wait()
}
