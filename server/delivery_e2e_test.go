package server

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/servetest"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// inboxSink is a loopback host with a distinct inbox per follower: it
// counts what each inbox received and can hold requests until released.
type inboxSink struct {
	*httptest.Server
	mu       sync.Mutex
	got      map[string]int // requests by path
	answered int            // requests answered 202
	blocked  int            // requests held now
	holdFrom int            // requests after this many are held (0: none)
	release  chan struct{}
}

func newInboxSink(t *testing.T, delay time.Duration) *inboxSink {
	s := &inboxSink{got: map[string]int{}, release: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // then a request the client gives up ends here too
		s.mu.Lock()
		s.got[r.URL.Path]++
		hold := s.holdFrom > 0 && s.total() > s.holdFrom
		if hold {
			s.blocked++
		}
		s.mu.Unlock()
		if hold {
			select {
			case <-s.release:
			case <-r.Context().Done(): // cut off: no answer
				s.mu.Lock()
				s.blocked--
				s.mu.Unlock()
				return
			}
		}
		time.Sleep(delay)
		w.WriteHeader(202)
		s.mu.Lock()
		s.answered++
		if hold {
			s.blocked--
		}
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

// total is the number of requests (mu held).
func (s *inboxSink) total() int {
	n := 0
	for _, c := range s.got {
		n += c
	}
	return n
}

func (s *inboxSink) counts() (inboxes, requests, answered, blocked int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got), s.total(), s.answered, s.blocked
}

// fanOutData makes a data folder whose bot has n followers with distinct
// personal inboxes on sink, seeded through the store, and one post queued
// to all of them by `nuttx-feed post`.
func fanOutData(t *testing.T, sink *inboxSink, n int) string {
	t.Helper()
	dir := newData(t)
	inboxes := make([]string, n)
	for i := range inboxes {
		inboxes[i] = fmt.Sprintf("%s/users/u%d/inbox", sink.URL, i)
	}
	if _, err := servetest.AddFollowers(dir, "nuttx_build", inboxes); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run("post", "--data", dir, "the fan-out"); code != 0 {
		t.Fatal(stderr)
	}
	return dir
}

func countRows(t *testing.T, db *sql.DB, where string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM deliveries WHERE ` + where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCrashMidFanOutLosesNothing: the real binary publishes to 5,000
// followers with distinct inboxes on a loopback sink, is killed with
// SIGKILL mid fan-out and restarted: every inbox gets the post at least
// once, and the inboxes that get it twice are at most the deliveries the
// killed server had claimed (in flight or about to be).
func TestCrashMidFanOutLosesNothing(t *testing.T) {
	t.Parallel() // its child gets its settings through cmd.Env, not this process's environment
	const followers = 5000
	sink := newInboxSink(t, time.Millisecond)
	dir := fanOutData(t, sink, followers)
	start := func() *child {
		return serveInChild(t, "--data", dir, "--listen", "127.0.0.1:0", "--allow-private-networks")
	}
	first := start()
	eventually.True(t, 60*time.Second, "a third of the fan-out", func() bool {
		n, _, _, _ := sink.counts()
		return n >= followers/3
	})
	first.kill() // SIGKILL: no shutdown, claims left in the database
	killedAt, _, _, _ := sink.counts()
	if killedAt >= followers {
		t.Fatalf("the fan-out finished before the kill (%d); the test proves nothing", killedAt)
	}
	db := storetest.OpenAt(t, dbPath(dir)).SQL
	claimed := countRows(t, db, `claimed = 1`)
	t.Logf("killed after %d of %d inboxes, with %d deliveries claimed", killedAt, followers, claimed)

	start() // stopped with SIGTERM when the test ends
	eventually.True(t, 120*time.Second, "every inbox", func() bool {
		n, _, _, _ := sink.counts()
		return n == followers
	})
	eventually.True(t, 10*time.Second, "every delivery recorded", func() bool { return countRows(t, db, `state <> 'delivered'`) == 0 })
	if n := countRows(t, db, `state = 'delivered'`); n != followers {
		t.Errorf("%d deliveries marked delivered, want %d", n, followers)
	}
	_, requests, _, _ := sink.counts()
	dups := requests - followers
	t.Logf("%d inboxes got the post twice", dups)
	if dups > claimed {
		t.Errorf("%d duplicates, more than the %d deliveries the killed server had claimed", dups, claimed)
	}
}

// TestGracefulShutdown: on SIGTERM the server stops taking requests and
// starts no more deliveries; those in flight finish within the grace
// period and are recorded, or are cut off at its end and released for the
// next start. Nothing is lost, and nothing answered is sent again.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		answer bool // the held requests are answered within the grace period
	}{{"finishes in flight", true}, {"requeues what is cut off", false}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			const followers = 60
			sink := newInboxSink(t, 0)
			sink.holdFrom = 20
			dir := fanOutData(t, sink, followers)
			serve := serveInChild(t, "--data", dir, "--listen", "127.0.0.1:0", "--allow-private-networks")
			eventually.True(t, 30*time.Second, "requests held in flight", func() bool {
				_, _, _, blocked := sink.counts()
				return blocked > 0
			})
			// Let the server fill its slots on the held host: requests sent
			// before SIGTERM must all be counted before it, or a loaded
			// machine shows one arriving late as one started after it.
			waitSteady(t, 500*time.Millisecond, 30*time.Second, func() int { _, requests, _, _ := sink.counts(); return requests })
			_, beforeTerm, _, inFlight := sink.counts()
			serve.cmd.Process.Signal(syscall.SIGTERM)
			stopped := time.Now()
			eventually.True(t, 10*time.Second, "intake stopped", func() bool {
				resp, err := http.Get("http://" + serve.Addr + "/health")
				if err == nil {
					resp.Body.Close()
				}
				return err != nil
			})
			if c.answer {
				close(sink.release)
			}
			select {
			case <-serve.exited:
			case <-time.After(15 * time.Second):
				t.Fatal("serve still running 15 s after SIGTERM")
			}
			if serve.err != nil {
				t.Errorf("serve exited with %v after SIGTERM", serve.err)
			}
			t.Logf("stopped %v after SIGTERM with %d requests in flight", time.Since(stopped), inFlight)
			_, requests, answered, _ := sink.counts()
			if requests != beforeTerm {
				t.Errorf("%d requests started after SIGTERM, want none", requests-beforeTerm)
			}

			db := storetest.OpenAt(t, dbPath(dir)).SQL
			if n := countRows(t, db, `state = 'delivered'`); n != answered {
				t.Errorf("%d deliveries recorded delivered, the sink answered %d", n, answered)
			}
			if n := countRows(t, db, `claimed <> 0 OR state = 'failed'`); n != 0 {
				t.Errorf("%d deliveries left claimed or given up", n)
			}
			if c.answer && answered != requests {
				t.Errorf("%d of %d requests in flight were answered", answered, requests)
			}
			if !c.answer && countRows(t, db, `state = 'pending' AND attempts = 0`) != followers-answered {
				t.Errorf("the deliveries cut off were not released untouched")
			}

			// The next start sends the rest, and nothing answered twice.
			if !c.answer {
				close(sink.release)
			}
			sink.mu.Lock()
			sink.holdFrom = 0
			sink.mu.Unlock()
			serveInChild(t, "--data", dir, "--listen", "127.0.0.1:0", "--allow-private-networks")
			eventually.True(t, 30*time.Second, "every delivery", func() bool { return countRows(t, db, `state = 'delivered'`) == followers })
			inboxes, requests, _, _ := sink.counts()
			if inboxes != followers {
				t.Errorf("%d inboxes reached, want %d", inboxes, followers)
			}
			// Only what was cut off unanswered goes out twice.
			if again, cutOff := requests-followers, beforeTerm-answered; again != cutOff {
				t.Errorf("%d requests sent again, want the %d cut off", again, cutOff)
			}
		})
	}
}

// waitSteady waits until count has not changed for quiet, failing the test
// after limit.
func waitSteady(t *testing.T, quiet, limit time.Duration, count func() int) {
	t.Helper()
	last, since := count(), time.Now()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if n := count(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quiet {
			return
		}
	}
	t.Fatalf("still changing after %v (%d)", limit, last)
}
