package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/promtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// health fetches /health and decodes its report.
func health(t *testing.T, ts *testServer) (int, healthReport) {
	t.Helper()
	resp, body := get(t, ts.URL+"/health", "")
	var r healthReport
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("/health: %d %q: %v", resp.StatusCode, body, err)
	}
	if resp.StatusCode != http.StatusOK && resp.Header.Get("Retry-After") == "" {
		t.Errorf("/health %d without Retry-After", resp.StatusCode)
	}
	return resp.StatusCode, r
}

// testClock is the time now plus an offset that a test moves forward.
type testClock struct{ ahead atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.ahead.Load())) }
func (c *testClock) advance(d time.Duration) { c.ahead.Add(int64(d)) }

// TestHealthReadOnlyDatabase: a server whose database file takes no write
// (opened read-only: reads work, writes fail) answers 503 naming the
// database, though every read still works.
func TestHealthReadOnlyDatabase(t *testing.T) {
	t.Parallel()
	first := startServer(t)
	if code, r := health(t, first); code != http.StatusOK || r.Checks["database"] != "ok" {
		t.Fatalf("health of a writable database: %d %+v", code, r)
	}
	first.Stop(t)

	cfg := first.cfg
	ln := listen(t)
	cfg.Listen = ln.Addr().String()
	ts := startWith(t, cfg, ln, withStoreOptions(store.Options{ReadOnly: true}))
	code, r := health(t, ts)
	if code != http.StatusServiceUnavailable || r.Status != "fail" || !strings.HasPrefix(r.Checks["database"], "fail") || r.Checks["feed"] != "disabled" {
		t.Errorf("health of a read-only database: %d %+v, want 503 naming the database", code, r)
	}
	if !strings.Contains(ts.logs.String(), "readonly") {
		t.Errorf("the log does not say why:\n%s", ts.logs)
	}
	if resp, _ := get(t, ts.URL+"/users/nuttx_build", apAccept); resp.StatusCode != http.StatusOK {
		t.Errorf("the actor, read from a read-only database: %d", resp.StatusCode)
	}
}

// TestHealthFeed: /health calls the feed stale once it has gone three
// poll intervals plus the longest backoff without a successful poll: with
// a Prometheus that never answered (a closed port) and with one that
// answered, then stopped. The server's clock is moved past that time
// rather than waited for.
func TestHealthFeed(t *testing.T) {
	t.Parallel()
	stack := promtest.Start(t)
	dead := closedPortURL(t)

	for _, c := range []struct {
		name, prometheus string
		want             string // the feed's state once stale
	}{
		{"dead from the start", dead, "stale: no successful poll since the start at "},
		{"stopped after a poll", stack.PromURL, "stale: last successful poll "},
	} {
		t.Run(c.name, func(t *testing.T) {
			clock := &testClock{}
			ln := listen(t)
			cfg := startConfig(t, ln)
			cfg.PrometheusURL, cfg.PollInterval, cfg.Query = c.prometheus, 100*time.Millisecond, "build_score < 0.5"
			ts := startWith(t, cfg, ln, withClock(clock.now))
			if c.prometheus == stack.PromURL {
				eventually.True(t, 30*time.Second, "a successful poll", func() bool { return !ts.feed.LastSuccess().IsZero() })
			}
			if code, r := health(t, ts); code != http.StatusOK || r.Status != "ok" || r.Checks["feed"] != "ok" || r.Checks["database"] != "ok" {
				t.Errorf("health before the feed is stale: %d %+v", code, r)
			}
			if c.prometheus == stack.PromURL {
				stack.StopPrometheus()
			}
			clock.advance(ts.feed.StaleAfter() + time.Second)
			code, r := health(t, ts)
			if code != http.StatusServiceUnavailable || r.Status != "fail" || !strings.HasPrefix(r.Checks["feed"], c.want) || r.Checks["database"] != "ok" {
				t.Fatalf("health of a stale feed: %d %+v, want 503 and feed %q...", code, r, c.want)
			}
			at, err := time.Parse(time.RFC3339, strings.TrimPrefix(r.Checks["feed"], c.want))
			if err != nil || at.After(time.Now()) || time.Since(at) > time.Minute {
				t.Errorf("the time in %q: %v %v", r.Checks["feed"], at, err)
			}
		})
	}
}
