package web

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
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

// TestDirectoryPageRange: a page of /targets says which positions it
// shows, and a row for how long a target has failed.
func TestDirectoryPageRange(t *testing.T) {
	t.Parallel()
	p := DirectoryPage{Rows: make([]DirectoryRow, 12), First: 201}
	if p.Last() != 212 {
		t.Errorf("last %d", p.Last())
	}
	if got := HumanDuration(76*time.Hour + 5*time.Minute); got != "3d 4h 5m" {
		t.Errorf("failing for %q", got)
	}
	if got := HumanDuration(-18 * time.Minute); got != "under a minute" { // since after now: clock skew
		t.Errorf("failing since a later time for %q, want under a minute", got)
	}
}

// TestShownHosts: a page lists at most MaxHostsShown build hosts, each cut
// at MaxHostBytes on a character boundary, then how many more there are.
func TestShownHosts(t *testing.T) {
	t.Parallel()
	if got := ShownHosts([]string{"a", "b"}); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("two hosts: %q", got)
	}
	if got := ShownHosts(nil); len(got) != 0 {
		t.Errorf("no hosts: %q", got)
	}
	var many []string
	for i := range 13 {
		many = append(many, fmt.Sprint("h", i))
	}
	got := ShownHosts(many)
	if len(got) != MaxHostsShown+1 || got[0] != "h0" || got[MaxHostsShown-1] != "h9" || got[MaxHostsShown] != "and 3 more" {
		t.Errorf("13 hosts: %q", got)
	}
	long := "h" + strings.Repeat("é", 200) // a 2-byte rune straddles byte 100
	name := HostName(long)
	if !strings.HasSuffix(name, "…") || len(name) > MaxHostBytes+len("…") || !utf8.ValidString(name) || !strings.HasPrefix(long, strings.TrimSuffix(name, "…")) {
		t.Errorf("long host cut to %q (%d bytes)", name, len(name))
	}
	if exact := strings.Repeat("x", MaxHostBytes); HostName(exact) != exact {
		t.Errorf("a name of %d bytes is cut", MaxHostBytes)
	}
	if got := (TargetStatus{Hosts: many}).ShownHosts(); len(got) != MaxHostsShown+1 {
		t.Errorf("target status shows %d hosts", len(got))
	}
}
