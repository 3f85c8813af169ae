package activitypub

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/safehttp"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// gauge counts requests in flight on a test server and their peak.
type gauge struct {
	cur, peak, total atomic.Int32
}

// enter counts a request in and returns how many are in flight with it.
func (g *gauge) enter() int32 {
	g.total.Add(1)
	c := g.cur.Add(1)
	for {
		p := g.peak.Load()
		if c <= p || g.peak.CompareAndSwap(p, c) {
			return c
		}
	}
}

func (g *gauge) leave() { g.cur.Add(-1) }

// domainClient dials every host of a registrable domain at the loopback
// server that stands for it, as DNS would send many names to one machine.
func domainClient(servers map[string]*httptest.Server) *http.Client {
	var d net.Dialer
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: 16,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			s, ok := servers[urls.Domain(addr)]
			if !ok {
				return nil, fmt.Errorf("no server for %s", addr)
			}
			return d.DialContext(ctx, network, s.Listener.Addr().String())
		},
	}}
}

// TestFairDelivery: a real follower on its own host gets every note at
// once, while thousands of deliveries wait for fake hosts that never
// answer (many subdomains and ports of one registrable domain, which share
// one limit), and while a healthy host works through a large backlog of
// the same notes queued ahead of it.
func TestFairDelivery(t *testing.T) {
	t.Parallel()
	var slowGauge, busyGauge gauge
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slowGauge.enter()
		defer slowGauge.leave()
		io.Copy(io.Discard, r.Body) // then the server sees the client hang up
		select {                    // hangs until cut off
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) }) // runs before slow.Close
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		busyGauge.enter()
		defer busyGauge.leave()
		time.Sleep(10 * time.Millisecond)
		w.WriteHeader(202)
	}))
	t.Cleanup(busy.Close)
	var realGot atomic.Int32
	real := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		realGot.Add(1)
		w.WriteHeader(202)
	}))
	t.Cleanup(real.Close)

	e := newEnv(t, func(o *Options) {
		o.Client = domainClient(map[string]*httptest.Server{"slow.example": slow, "busy.example": busy, "real.example": real})
		o.Delivery.Grace = 10 * time.Millisecond
	})
	const fakes, busyFollowers, notes = 1000, 300, 3
	e.addFollowers(fakes, func(i int) string {
		return fmt.Sprintf("http://h%d.slow.example:%d/users/u%d/inbox", i%70, 8000+i%7, i)
	})
	e.addFollowers(busyFollowers, func(i int) string { return fmt.Sprintf("http://busy.example/users/u%d/inbox", i) })
	e.addFollowers(1, func(int) string { return "http://real.example/users/alice/inbox" }) // last in inbox order
	for i := range notes {
		e.publish(fmt.Sprintf("note %d", i))
	}
	e.runDelivery()

	eventually.True(t, 30*time.Second, "the real follower's notes", func() bool { return realGot.Load() == notes })
	if n := busyGauge.total.Load(); n >= busyFollowers*notes {
		t.Errorf("the busy host got all its %d deliveries before the real follower got its %d", n, notes)
	}
	var pending int
	e.db.SQL.QueryRow(`SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND domain = 'slow.example'`).Scan(&pending)
	if pending != fakes*notes {
		t.Errorf("%d deliveries to the fake hosts pending, want all %d", pending, fakes*notes)
	}
	if p := slowGauge.peak.Load(); p > 2 {
		t.Errorf("%d requests in flight to the fake hosts of one domain, want at most 2", p)
	}
	t.Logf("when the real follower had its %d notes: busy host %d of %d, fake hosts %d requests (peak %d in flight)",
		notes, busyGauge.total.Load(), busyFollowers*notes, slowGauge.total.Load(), slowGauge.peak.Load())
}

// troubleTimeout is the client's timeout in TestConcurrencyAdapts: long
// enough that one request at a time shows as arrivals far apart, whatever
// the load on the machine delays.
const troubleTimeout = 300 * time.Millisecond

// TestConcurrencyAdapts: a host that answers quickly gets more than two
// requests at a time, never more than PerHostMax; after a 429, a 5xx or a
// timeout it gets one at a time while the trouble lasts.
func TestConcurrencyAdapts(t *testing.T) {
	t.Parallel()
	for _, trouble := range []string{"429", "503", "timeout"} {
		t.Run(trouble, func(t *testing.T) {
			t.Parallel()
			const quick, troubled = 40, 40
			var g gauge
			var mu sync.Mutex
			var alone []bool        // per troubled request: was it alone in flight?
			var arrived []time.Time // per troubled request
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c := g.enter()
				defer g.leave()
				n := g.total.Load()
				if n <= quick {
					time.Sleep(20 * time.Millisecond)
					w.WriteHeader(202)
					return
				}
				mu.Lock()
				alone, arrived = append(alone, c == 1), append(arrived, time.Now())
				mu.Unlock()
				switch trouble {
				case "429":
					w.WriteHeader(429)
				case "503":
					w.WriteHeader(503)
				default:
					io.Copy(io.Discard, r.Body) // then the server sees the client hang up
					<-r.Context().Done()
				}
			}))
			t.Cleanup(s.Close)
			e := newEnv(t, func(o *Options) {
				o.Delivery.PerHostMax = 8
				o.Delivery.BreakAfter = 1000 // this test is about the limit, not the breaker
				o.Client = safehttp.NewClient(safehttp.Options{AllowPrivateNetworks: true, Timeout: troubleTimeout})
			})
			e.addFollowers(quick+troubled, func(i int) string { return fmt.Sprintf("%s/users/u%d/inbox", s.URL, i) })
			e.runDelivery()
			e.publish("x")
			// 40 troubled requests one at a time take 12 s at their 300 ms
			// timeout; -race on a loaded machine has taken over 30 s at 100 ms.
			eventually.True(t, 90*time.Second, "every delivery attempted", func() bool { return g.total.Load() >= quick+troubled })
			if p := g.peak.Load(); p <= 2 || p > 8 {
				t.Errorf("peak in flight %d, want more than 2 and at most PerHostMax 8", p)
			}
			mu.Lock()
			defer mu.Unlock()
			// The requests in flight when the trouble began (at most 8),
			// and quick answers among them that come after the first
			// troubled one and raise the limit a little, may overlap;
			// every troubled request after them comes alone.
			for i := 16; i < len(alone); i++ {
				// A request cut off by the client's timeout is still in
				// flight here until the server notices: then one at a
				// time means arrivals a timeout apart, not together
				// (half of it: a loaded machine delays an arrival by
				// tens of milliseconds, which shortens the next gap).
				if trouble == "timeout" && arrived[i].Sub(arrived[i-1]) < troubleTimeout/2 ||
					trouble != "timeout" && !alone[i] {
					t.Errorf("troubled request %d of %d had company in flight, want one at a time", i+1, len(alone))
				}
			}
		})
	}
}

// TestWakeFromAnotherProcess: a note published through a second store
// handle on the same file, as `nuttx-feed post` does, goes out at once
// although the queue polls only once an hour.
func TestWakeFromAnotherProcess(t *testing.T) {
	t.Parallel()
	arrived := make(chan string, 10)
	s := newSink(t, func(path string, _ int) (int, http.Header, time.Duration) {
		arrived <- path
		return 202, nil, 0
	})
	e := newEnv(t, func(o *Options) { o.Delivery.Poll = time.Hour })
	e.addFollowers(1, func(int) string { return s.URL + "/inbox" })
	e.runDelivery()
	e.publish("in process") // the queue is running once this arrives
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the in-process note never arrived")
	}

	other, err := store.Open(e.ctx, e.db.Path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	post, err := New(Options{BaseURL: testBase, Store: other})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := publishNow(e.ctx, post, "nuttx_build", Post{Content: richtext.Parse("from another process")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived:
		t.Logf("delivered %v after the other process committed", time.Since(start))
	case <-time.After(10 * time.Second): // far below the hour of the poll
		t.Fatal("a note from another process waits for the poll")
	}
}
