package web

import (
	"testing"
	"time"
)

// TestFeedStatus: the feed's status reads as of its last poll only when
// it runs and polled lately; otherwise it says why the list may be out
// of date, with the time to count from, in UTC.
func TestFeedStatus(t *testing.T) {
	t.Parallel()
	started := time.Date(2026, 11, 29, 18, 0, 0, 0, time.FixedZone("CET", 3600))
	polled := time.Date(2026, 11, 29, 19, 2, 30, 0, time.UTC)
	for _, c := range []struct {
		status FeedStatus
		fresh  bool
		want   string
	}{
		{FeedStatus{Enabled: true, LastPoll: polled, Started: started}, true,
			"As of the last poll of Prometheus, 29 Nov 19:02 UTC."},
		{FeedStatus{Enabled: true, LastPoll: polled, Started: started, Stale: true}, false,
			"The build feed has not reached Prometheus since 29 Nov 19:02 UTC: this list may be out of date."},
		{FeedStatus{Enabled: true, Started: started}, false,
			"The build feed has not reached Prometheus since this server started at 29 Nov 17:00 UTC: this list may be out of date."},
		{FeedStatus{Enabled: true, Started: started, Stale: true}, false,
			"The build feed has not reached Prometheus since this server started at 29 Nov 17:00 UTC: this list may be out of date."},
		{FeedStatus{Started: started}, false,
			"The build feed is off on this server (no Prometheus URL is set): this list is what it last recorded and may be out of date."},
	} {
		if got := c.status.Text(); got != c.want || c.status.Fresh() != c.fresh {
			t.Errorf("%+v: %q, fresh %v; want %q, fresh %v", c.status, got, c.status.Fresh(), c.want, c.fresh)
		}
	}
}

// TestFailingPageRange: a page of /targets says which positions it
// shows and for how long a target has failed.
func TestFailingPageRange(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 19, 0, 0, 0, time.UTC)
	p := FailingPage{Rows: make([]FailingRow, 12), First: 201, Now: now}
	if p.Last() != 212 {
		t.Errorf("last %d", p.Last())
	}
	if got := p.FailingFor(now.Add(-(76*time.Hour + 5*time.Minute))); got != "3d 4h 5m" {
		t.Errorf("failing for %q", got)
	}
}
