package server

import (
	"net/url"
	"strings"
	"testing"
)

// TestOversizedFormSaysSo: a form body over the API's limit sent without
// an Authorization header (the token check reads the form first, for an
// access_token) is a 400 that says the body is too large, not an answer
// about fields that seem missing.
func TestOversizedFormSaysSo(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	huge := strings.Repeat("x", apiMaxBody+1)
	for _, c := range []struct{ path, form string }{
		{"/api/v1/apps", url.Values{"client_name": {"x"}, "redirect_uris": {"https://x.example/"}, "website": {huge}}.Encode()},
		{"/api/v1/statuses", url.Values{"access_token": {s.token}, "status": {"hi"}, "spoiler_text": {huge}}.Encode()},
	} {
		code, doc, _ := s.request(t, "POST", c.path, "", "application/x-www-form-urlencoded", []byte(c.form))
		if msg, _ := doc["error"].(string); code != 400 || !strings.Contains(msg, "request body too large") {
			t.Errorf("POST %s with a body over %d bytes: %d %v, want 400 saying it is too large", c.path, apiMaxBody, code, doc)
		}
	}
	if n := s.noteCount(t); n != 0 {
		t.Errorf("%d notes stored", n)
	}
}
