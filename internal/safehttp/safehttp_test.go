package safehttp

import (
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestMain lets TestSSLCertFile run a fetch in a fresh process: Go reads
// the system roots (and SSL_CERT_FILE) once per process.
func TestMain(m *testing.M) {
	if url := os.Getenv("NUTTX_FEED_TEST_FETCH"); url != "" {
		resp, err := NewClient(Options{AllowPrivateNetworks: true}).Get(url)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		resp.Body.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestSSLCertFile(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	certFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	fetch := func(env ...string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), append(env, "NUTTX_FEED_TEST_FETCH="+srv.URL)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := fetch("SSL_CERT_FILE=" + filepath.Join(t.TempDir(), "none.pem")); err == nil || !strings.Contains(out, "certificate") {
		t.Errorf("fetch from an unknown CA succeeded or failed oddly: %v %s", err, out)
	}
	if out, err := fetch("SSL_CERT_FILE=" + certFile); err != nil {
		t.Errorf("fetch trusting SSL_CERT_FILE failed: %v %s", err, out)
	}
}

func TestGuardRefusesRedirectToPrivateAddress(t *testing.T) {
	t.Parallel()
	// Only loopback exists here, so let 127.0.0.2 play a public host: it
	// redirects to 127.0.0.1, which must be refused when dialled.
	var hits atomic.Int32
	private := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer private.Close()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	public := httptest.NewUnstartedServer(http.RedirectHandler(private.URL+"/inbox", http.StatusTemporaryRedirect))
	public.Listener.Close()
	public.Listener = ln
	public.Start()
	defer public.Close()

	c := NewClient(Options{isPublic: func(a netip.Addr) bool { return a == netip.MustParseAddr("127.0.0.2") }})
	resp, err := c.Post(public.URL+"/inbox", "application/activity+json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("redirect to a private address: %v, want ErrForbiddenAddress", err)
	}
	if hits.Load() != 0 {
		t.Fatal("the redirect reached the private server")
	}
	// Without the redirect, the "public" host itself is reachable.
	c = NewClient(Options{isPublic: func(a netip.Addr) bool { return true }})
	if resp, err := c.Get(private.URL); err != nil {
		t.Fatalf("allowed address refused: %v", err)
	} else {
		resp.Body.Close()
	}
}

// TestIsPublicAddr holds isPublicAddr to IANA's special-purpose address
// registries: for every block refused, its first and last addresses are
// refused and its neighbours just outside are judged on their own (public,
// unless they fall in another block, as noted).
func TestIsPublicAddr(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		block         string
		inside        []string // all refused
		outside       []string // just outside the block
		outsidePublic []bool
	}{
		{"0.0.0.0/8", []string{"0.0.0.0", "0.255.255.255"}, []string{"1.0.0.0"}, []bool{true}},
		{"10.0.0.0/8", []string{"10.0.0.0", "10.255.255.255"}, []string{"9.255.255.255", "11.0.0.0"}, []bool{true, true}},
		{"100.64.0.0/10", []string{"100.64.0.0", "100.127.255.255"}, []string{"100.63.255.255", "100.128.0.0"}, []bool{true, true}},
		{"127.0.0.0/8", []string{"127.0.0.0", "127.0.0.1", "127.255.255.255"}, []string{"126.255.255.255", "128.0.0.0"}, []bool{true, true}},
		{"169.254.0.0/16", []string{"169.254.0.0", "169.254.169.254", "169.254.255.255"}, []string{"169.253.255.255", "169.255.0.0"}, []bool{true, true}},
		{"172.16.0.0/12", []string{"172.16.0.0", "172.31.255.255"}, []string{"172.15.255.255", "172.32.0.0"}, []bool{true, true}},
		{"192.0.0.0/24", []string{"192.0.0.0", "192.0.0.9", "192.0.0.255"}, []string{"191.255.255.255", "192.0.1.0"}, []bool{true, true}},
		{"192.0.2.0/24", []string{"192.0.2.0", "192.0.2.255"}, []string{"192.0.1.255", "192.0.3.0"}, []bool{true, true}},
		{"192.88.99.0/24", []string{"192.88.99.0", "192.88.99.255"}, []string{"192.88.98.255", "192.88.100.0"}, []bool{true, true}},
		{"192.168.0.0/16", []string{"192.168.0.0", "192.168.255.255"}, []string{"192.167.255.255", "192.169.0.0"}, []bool{true, true}},
		{"198.18.0.0/15", []string{"198.18.0.0", "198.19.255.255"}, []string{"198.17.255.255", "198.20.0.0"}, []bool{true, true}},
		{"198.51.100.0/24", []string{"198.51.100.0", "198.51.100.255"}, []string{"198.51.99.255", "198.51.101.0"}, []bool{true, true}},
		{"203.0.113.0/24", []string{"203.0.113.0", "203.0.113.255"}, []string{"203.0.112.255", "203.0.114.0"}, []bool{true, true}},
		{"224.0.0.0/4", []string{"224.0.0.0", "224.0.0.1", "239.255.255.255"}, []string{"223.255.255.255"}, []bool{true}},
		{"240.0.0.0/4", []string{"240.0.0.0", "255.255.255.254", "255.255.255.255"}, []string{"239.255.255.255"}, []bool{false}}, // multicast

		{"::/128", []string{"::"}, []string{"::2"}, []bool{false}},                                                               // IPv4-compatible
		{"::1/128", []string{"::1"}, []string{"::2"}, []bool{false}},                                                             // IPv4-compatible
		{"::/96 IPv4-compatible", []string{"::0.0.0.2", "::1.1.1.1", "::255.255.255.255"}, []string{"::1:0:0:0"}, []bool{false}}, // outside 2000::/3
		{"::ffff:0:0/96 IPv4-mapped", []string{"::ffff:0.0.0.0", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:192.0.0.9", "::ffff:255.255.255.255"},
			[]string{"::ffff:1.1.1.1", "::fffe:ffff:ffff", "::1:0:0:0:0"}, []bool{true, false, false}},
		{"64:ff9b::/96 NAT64 of a private IPv4", []string{"64:ff9b::", "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::ffff:ffff"},
			[]string{"64:ff9b::101:101", "64:ff9b::5db8:d822", "64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", "64:ff9b:0:0:0:1::"}, []bool{true, true, false, false}},
		{"64:ff9b:1::/48 local NAT64", []string{"64:ff9b:1::", "64:ff9b:1::101:101", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff"},
			[]string{"64:ff9b:0:ffff:ffff:ffff:ffff:ffff", "64:ff9b:2::"}, []bool{false, false}}, // outside 2000::/3
		{"100::/64 discard-only", []string{"100::", "100::ffff:ffff:ffff:ffff"}, []string{"ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "100:0:0:1::"}, []bool{false, false}},
		{"2001::/23 IETF protocol assignments", []string{"2001::", "2001::1", "2001:1::1", "2001:2::1", "2001:3::1", "2001:4:112::1", "2001:20::1", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff"},
			[]string{"2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:200::"}, []bool{true, true}},
		{"2001:db8::/32 documentation", []string{"2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"}, []string{"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::"}, []bool{true, true}},
		{"2002::/16 6to4 of a private IPv4", []string{"2002::", "2002:7f00:1::1", "2002:a00:1::1", "2002:c0a8:101::", "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
			[]string{"2002:101:101::1", "2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2003::"}, []bool{true, true, true}},
		{"3fff::/20 documentation", []string{"3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff"}, []string{"3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "3fff:1000::"}, []bool{true, true}},
		{"5f00::/16 SRv6", []string{"5f00::", "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, []string{"4000::"}, []bool{false}}, // outside 2000::/3
		{"fc00::/7 unique local", []string{"fc00::", "fd12:3456::1", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, []string{"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe00::"}, []bool{false, false}},
		{"fe80::/10 link-local", []string{"fe80::", "fe80::1", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, []string{"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, []bool{false}},
		{"fec0::/10 site-local", []string{"fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, []string{"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, []bool{false}},
		{"ff00::/8 multicast", []string{"ff00::", "ff02::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, []string{"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, []bool{false}},
		{"2000::/3 global unicast", nil, []string{"1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2000::", "2606:4700:4700::1111", "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "4000::"},
			[]bool{false, true, true, true, false}},
		{"zoned", []string{"fe80::1%eth0", "2606:4700:4700::1111%eth0"}, nil, nil},
	} {
		for _, addr := range c.inside {
			if isPublicAddr(netip.MustParseAddr(addr)) {
				t.Errorf("%s: isPublicAddr(%s) = true, want false", c.block, addr)
			}
		}
		for i, addr := range c.outside {
			if got := isPublicAddr(netip.MustParseAddr(addr)); got != c.outsidePublic[i] {
				t.Errorf("%s: isPublicAddr(%s) (just outside) = %v, want %v", c.block, addr, got, c.outsidePublic[i])
			}
		}
	}
	if isPublicAddr(netip.Addr{}) {
		t.Error("the zero Addr is public")
	}
	for _, addr := range []string{"1.1.1.1", "93.184.216.34", "192.0.1.1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"} {
		if !isPublicAddr(netip.MustParseAddr(addr)) {
			t.Errorf("isPublicAddr(%s) = false, want true", addr)
		}
	}
}
