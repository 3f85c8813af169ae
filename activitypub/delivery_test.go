package activitypub

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/logtest"
	"github.com/nuttx-feed/nuttx-feed/internal/safehttp"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// followBy makes r follow the bot through the inbox.
func (e *testEnv) followBy(r *fedtest.Remote) {
	e.t.Helper()
	if err := e.s.HandleInbox(e.ctx, "", inbound(e.t, r, "/inbox", r.FollowActivity(testBase+"/users/nuttx_build"))); err != nil {
		e.t.Fatal(err)
	}
}

func TestPublishDeliversCreateToFollowers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.runDelivery()
	gts := e.remote("alice", fedtest.GoToSocial)
	masto := e.remote("bob", fedtest.Mastodon)
	masto.SharedInbox = true
	e.followBy(gts)
	e.followBy(masto)
	gts.WaitDeliveries(t, 1, 5*time.Second) // the Accepts
	masto.WaitDeliveries(t, 1, 5*time.Second)

	n := e.publish("rv-virt:citest failed, see https://example.org/log #NuttX")
	for _, r := range []*fedtest.Remote{gts, masto} {
		d := r.WaitDeliveries(t, 2, 5*time.Second)[1]
		if d.VerifyErr != nil {
			t.Errorf("%s: %v", r.Username, d.VerifyErr)
		}
		a := d.Activity
		obj, _ := a["object"].(map[string]any)
		if a["type"] != "Create" || obj["type"] != "Note" || obj["id"] != e.s.NoteIRI(n) {
			t.Errorf("%s got %v", r.Username, a)
		}
		if d.Header.Get("Content-Type") != ContentType {
			t.Errorf("Content-Type %q", d.Header.Get("Content-Type"))
		}
		if ua := d.Header.Get("User-Agent"); !strings.HasPrefix(ua, "nuttx-feed/") || !strings.Contains(ua, testBase) {
			t.Errorf("User-Agent %q", ua)
		}
	}
	if p := masto.Deliveries()[1].Path; p != "/inbox" {
		t.Errorf("Mastodon follower got the post at %s, want its shared inbox", p)
	}
	if p := gts.Deliveries()[1].Path; p != "/users/alice/inbox" {
		t.Errorf("GoToSocial follower got the post at %s, want its personal inbox", p)
	}
	eventually.True(t, 5*time.Second, "deliveries recorded", func() bool {
		st, _ := e.db.Stats(e.ctx)
		return st.Delivered == 4 && st.Pending == 0
	})
}

func TestSharedInboxDeduplication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, _ := e.s.Actor(e.ctx, "nuttx_build")
	// Three followers on one server with a shared inbox, two on a server
	// without one.
	var fs []store.Follower
	for i := range 3 {
		fs = append(fs, store.Follower{ActorID: a.ID, IRI: fmt.Sprintf("https://m.example/users/%d", i), Inbox: fmt.Sprintf("https://m.example/users/%d/inbox", i),
			SharedInbox: "https://m.example/inbox", FollowID: fmt.Sprint(i)})
	}
	for i := range 2 {
		fs = append(fs, store.Follower{ActorID: a.ID, IRI: fmt.Sprintf("https://g.example/users/%d", i), Inbox: fmt.Sprintf("https://g.example/users/%d/inbox", i),
			FollowID: fmt.Sprint(i)})
	}
	e.saveFollowers(fs...)
	e.publish("hello")
	rows, _ := e.db.SQL.Query(`SELECT inbox, follower FROM deliveries ORDER BY inbox`)
	defer rows.Close()
	var got []string
	for rows.Next() {
		var inbox, follower string
		rows.Scan(&inbox, &follower)
		got = append(got, inbox+" "+follower)
	}
	want := []string{
		"https://g.example/users/0/inbox https://g.example/users/0",
		"https://g.example/users/1/inbox https://g.example/users/1",
		"https://m.example/inbox ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("deliveries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// sink is an inbox host whose answers a test scripts.
type sink struct {
	*httptest.Server
	mu    sync.Mutex
	times map[string][]time.Time // by path
	dates map[string][]string
	reply func(path string, n int) (int, http.Header, time.Duration)
}

func newSink(t *testing.T, reply func(path string, n int) (int, http.Header, time.Duration)) *sink {
	s := &sink{times: map[string][]time.Time{}, dates: map[string][]string{}, reply: reply}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.times[r.URL.Path] = append(s.times[r.URL.Path], time.Now())
		s.dates[r.URL.Path] = append(s.dates[r.URL.Path], r.Header.Get("Date"))
		n := len(s.times[r.URL.Path])
		s.mu.Unlock()
		status, h, delay := s.reply(r.URL.Path, n)
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		for k, v := range h {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sink) hits(path string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.times[path]...)
}

func shortBackoff(o *Options) {
	o.Delivery.Backoff = []time.Duration{200 * time.Millisecond, 400 * time.Millisecond}
}

func TestDeliveryRetriesOn500ThenGivesUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, shortBackoff)
	s := newSink(t, func(string, int) (int, http.Header, time.Duration) { return 500, nil, 0 })
	e.addFollowers(1, func(int) string { return s.URL + "/inbox/a" })
	e.runDelivery()
	e.publish("x")
	eventually.True(t, 10*time.Second, "give up", func() bool { return e.deliveryTo(s.URL+"/inbox/a").State == "failed" })
	hits := s.hits("/inbox/a")
	if len(hits) != 3 {
		t.Fatalf("%d attempts, want 3 (first try and two retries)", len(hits))
	}
	for i, want := range []time.Duration{200 * time.Millisecond, 400 * time.Millisecond} {
		if gap := hits[i+1].Sub(hits[i]); gap < want {
			t.Errorf("retry %d came after %v, want at least %v", i+1, gap, want)
		}
	}
	d := e.deliveryTo(s.URL + "/inbox/a")
	if d.Attempts != 3 || d.Status != 500 {
		t.Errorf("delivery = %+v", d)
	}
	var attempts int
	e.db.SQL.QueryRow(`SELECT COUNT(*) FROM delivery_attempts WHERE status = 500`).Scan(&attempts)
	if attempts != 3 {
		t.Errorf("%d attempts recorded, want 3", attempts)
	}
}

func TestDeliveryHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // default schedule: the first retry would be a minute away
	s := newSink(t, func(_ string, n int) (int, http.Header, time.Duration) {
		if n == 1 {
			return 429, http.Header{"Retry-After": {"1"}}, 0
		}
		return 202, nil, 0
	})
	e.addFollowers(1, func(int) string { return s.URL + "/inbox/a" })
	e.runDelivery()
	e.publish("x")
	eventually.True(t, 10*time.Second, "delivered", func() bool { return e.deliveryTo(s.URL+"/inbox/a").State == "delivered" })
	hits := s.hits("/inbox/a")
	if len(hits) != 2 {
		t.Fatalf("%d attempts, want 2", len(hits))
	}
	if gap := hits[1].Sub(hits[0]); gap < time.Second || gap > 5*time.Second {
		t.Errorf("retry after %v, want about the 1 s Retry-After", gap)
	}
	s.mu.Lock()
	dates := s.dates["/inbox/a"]
	s.mu.Unlock()
	if dates[0] == dates[1] {
		t.Errorf("the retry reused the Date %q: every attempt must be signed afresh", dates[0])
	}
}

func TestDeliveryScheduleAfterServerError(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // default schedule, no jitter
	s := newSink(t, func(string, int) (int, http.Header, time.Duration) { return 503, nil, 0 })
	e.addFollowers(1, func(int) string { return s.URL + "/inbox/a" })
	e.runDelivery()
	before := time.Now()
	e.publish("x")
	eventually.True(t, 5*time.Second, "first attempt recorded", func() bool { return e.deliveryTo(s.URL+"/inbox/a").Attempts == 1 })
	d := e.deliveryTo(s.URL + "/inbox/a")
	if d.State != "pending" || d.Next.Before(before.Add(time.Minute)) || d.Next.After(time.Now().Add(time.Minute+time.Second)) {
		t.Errorf("after a 503: %+v, want pending with the next attempt a minute away", d)
	}
}

func TestDeliveryPermanentAnswers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, shortBackoff)
	s := newSink(t, func(path string, _ int) (int, http.Header, time.Duration) {
		switch path {
		case "/gone":
			return 410, nil, 0
		case "/shared-gone":
			return 410, nil, 0
		case "/bad":
			return 400, nil, 0
		}
		return 202, nil, 0
	})
	a, _ := e.s.Actor(e.ctx, "nuttx_build")
	e.saveFollowers(
		store.Follower{ActorID: a.ID, IRI: s.URL + "/u/gone", Inbox: s.URL + "/gone", FollowID: "1"},
		store.Follower{ActorID: a.ID, IRI: s.URL + "/u/shared", Inbox: s.URL + "/u/shared/inbox", SharedInbox: s.URL + "/shared-gone", FollowID: "2"},
		store.Follower{ActorID: a.ID, IRI: s.URL + "/u/bad", Inbox: s.URL + "/bad", FollowID: "3"})
	e.runDelivery()
	e.publish("x")
	eventually.True(t, 5*time.Second, "all finished", func() bool {
		st, _ := e.db.Stats(e.ctx)
		return st.Failed == 3
	})
	for _, p := range []string{"/gone", "/shared-gone", "/bad"} {
		if n := len(s.hits(p)); n != 1 {
			t.Errorf("%s: %d attempts, want 1 (no retry)", p, n)
		}
	}
	if _, ok := e.follower(s.URL + "/u/gone"); ok {
		t.Error("a 410 from a personal inbox must remove the follower")
	}
	if _, ok := e.follower(s.URL + "/u/shared"); !ok {
		t.Error("a 410 from a shared inbox must not remove a follower")
	}
	if _, ok := e.follower(s.URL + "/u/bad"); !ok {
		t.Error("a 400 must not remove the follower")
	}
}

func TestDeliveryRetriesTimeoutsAnd401(t *testing.T) {
	t.Parallel()
	e := newEnv(t, shortBackoff, func(o *Options) {
		o.Client = safehttp.NewClient(safehttp.Options{AllowPrivateNetworks: true, Timeout: 300 * time.Millisecond})
	})
	s := newSink(t, func(path string, n int) (int, http.Header, time.Duration) {
		if n == 1 && path == "/slow" {
			return 202, nil, 2 * time.Second // longer than the client timeout
		}
		if n == 1 && path == "/auth" {
			return 401, nil, 0
		}
		return 202, nil, 0
	})
	e.addFollowers(2, func(i int) string { return s.URL + []string{"/slow", "/auth"}[i] })
	e.runDelivery()
	e.publish("x")
	for _, p := range []string{"/slow", "/auth"} {
		eventually.True(t, 10*time.Second, p+" delivered", func() bool { return e.deliveryTo(s.URL+p).State == "delivered" })
		if d := e.deliveryTo(s.URL + p); d.Attempts != 2 {
			t.Errorf("%s: %+v, want delivered on the second attempt", p, d)
		}
	}
}

func TestDeliveryRetriesUnreachableHost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, shortBackoff)
	s := newSink(t, func(string, int) (int, http.Header, time.Duration) { return 202, nil, 0 })
	dead := s.URL
	s.Close() // nothing listens there any more
	e.addFollowers(1, func(int) string { return dead + "/inbox" })
	e.runDelivery()
	e.publish("x")
	eventually.True(t, 10*time.Second, "given up", func() bool { return e.deliveryTo(dead+"/inbox").State == "failed" })
	if d := e.deliveryTo(dead + "/inbox"); d.Attempts != 3 || d.Error == "" {
		t.Errorf("delivery = %+v, want 3 attempts with an error recorded", d)
	}
}

func TestDeliveryRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.Client = safehttp.NewClient(safehttp.Options{}) }) // private networks refused
	var hits atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer s.Close()
	redirector := httptest.NewServer(http.RedirectHandler(s.URL+"/inbox", http.StatusTemporaryRedirect))
	defer redirector.Close()
	e.addFollowers(2, func(i int) string { return []string{s.URL + "/inbox", redirector.URL + "/inbox"}[i] })
	e.runDelivery()
	e.publish("x")
	eventually.True(t, 5*time.Second, "refused", func() bool {
		st, _ := e.db.Stats(e.ctx)
		return st.Failed == 2
	})
	if hits.Load() != 0 {
		t.Errorf("%d requests reached a loopback server", hits.Load())
	}
	if d := e.deliveryTo(s.URL + "/inbox"); !strings.Contains(d.Error, "not a public address") || d.Attempts != 1 {
		t.Errorf("delivery = %+v, want a permanent refusal", d)
	}
}

func TestRestartMidFanOutLosesNothing(t *testing.T) {
	t.Parallel()
	// A first queue is stopped half way through a fan-out; a second one on
	// the same database delivers the rest. Every inbox gets the post.
	db := newEnv(t)
	var mu sync.Mutex
	got := map[string]int{}
	s := newSink(t, func(path string, _ int) (int, http.Header, time.Duration) {
		mu.Lock()
		got[path]++
		mu.Unlock()
		return 202, nil, 30 * time.Millisecond
	})
	const n = 60
	db.addFollowers(n, func(i int) string { return fmt.Sprintf("%s/inbox/%d", s.URL, i) })
	db.publish("fan-out")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- db.s.RunDelivery(ctx) }()
	eventually.True(t, 10*time.Second, "some deliveries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 10
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st, _ := db.db.Stats(db.ctx)
	if st.Pending == 0 {
		t.Fatal("the first run finished everything; the test proves nothing")
	}

	second, err := New(Options{BaseURL: testBase, Store: db.db.Store, Client: safehttp.NewClient(safehttp.Options{AllowPrivateNetworks: true}),
		Delivery: DeliveryOptions{Poll: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { done <- second.RunDelivery(ctx2) }()
	eventually.True(t, 20*time.Second, "every inbox served", func() bool {
		st, _ := db.db.Stats(db.ctx)
		return st.Delivered == n
	})
	cancel2()
	<-done
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if got[fmt.Sprintf("/inbox/%d", i)] == 0 {
			t.Errorf("inbox %d never received the post", i)
		}
	}
}

func TestPerHostLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.Delivery.PerHost, o.Delivery.PerHostMax = 2, 2 }) // a fixed limit
	var cur, peak atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := cur.Add(1)
		for {
			p := peak.Load()
			if c <= p || peak.CompareAndSwap(p, c) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		cur.Add(-1)
		w.WriteHeader(202)
	}))
	defer s.Close()
	e.addFollowers(30, func(i int) string { return fmt.Sprintf("%s/inbox/%d", s.URL, i) })
	e.runDelivery()
	e.publish("x")
	eventually.True(t, 10*time.Second, "all delivered", func() bool {
		st, _ := e.db.Stats(e.ctx)
		return st.Delivered == 30
	})
	if p := peak.Load(); p > 2 || p < 1 {
		t.Errorf("peak concurrency on one host = %d, want at most 2", p)
	}
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	s := &Service{delivery: DeliveryOptions{Jitter: 0.1}.withDefaults()}
	for i, base := range defaultBackoff {
		for range 20 {
			d := s.retryDelay(i+1, 0)
			if d < base || d > base+base/10 {
				t.Fatalf("retry %d waits %v, want %v plus at most 10%%", i+1, d, base)
			}
		}
	}
	if d := s.retryDelay(1, 30*time.Second); d != 30*time.Second {
		t.Errorf("Retry-After 30s gave %v", d)
	}
	if d := s.retryDelay(1, 90*24*time.Hour); d != maxRetryAfter {
		t.Errorf("a huge Retry-After gave %v, want the %v cap", d, maxRetryAfter)
	}
	var total time.Duration
	for _, d := range defaultBackoff {
		total += d
	}
	if total < 60*time.Hour || total > 80*time.Hour {
		t.Errorf("the schedule gives up after %v, want about 3 days", total)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"": 0, "120": 2 * time.Minute, "0": 0, "-5": 0, "soon": 0,
		"Sat, 28 Nov 2026 12:05:00 GMT": 5 * time.Minute,
		"Sat, 28 Nov 2026 11:00:00 GMT": 0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestOutcomesSurviveAFailingDatabase(t *testing.T) {
	t.Parallel()
	// A trigger makes every write of a delivery's outcome fail, as a sick
	// disk would; the queue must hold the outcome and record it once the
	// database works again, without sending the activity twice.
	var logs logtest.Buffer
	e := newEnv(t, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	var hits atomic.Int32
	s := newSink(t, func(string, int) (int, http.Header, time.Duration) { hits.Add(1); return 202, nil, 0 })
	e.addFollowers(1, func(int) string { return s.URL + "/inbox" })
	if _, err := e.db.SQL.Exec(`CREATE TRIGGER sick BEFORE UPDATE OF state ON deliveries BEGIN SELECT RAISE(ABORT, 'injected failure'); END`); err != nil {
		t.Fatal(err)
	}
	e.runDelivery()
	e.publish("x")
	eventually.True(t, 5*time.Second, "the delivery", func() bool { return hits.Load() == 1 })
	eventually.True(t, 5*time.Second, "a failed write of its outcome", func() bool {
		return strings.Contains(logs.String(), "delivery: cannot record outcomes; retrying")
	})
	if d := e.deliveryTo(s.URL + "/inbox"); d.State != "pending" {
		t.Fatalf("delivery %+v recorded through a failing database", d)
	}
	if _, err := e.db.SQL.Exec(`DROP TRIGGER sick`); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 10*time.Second, "the outcome recorded", func() bool { return e.deliveryTo(s.URL+"/inbox").State == "delivered" })
	if n := hits.Load(); n != 1 {
		t.Errorf("the inbox got %d requests, want 1", n)
	}
}
