package server

import (
	"net/url"
	"strings"
	"testing"
)

// TestOAuthRegistrationShapes: an app may register its redirect URIs and
// scopes as JSON lists, as Mastodon takes them; other fields must be
// strings; a redirect host that could add directives to the authorize
// page's Content-Security-Policy is refused.
func TestOAuthRegistrationShapes(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	code, doc, _ := s.request(t, "POST", "/api/v1/apps", "", "application/json",
		[]byte(`{"client_name":"Elk","redirect_uris":["https://elk.example/cb","urn:ietf:wg:oauth:2.0:oob"],"scopes":["read","write"]}`))
	scopes, _ := doc["scopes"].([]any)
	if code != 200 || doc["redirect_uri"] != "https://elk.example/cb\nurn:ietf:wg:oauth:2.0:oob" || len(scopes) != 2 {
		t.Errorf("lists: %d %v", code, doc)
	}
	for _, c := range []struct{ name, body, want string }{
		{"a name as a list", `{"client_name":["Elk"],"redirect_uris":"https://elk.example/cb"}`, "Validation failed: client_name must be a string"},
		{"a list of numbers", `{"client_name":"Elk","redirect_uris":[1]}`, "Validation failed: redirect_uris must be a string or a list of strings"},
		{"a host with a directive", `{"client_name":"Elk","redirect_uris":"https://evil.example;sandbox;/cb"}`,
			"Validation failed: redirect URI: the host must be a domain name or an IP address, with a port or none"},
		{"a host with a comma", `{"client_name":"Elk","redirect_uris":"http://a.example,b/cb"}`,
			"Validation failed: redirect URI: the host must be a domain name or an IP address, with a port or none"},
	} {
		if code, doc, _ := s.request(t, "POST", "/api/v1/apps", "", "application/json", []byte(c.body)); code != 422 || doc["error"] != c.want {
			t.Errorf("%s: %d %v, want 422 %q", c.name, code, doc, c.want)
		}
	}
	for _, ok := range []string{"http://127.0.0.1:8080/cb", "https://[::1]:8443/cb", "https://app.example/cb"} {
		if code, doc, _ := s.request(t, "POST", "/api/v1/apps", "", "application/x-www-form-urlencoded",
			[]byte(url.Values{"client_name": {"x"}, "redirect_uris": {ok}}.Encode())); code != 200 {
			t.Errorf("%s: %d %v", ok, code, doc)
		}
	}
}

// TestOAuthClientCredentialsScope: a client_credentials token is granted
// only scopes the app registered; asking for more is invalid_scope, as
// Doorkeeper answers, not an echo of what was asked.
func TestOAuthClientCredentialsScope(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	_, app, _ := s.request(t, "POST", "/api/v1/apps", "", "application/x-www-form-urlencoded",
		[]byte(url.Values{"client_name": {"x"}, "redirect_uris": {"https://x.example/cb"}, "scopes": {"read"}}.Encode()))
	id, secret := app["client_id"].(string), app["client_secret"].(string)
	for _, c := range []struct {
		scope string
		code  int
		want  string
	}{
		{"", 200, "read"}, {"read", 200, "read"}, {"read:statuses", 200, "read:statuses"},
		{"read write", 400, "invalid_scope"}, {"admin:read", 400, "invalid_scope"}, {"nonsense", 400, "invalid_scope"},
	} {
		code, doc := exchange(t, s, url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {c.scope}})
		got, _ := doc["scope"].(string)
		if c.code == 400 {
			got, _ = doc["error"].(string)
		}
		if code != c.code || got != c.want || strings.Contains(got, "write") {
			t.Errorf("scope %q: %d %v, want %d %q", c.scope, code, doc, c.code, c.want)
		}
	}
}
