package server

import (
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"testing"
	"time"
)

func TestClientLimiter(t *testing.T) {
	t.Parallel()
	l := newClientLimiter(6) // 6 at once, then one every 10 s
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	for i := range 6 {
		if w := l.wait(a, t0); w != 0 {
			t.Fatalf("request %d within the burst: wait %v", i+1, w)
		}
	}
	if w := l.wait(a, t0); w != 10*time.Second {
		t.Errorf("7th request: wait %v, want 10s", w)
	}
	if w := l.wait(a, t0.Add(5*time.Second)); w != 5*time.Second {
		t.Errorf("refused requests cost nothing: wait %v 5 s later, want 5s", w)
	}
	if w := l.wait(b, t0); w != 0 {
		t.Errorf("another address waits %v", w)
	}
	if w := l.wait(a, t0.Add(10*time.Second)); w != 0 {
		t.Errorf("after 10 s: wait %v, want one more request", w)
	}

	// One IPv6 /64 is one client.
	v6 := netip.MustParseAddr("2001:db8:1:2::1")
	for range 6 {
		l.wait(v6, t0)
	}
	if w := l.wait(netip.MustParseAddr("2001:db8:1:2:ffff::9"), t0); w == 0 {
		t.Error("another address of the same /64 has a budget of its own")
	}
	if w := l.wait(netip.MustParseAddr("2001:db8:1:3::1"), t0); w != 0 {
		t.Errorf("the next /64 waits %v", w)
	}
	if w := l.wait(netip.Addr{}, t0); w != 0 { // a peer that is no IP address
		t.Errorf("no address: wait %v", w)
	}

	// Buckets full again are dropped as requests come.
	if n := l.size(); n != 5 {
		t.Errorf("%d buckets, want 5", n)
	}
	l.wait(a, t0.Add(2*time.Minute))
	if n := l.size(); n != 1 {
		t.Errorf("%d buckets after two idle minutes, want the one in use", n)
	}
	if newClientLimiter(0) != nil {
		t.Error("--rate-limit 0 limits")
	}
}

// TestClientLimiterMemory: a flood from more addresses than maxClients
// keeps maxClients buckets, in a few megabytes.
func TestClientLimiterMemory(t *testing.T) {
	l := newClientLimiter(600)
	now := time.Now()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range maxClients + 1000 {
		l.wait(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), now)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := l.size(); n != maxClients {
		t.Errorf("%d buckets, want %d", n, maxClients)
	}
	used := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d buckets: %.1f MB, %d bytes each", maxClients, float64(used)/(1<<20), used/maxClients)
	if used > 8<<20 {
		t.Errorf("%d buckets take %d bytes", maxClients, used)
	}
	runtime.KeepAlive(l)
}

// TestRateLimitedGETs: past --rate-limit, an expensive GET is 429 with
// Retry-After for that client only; the cheap ones and other clients go on.
func TestRateLimitedGETs(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.RateLimit, c.TrustedProxies = 2, "127.0.0.0/8" })
	outbox := ts.URL + "/users/nuttx_build/outbox?page=true"
	for range 2 {
		if resp, body := get(t, outbox, apAccept); resp.StatusCode != http.StatusOK {
			t.Fatalf("within the limit: %d %s", resp.StatusCode, body)
		}
	}
	for _, c := range []struct{ url, accept string }{{outbox, apAccept}, {ts.URL + "/users/nuttx_build", "text/html"}, {ts.URL + "/nodeinfo/2.1", ""}} {
		resp, body := get(t, c.url, c.accept)
		after, _ := strconv.Atoi(resp.Header.Get("Retry-After")) // a token every 30 s
		if resp.StatusCode != http.StatusTooManyRequests || after < 25 || after > 30 {
			t.Errorf("GET %s (%s) past the limit: %d, Retry-After %q, %s", c.url, c.accept, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	for _, u := range []string{ts.URL + "/health", ts.URL + "/users/nuttx_build", ts.URL + "/.well-known/webfinger?resource=acct:nuttx_build@127.0.0.1",
		ts.URL + "/.well-known/nodeinfo", ts.URL + "/static/avatar.png"} {
		for range 3 {
			if resp, body := get(t, u, apAccept); resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s (not limited): %d %s", u, resp.StatusCode, body)
			}
		}
	}
	req, _ := http.NewRequest(http.MethodGet, outbox, nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9") // another client, through the trusted proxy
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("another client: %d", resp.StatusCode)
	}
}
