package servetest

import (
	"bytes"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStartedAddr reads the line as server.Run writes it, in both formats.
func TestStartedAddr(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"127.0.0.1:41234", "[::1]:8080"} {
		var text, js bytes.Buffer
		for _, h := range []slog.Handler{slog.NewTextHandler(&text, nil), slog.NewJSONHandler(&js, nil)} {
			slog.New(h).Info("nuttx-feed started", "version", "dev", "listen", addr, "base_url", "https://nuttx-feed.org",
				"actor", "https://nuttx-feed.org/users/nuttx_build", "handle", "@nuttx_build@nuttx-feed.org")
		}
		for _, line := range []string{text.String(), js.String()} {
			if got, ok := StartedAddr(strings.TrimSpace(line)); !ok || got != addr {
				t.Errorf("%s: got %q %v, want %q", line, got, ok, addr)
			}
		}
	}
	for _, line := range []string{
		`time=x level=INFO msg="nuttx-feed stopped"`,
		`time=x level=INFO msg="bot profile saved" listen=127.0.0.1:1`,
		`{"msg":"nuttx-feed started"}`,
		`{"msg":"request","listen":"127.0.0.1:1"}`,
		`{not json`,
	} {
		if got, ok := StartedAddr(line); ok {
			t.Errorf("%s: got %q, want no address", line, got)
		}
	}
}

func TestStart(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sh", "-c", `echo 'time=x level=INFO msg="bot profile saved"' >&2
echo 'time=x level=INFO msg="nuttx-feed started" version=dev listen=127.0.0.1:4242 base_url=http://x' >&2
while :; do echo 'time=x level=INFO msg=request' >&2; sleep 0.01; done`)
	addr, err := Start(cmd, 10*time.Second)
	if err != nil || addr != "127.0.0.1:4242" {
		t.Fatalf("got %q %v, want 127.0.0.1:4242", addr, err)
	}
	cmd.Process.Kill()
	cmd.Wait()

	_, err = Start(exec.Command("sh", "-c", `echo 'cannot start: boom' >&2; exit 1`), 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "exited before it started") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("a server that fails: %v", err)
	}

	silent := exec.Command("sleep", "10")
	if _, err := Start(silent, 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "within") {
		t.Errorf("a server that never starts: %v", err)
	}
	silent.Process.Kill()
	silent.Wait()
}

// TestNewDataWithoutBinary fails with the error of the missing binary.
func TestNewDataWithoutBinary(t *testing.T) {
	t.Parallel()
	err := NewData(filepath.Join(t.TempDir(), "no-such-binary"), t.TempDir(), "https://nuttx-feed.test")
	if err == nil || !strings.Contains(err.Error(), "no-such-binary") {
		t.Fatalf("NewData of a missing binary: %v, want its error", err)
	}
}
