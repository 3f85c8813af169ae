package activitypub

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets TestSSLCertFile run a fetch in a fresh process: Go reads
// the system roots (and SSL_CERT_FILE) once per process.
func TestMain(m *testing.M) {
	if url := os.Getenv("NUTTX_FEED_TEST_FETCH"); url != "" {
		resp, err := NewClient(ClientOptions{AllowPrivateNetworks: true}).Get(url)
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
