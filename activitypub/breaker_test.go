package activitypub

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/safehttp"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// downSink answers 503 while down, 202 once up, and keeps when each
// request came and whether it was alone in flight.
type downSink struct {
	*httptest.Server
	down    atomic.Bool
	g       gauge
	mu      sync.Mutex
	arrived []time.Time
	alone   []bool
}

func newDownSink(t *testing.T) *downSink {
	s := &downSink{}
	s.down.Store(true)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := s.g.enter()
		defer s.g.leave()
		s.mu.Lock()
		s.arrived, s.alone = append(s.arrived, time.Now()), append(s.alone, c == 1)
		s.mu.Unlock()
		if s.down.Load() {
			w.WriteHeader(503)
			return
		}
		w.WriteHeader(202)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *downSink) requests() ([]time.Time, []bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.arrived...), append([]bool(nil), s.alone...)
}

// hostState reads the breaker row of domain behind the store's back.
func (e *testEnv) hostState(domain string) string {
	var st string
	e.db.SQL.QueryRow(`SELECT state FROM delivery_hosts WHERE domain = ?`, domain).Scan(&st)
	return st
}

// startQueue runs s's delivery queue until the returned stop is called.
func startQueue(t *testing.T, s *Service) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.RunDelivery(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("RunDelivery: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// TestBreaker: a host that fails BreakAfter times in a row is held: its
// deliveries stay queued and it is probed with one request at a time, at
// widening intervals; once it has failed for ParkAfter it is parked and
// left alone, across a restart; a signed request from it (reviveHost) or
// the operator (RetryHost, from another process) revives it, and everything goes out. Nothing is
// dropped and every request is one recorded attempt.
func TestBreaker(t *testing.T) {
	t.Parallel()
	for _, revival := range []string{"signed request", "RetryHost"} {
		t.Run(revival, func(t *testing.T) {
			t.Parallel()
			const followers, breakAfter = 10, 3
			probes := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}
			sink := newDownSink(t)
			options := func(o *Options) {
				o.Delivery.Backoff = probes
				o.Delivery.BreakAfter = breakAfter
				o.Delivery.ParkAfter = time.Second
			}
			e := newEnv(t, options)
			e.addFollowers(followers, func(i int) string { return fmt.Sprintf("%s/users/u%d/inbox", sink.URL, i) })
			stop := startQueue(t, e.s)
			e.publish("x")
			eventually.True(t, 20*time.Second, "the host parked", func() bool { return e.hostState("127.0.0.1") == "parked" })
			parkedAt := int(sink.g.total.Load())

			// A new server on the same database leaves the parked host alone.
			stop()
			opts := Options{BaseURL: testBase, Store: e.db.Store, Client: safehttp.NewClient(safehttp.Options{AllowPrivateNetworks: true}),
				Delivery: DeliveryOptions{Poll: 20 * time.Millisecond, Jitter: -1}, FetchActor: "nuttx_build"}
			options(&opts)
			second, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			startQueue(t, second)
			time.Sleep(3 * probes[len(probes)-1]) // three probe intervals: nothing may come
			arrived, alone := sink.requests()
			if len(arrived) != parkedAt {
				t.Fatalf("%d requests to a parked host, want none", len(arrived)-parkedAt)
			}
			// The failures that held the host came before the probes; a
			// few may have been in flight when it tripped.
			var failures, probed int
			e.db.SQL.QueryRow(`SELECT failures, probes FROM delivery_hosts`).Scan(&failures, &probed)
			if failures != len(arrived) || probed < 3 || len(arrived)-probed < breakAfter {
				t.Fatalf("%d requests, %d failures recorded, %d of them probes: want every request a failure, %d before the probes, and several probes",
					len(arrived), failures, probed, breakAfter)
			}
			first := len(arrived) - probed
			for i := first; i < len(arrived); i++ {
				if !alone[i] {
					t.Errorf("probe %d had company in flight", i-first+1)
				}
				if i == first {
					continue
				}
				want := probes[min(i-first, len(probes)-1)]
				if gap := arrived[i].Sub(arrived[i-1]); gap < want {
					t.Errorf("probe %d came %v after the one before it, want at least %v", i-first+1, gap, want)
				}
			}
			st, _ := e.db.Stats(e.ctx)
			if st.Pending != followers || st.Failed != 0 {
				t.Errorf("%+v: want all %d deliveries pending, none given up", st, followers)
			}
			var attempts int
			e.db.SQL.QueryRow(`SELECT SUM(attempts) FROM deliveries`).Scan(&attempts)
			if attempts != len(arrived) {
				t.Errorf("%d attempts recorded for %d requests", attempts, len(arrived))
			}

			sink.down.Store(false)
			if revival == "signed request" { // from a server on the parked host, through the inbox
				r := e.remote("back", fedtest.Mastodon)
				like := map[string]any{"id": r.ActorID() + "/like/1", "type": "Like", "actor": r.ActorID(), "object": testBase + "/users/nuttx_build"}
				err = second.HandleInbox(e.ctx, "", inbound(t, r, "/inbox", like))
			} else { // from another process, as a CLI command would
				other, err := store.Open(e.ctx, e.db.Path, store.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer other.Close()
				operator, err := New(Options{BaseURL: testBase, Store: other})
				if err != nil {
					t.Fatal(err)
				}
				domain, revived, err := operator.RetryHost(e.ctx, sink.URL+"/users/u0/inbox")
				if err != nil {
					t.Fatal(err)
				}
				if domain != "127.0.0.1" || !revived {
					t.Errorf("RetryHost = %q, %v; want 127.0.0.1, true", domain, revived)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			eventually.True(t, 10*time.Second, "everything delivered", func() bool {
				st, _ := e.db.Stats(e.ctx)
				return st.Delivered == followers
			})
			if s := e.hostState("127.0.0.1"); s != "" {
				t.Errorf("breaker still %q after the revival", s)
			}
		})
	}
}

// TestOutageThenRecovery: a sink down for several retry periods, longer
// than the whole retry schedule, gets everything once it comes back: the
// breaker held its deliveries instead of giving them up, and the first
// probe that is answered releases them.
func TestOutageThenRecovery(t *testing.T) {
	t.Parallel()
	const followers = 20
	sink := newDownSink(t)
	e := newEnv(t, shortBackoff) // 200 ms, 400 ms: given up after 0.6 s without the breaker
	e.addFollowers(followers, func(i int) string { return fmt.Sprintf("%s/users/u%d/inbox", sink.URL, i) })
	e.runDelivery()
	e.publish("x")
	eventually.True(t, 20*time.Second, "three failed probes", func() bool {
		var probed int
		e.db.SQL.QueryRow(`SELECT probes FROM delivery_hosts`).Scan(&probed)
		return probed >= 3
	})
	arrived, _ := sink.requests()
	if down := arrived[len(arrived)-1].Sub(arrived[0]); down < 600*time.Millisecond {
		t.Fatalf("down for %v only, want longer than the retry schedule", down)
	}
	sink.down.Store(false)
	eventually.True(t, 10*time.Second, "everything delivered", func() bool {
		st, _ := e.db.Stats(e.ctx)
		return st.Delivered == followers
	})
	st, _ := e.db.Stats(e.ctx)
	if st.Failed != 0 {
		t.Errorf("%d deliveries given up during the outage", st.Failed)
	}
}
