package server

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
)

func TestParseTrustedProxies(t *testing.T) {
	t.Parallel()
	got, err := parseTrustedProxies(" 127.0.0.0/8, ::1,10.1.2.3 ,::ffff:192.168.0.0/112,2001:db8::7/64,")
	want := []string{"127.0.0.0/8", "::1/128", "10.1.2.3/32", "192.168.0.0/16", "2001:db8::/64"}
	if err != nil || len(got) != len(want) {
		t.Fatalf("parse: %v %v", got, err)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, got[i], want[i])
		}
	}
	if got, err := parseTrustedProxies(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %v %v, want no proxy", got, err)
	}
	for _, bad := range []string{"localhost", "10.0.0.0/33", "fe80::1%eth0", "1.2.3.4:80"} {
		if _, err := parseTrustedProxies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestClientAddr: the headers are believed from a trusted proxy only; the
// client is the rightmost X-Forwarded-For hop that is no trusted proxy.
func TestClientAddr(t *testing.T) {
	t.Parallel()
	trusted, _ := parseTrustedProxies("127.0.0.0/8,::1,10.0.0.0/8")
	for _, c := range []struct {
		name, peer string
		cf         []string
		xff        []string
		want       string
	}{
		{"direct", "198.51.100.1:5555", nil, nil, "198.51.100.1"},
		{"untrusted peer: CF-Connecting-IP ignored", "198.51.100.1:5555", []string{"203.0.113.9"}, nil, "198.51.100.1"},
		{"untrusted peer: X-Forwarded-For ignored", "198.51.100.1:5555", nil, []string{"203.0.113.9"}, "198.51.100.1"},
		{"trusted peer, no header", "127.0.0.1:5555", nil, nil, "127.0.0.1"},
		{"trusted peer: CF-Connecting-IP", "127.0.0.1:5555", []string{"203.0.113.9"}, []string{"192.0.2.1"}, "203.0.113.9"},
		{"trusted IPv6 peer: CF-Connecting-IP", "[::1]:5555", []string{" 2001:db8::9 "}, nil, "2001:db8::9"},
		{"IPv4-mapped peer is IPv4", "[::ffff:127.0.0.1]:5555", []string{"203.0.113.9"}, nil, "203.0.113.9"},
		{"two CF-Connecting-IP: X-Forwarded-For instead", "127.0.0.1:5555", []string{"203.0.113.9", "203.0.113.8"}, []string{"192.0.2.1"}, "192.0.2.1"},
		{"bad CF-Connecting-IP: X-Forwarded-For instead", "127.0.0.1:5555", []string{"nonsense"}, nil, "127.0.0.1"},
		{"forged hops left of the client", "127.0.0.1:5555", nil, []string{"1.1.1.1, 2.2.2.2, 203.0.113.9"}, "203.0.113.9"},
		{"trusted hops skipped", "127.0.0.1:5555", nil, []string{"1.1.1.1, 203.0.113.9, 10.0.0.2", "10.0.0.1"}, "203.0.113.9"},
		{"every hop trusted: the leftmost", "127.0.0.1:5555", nil, []string{"10.0.0.3,10.0.0.2"}, "10.0.0.3"},
		{"brackets and ports", "127.0.0.1:5555", nil, []string{"[2001:db8::1]:443, [2001:db8::2]"}, "2001:db8::2"},
		{"IPv4 with a port", "127.0.0.1:5555", nil, []string{"203.0.113.9:1234"}, "203.0.113.9"},
		{"garbage ends the walk at the last trusted hop", "127.0.0.1:5555", nil, []string{"203.0.113.9, unknown, 10.0.0.2"}, "10.0.0.2"},
		{"empty hop", "127.0.0.1:5555", nil, []string{""}, "127.0.0.1"},
		{"zone refused", "127.0.0.1:5555", nil, []string{"fe80::1%eth0"}, "127.0.0.1"},
	} {
		h := http.Header{}
		for _, v := range c.cf {
			h.Add("CF-Connecting-IP", v)
		}
		for _, v := range c.xff {
			h.Add("X-Forwarded-For", v)
		}
		if got := clientAddr(c.peer, h, trusted); got.String() != c.want {
			t.Errorf("%s: %s", c.name, got)
		}
	}
	if got := clientAddr("127.0.0.1:1", http.Header{"Cf-Connecting-Ip": {"203.0.113.9"}}, nil); got.String() != "127.0.0.1" {
		t.Errorf("no trusted proxy: %s, want the peer", got)
	}
	if got := clientAddr("@", nil, trusted); got.IsValid() {
		t.Errorf("a peer that is no address: %s", got)
	}
}

// FuzzClientAddr: whatever the headers, the answer is an address; from an
// untrusted peer it is the peer; from a trusted one, an address the
// headers or the peer hold.
func FuzzClientAddr(f *testing.F) {
	f.Add("127.0.0.1:1", "203.0.113.9", "1.1.1.1, 203.0.113.9, 10.0.0.2")
	f.Add("[::1]:1", "", "[2001:db8::1]:443,[::ffff:10.0.0.1], unknown")
	f.Add("198.51.100.1:1", "203.0.113.9", "")
	trusted, _ := parseTrustedProxies("127.0.0.0/8,::1,10.0.0.0/8")
	f.Fuzz(func(t *testing.T, peer, cf, xff string) {
		h := http.Header{}
		if cf != "" {
			h.Set("CF-Connecting-IP", cf)
		}
		if xff != "" {
			h.Set("X-Forwarded-For", xff)
		}
		got := clientAddr(peer, h, trusted)
		ap, err := netip.ParseAddrPort(peer)
		if err != nil {
			if got.IsValid() {
				t.Fatalf("peer %q is no address, got %s", peer, got)
			}
			return
		}
		if !got.IsValid() || got.Is4In6() || got.Zone() != "" {
			t.Fatalf("got %v", got)
		}
		if p := ap.Addr().Unmap(); !isTrusted(p, trusted) && got != p {
			t.Fatalf("untrusted peer %s: got %s", p, got)
		}
		known := got == ap.Addr().Unmap()
		for _, hop := range append(strings.Split(xff, ","), cf) {
			if a, ok := parseHop(hop); ok && a == got {
				known = true
			}
		}
		if !known {
			t.Fatalf("%s is neither the peer nor in the headers %q %q", got, cf, xff)
		}
	})
}

// TestClientAddrFromProxy: a server behind a proxy on loopback (the
// default --trusted-proxies) logs the client that CF-Connecting-IP or
// X-Forwarded-For names; one that trusts no loopback proxy logs the peer.
func TestClientAddrFromProxy(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		trusted string
		want    []string // the logged ip of each request
	}{
		{"127.0.0.0/8,::1", []string{"ip=203.0.113.9 ", "ip=2001:db8::7 "}},
		{"10.0.0.0/8", []string{"ip=127.0.0.1 ", "ip=127.0.0.1 "}},
	} {
		ts := startServer(t, func(cfg *Config) { cfg.TrustedProxies = c.trusted })
		for i, h := range []http.Header{{"Cf-Connecting-Ip": {"203.0.113.9"}}, {"X-Forwarded-For": {"198.51.100.1, 2001:db8::7"}}} {
			req, _ := http.NewRequest(http.MethodGet, ts.URL+"/nodeinfo/2.1?n="+strconv.Itoa(i), nil)
			req.Header = h
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			uri := "uri=\"/nodeinfo/2.1?n=" + strconv.Itoa(i) + "\""
			eventually.True(t, 5*time.Second, "the request's log line", func() bool { return logLine(ts.logs.String(), uri) != "" })
			if line := logLine(ts.logs.String(), uri); !strings.Contains(line, c.want[i]) {
				t.Errorf("--trusted-proxies %s, %v: logged %q, want %s", c.trusted, h, line, c.want[i])
			}
		}
	}
}

// logLine returns the first line of logs that holds substr.
func logLine(logs, substr string) string {
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, substr) {
			return l
		}
	}
	return ""
}
