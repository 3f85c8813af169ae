package metrics

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/logtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// TestNilMetricsCountNothing: every method of a nil *Metrics is a no-op,
// so that code running without /metrics passes nil.
func TestNilMetricsCountNothing(t *testing.T) {
	t.Parallel()
	var m *Metrics
	m.DeliveryDone(Delivered, true)
	m.InboxRequest(InboxAccepted)
	m.RemoteFetch(FetchOK)
	m.FeedPolled(1, nil)
	m.HTTPRequest("/", http.MethodGet, 200, time.Second)
}

// get scrapes h and returns the body.
func get(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// TestMetricsCountAndNormalize: the methods move the counters they name;
// HTTP labels never take a raw value (no route, an odd method, a status
// out of range); the store's gauges are read at each scrape.
func TestMetricsCountAndNormalize(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	m := New(Options{Version: "v1.2.3", Store: db.Store, Feed: true})
	m.DeliveryDone(Delivered, false)
	m.DeliveryDone(DeliveryGivenUp, true)
	m.DeliveryDone(DeliveryGivenUp, true)
	m.InboxRequest(InboxRateLimited)
	m.RemoteFetch(FetchNetwork)
	m.FeedPolled(3, nil)
	m.FeedPolled(0, errors.New("down"))
	m.HTTPRequest("", "PROPFIND", 404, 20*time.Millisecond)
	m.HTTPRequest("/users/:username", http.MethodGet, 0, time.Millisecond)
	body := get(t, m.Handler())
	for _, want := range []string{
		`nuttx_feed_delivery_attempts_total{outcome="delivered"} 1`,
		`nuttx_feed_delivery_attempts_total{outcome="given_up"} 2`,
		`nuttx_feed_delivery_attempts_total{outcome="retry"} 0`,
		`nuttx_feed_delivery_retries_total 2`,
		`nuttx_feed_inbox_requests_total{result="rate_limited"} 1`,
		`nuttx_feed_inbox_requests_total{result="accepted"} 0`,
		`nuttx_feed_remote_fetches_total{result="network_error"} 1`,
		`nuttx_feed_feed_polls_total 2`,
		`nuttx_feed_feed_poll_errors_total 1`,
		`nuttx_feed_feed_posts_total 3`,
		`nuttx_feed_http_request_duration_seconds_count{method="other",route="unmatched",status="4xx"} 1`,
		`nuttx_feed_http_request_duration_seconds_count{method="GET",route="/users/:username",status="other"} 1`,
		`nuttx_feed_build_info{goversion="go`,
		`nuttx_feed_delivery_pending{state="due"} 0`,
		`nuttx_feed_delivery_oldest_pending_age_seconds 0`,
		`nuttx_feed_delivery_breaker_hosts{state="parked"} 0`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the scrape lacks %s", want)
		}
	}
	if strings.Contains(body, "nuttx_feed_feed_last_success_timestamp_seconds 0\n") {
		t.Error("a good poll did not set the time of the last one")
	}
}

// TestMetricsScrapeWithBrokenDatabase: when the database cannot be read,
// a scrape still serves every other metric, and the error is logged.
func TestMetricsScrapeWithBrokenDatabase(t *testing.T) {
	t.Parallel()
	var logs logtest.Buffer
	db := storetest.Open(t)
	m := New(Options{Store: db.Store, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	db.Store.Close()
	body := get(t, m.Handler())
	if strings.Contains(body, "nuttx_feed_delivery_pending") || !strings.Contains(body, "nuttx_feed_delivery_attempts_total") {
		t.Errorf("scrape with the database closed:\n%s", body)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "read the queue, breakers and followers: begin: sql: database is closed") {
		t.Errorf("the error was not logged: %q", logs.String())
	}
	if strings.Contains(body, "nuttx_feed_feed_") {
		t.Error("feed metrics without a feed")
	}
}
