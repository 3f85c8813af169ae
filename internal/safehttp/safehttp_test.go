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

func TestIsPublicAddr(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1": false, "127.1.2.3": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "100.64.0.1": false, "0.0.0.0": false, "224.0.0.1": false, "198.18.0.1": false,
		"::1": false, "fe80::1": false, "fc00::1": false, "::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false,
		"1.1.1.1": true, "93.184.216.34": true, "2606:4700:4700::1111": true,
	} {
		if got := isPublicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("isPublicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}
