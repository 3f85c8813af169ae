package server

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
)

// What Mastodon apps read when a user taps around (issue 10, second
// review), against `nuttx-feed serve` in a child process.

// getJSON sends GET path (with the token unless auth is "") and decodes
// the JSON answer, whatever its shape.
func (s *apiServer) getJSON(t *testing.T, path, auth string) (int, any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	a := send(t, req)
	var doc any
	if err := json.Unmarshal([]byte(a.body), &doc); err != nil {
		t.Fatalf("GET %s: %d, not JSON: %q", path, a.status, a.body)
	}
	return a.status, doc, a.header
}

// TestAPIStatusViewerFieldsAndLastStatus: a status has favourited,
// reblogged, muted, bookmarked and pinned (false) and application (null);
// the bot's account has last_status_at (null before its first status, then
// the date of its last one) and the neutral header, never "".
func TestAPIStatusViewerFieldsAndLastStatus(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	bearer := "Bearer " + s.token
	_, me, _ := s.request(t, "GET", "/api/v1/accounts/verify_credentials", bearer, "", nil)
	if v, ok := me["last_status_at"]; !ok || v != nil {
		t.Errorf("last_status_at before any status: %v (present %v), want null", v, ok)
	}
	if h, _ := me["header"].(string); !strings.HasSuffix(h, "/static/missing.png") || me["header_static"] != h {
		t.Errorf("header %q, header_static %q: want the neutral /static/missing.png", h, me["header_static"])
	}
	id := s.postStatus(t, url.Values{"status": {"hello"}})
	for _, auth := range []string{bearer, ""} {
		code, st, _ := s.request(t, "GET", "/api/v1/statuses/"+id, auth, "", nil)
		if code != http.StatusOK {
			t.Fatalf("GET status: %d %v", code, st)
		}
		for _, k := range []string{"favourited", "reblogged", "muted", "bookmarked", "pinned"} {
			if v, ok := st[k]; !ok || v != false {
				t.Errorf("%s: %v (present %v), want false", k, v, ok)
			}
		}
		if v, ok := st["application"]; !ok || v != nil {
			t.Errorf("application: %v (present %v), want null", v, ok)
		}
		account, _ := st["account"].(map[string]any)
		if today := time.Now().UTC().Format(time.DateOnly); account["last_status_at"] != today {
			t.Errorf("last_status_at %v, want %s", account["last_status_at"], today)
		}
	}
}

// startAPIServerWithLog is startAPIServer keeping the server's log.
func startAPIServerWithLog(t *testing.T) (*apiServer, *child) {
	t.Helper()
	dir := t.TempDir()
	c := serveInChild(t, "--data", dir, "--listen", "127.0.0.1:0", "--allow-private-networks", "--prometheus-url", "")
	code, out, stderr := run("token", "create", "--data", dir, "ci")
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return &apiServer{&adminServer{dir: dir, url: "http://" + c.Addr}, lines[len(lines)-1]}, c
}

// TestAPIMentionErrorsArePlain: a mention that cannot be resolved is
// answered in plain words (no URL, no resolver address), with the
// fetch's detail in the server's log.
func TestAPIMentionErrorsArePlain(t *testing.T) {
	t.Parallel()
	s, server := startAPIServerWithLog(t)
	bob := fedtest.New(t, "bob", fedtest.Mastodon, fedtest.FetchKeys)
	host := strings.TrimPrefix(bob.Server.URL, "http://")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close() // nobody answers there
	for _, c := range []struct {
		handle string
		code   int
		want   string
	}{
		{"@bob@nonexistent.invalid", 422, "Validation failed: cannot mention @bob@nonexistent.invalid: no such domain"},
		{"@nobody@" + host, 422, "Validation failed: cannot mention @nobody@" + host + ": no such account"},
		{"@nobody@" + strings.TrimPrefix(adminBase, "http://"), 422, "Validation failed: cannot mention @nobody@" + strings.TrimPrefix(adminBase, "http://") + ": no such account"},
		{"@alice@" + down, 503, "cannot mention @alice@" + down + ": the server did not answer; try again later"},
	} {
		code, doc := s.postForm(t, url.Values{"status": {"hi " + c.handle}})
		if code != c.code || doc["error"] != c.want {
			t.Errorf("POST mentioning %s: %d %v, want %d %q", c.handle, code, doc, c.code, c.want)
		}
	}
	log := server.log.String()
	if !strings.Contains(log, "nonexistent.invalid") || !strings.Contains(log, "no such host") {
		t.Errorf("the log lacks the DNS detail:\n%s", log)
	}
}
