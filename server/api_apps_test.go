package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
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
