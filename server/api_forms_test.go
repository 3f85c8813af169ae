package server

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
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

// TestAPILanguage: a status's language is stored, answered, keys the
// contentMap a follower gets, stays on an edit that does not name one,
// and changes on one that does; a language that is not a code is 422.
func TestAPILanguage(t *testing.T) {
	t.Parallel()
	s, alice := startFollowedAPIServer(t)
	// contentMaps are the contentMaps of the first n deliveries of a Note,
	// by activity type and content: deliveries may arrive in any order.
	contentMaps := func(n int) map[string]bool {
		t.Helper()
		got := map[string]bool{}
		for _, d := range alice.WaitDeliveries(t, n, 10*time.Second) {
			if obj, ok := d.Activity["object"].(map[string]any); ok {
				got[fmt.Sprint(d.Activity["type"], " ", obj["contentMap"])] = true
			}
		}
		return got
	}
	code, st := s.form(t, "POST", "/api/v1/statuses", s.token, url.Values{"status": {"Hallo Welt"}, "language": {"de"}})
	if code != 200 || st["language"] != "de" {
		t.Fatalf("POST: %d %v", code, st)
	}
	if m := contentMaps(2); !m["Create map[de:<p>Hallo Welt</p>]"] { // and the Accept of the follow
		t.Errorf("contentMaps %v, want the Create's keyed de", m)
	}
	id := st["id"].(string)
	if code, ed := s.form(t, "PUT", "/api/v1/statuses/"+id, s.token, url.Values{"status": {"Hallo, Welt"}}); code != 200 || ed["language"] != "de" {
		t.Errorf("an edit without a language: %d %v, want de kept", code, ed)
	}
	if code, ed := s.form(t, "PUT", "/api/v1/statuses/"+id, s.token, url.Values{"status": {"Hello, world"}, "language": {"en"}}); code != 200 || ed["language"] != "en" {
		t.Errorf("an edit to en: %d %v", code, ed)
	}
	if m := contentMaps(4); !m["Update map[de:<p>Hallo, Welt</p>]"] || !m["Update map[en:<p>Hello, world</p>]"] {
		t.Errorf("contentMaps %v, want an Update keyed de, then one keyed en", m)
	}
	code, doc := s.form(t, "POST", "/api/v1/statuses", s.token, url.Values{"status": {"x"}, "language": {"<script>"}})
	wantError(t, "a language that is not a code", code, doc, 422, `Validation failed: Language "<script>" is not a language code (ISO 639, as en or pt-BR)`)
	_, plain := s.postForm(t, url.Values{"status": {"no language"}})
	if plain["language"] != "en" {
		t.Errorf("a status without a language: %v, want en", plain["language"])
	}
}
