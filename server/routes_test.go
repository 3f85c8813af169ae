package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// TestEveryURLRoutesToItsHandler: each builder of urls.Site, as used in
// documents and pages, reaches the route it was built from; and the router
// holds exactly the routes of the table, nothing defined elsewhere.
func TestEveryURLRoutesToItsHandler(t *testing.T) {
	t.Parallel()
	site, err := urls.New("https://nuttx-feed.org")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{site: site, log: slog.New(slog.DiscardHandler)}
	e := s.routes()
	for _, c := range []struct {
		method string
		url    string
		want   urls.Route
	}{
		{http.MethodGet, site.Actor("nuttx_build"), urls.Actor},
		{http.MethodGet, site.KeyID("nuttx_build"), urls.Actor},
		{http.MethodPost, site.Inbox("nuttx_build"), urls.Inbox},
		{http.MethodGet, site.Outbox("nuttx_build") + "?page=true", urls.Outbox},
		{http.MethodGet, site.Followers("nuttx_build"), urls.Followers},
		{http.MethodGet, site.Following("nuttx_build"), urls.Following},
		{http.MethodGet, site.Featured("nuttx_build"), urls.Featured},
		{http.MethodGet, site.Note("nuttx_build", "60cece9b"), urls.Note},
		{http.MethodGet, site.Activity("nuttx_build", "60cece9b"), urls.Activity},
		{http.MethodGet, site.Replies("nuttx_build", "60cece9b") + "?page=2", urls.Replies},
		{http.MethodPost, site.SharedInbox(), urls.SharedInbox},
		{http.MethodGet, site.Profile("rv-virt.citest"), urls.Profile},
		{http.MethodGet, site.ProfileFeed("rv-virt.citest"), urls.ProfileFeed},
		{http.MethodGet, site.NoteURL("nuttx_build", "60cece9b"), urls.NotePage},
		{http.MethodGet, site.Tag("risc_v"), urls.Tag},
		{http.MethodGet, site.Failing() + "?page=2", urls.Failing},
		{http.MethodGet, site.Target("rv-virt:citest"), urls.Target},
		{http.MethodGet, site.TargetFeed("rv-virt:citest"), urls.TargetFeed},
		{http.MethodGet, site.URL(urls.Search) + "?q=riscv_exit.c", urls.Search},
		{http.MethodGet, site.Avatar(), urls.Static},
		{http.MethodGet, site.URL(urls.WebFinger) + "?resource=acct:nuttx_build@nuttx-feed.org", urls.WebFinger},
		{http.MethodGet, site.URL(urls.HostMeta), urls.HostMeta},
		{http.MethodGet, site.URL(urls.NodeInfoLinks), urls.NodeInfoLinks},
		{http.MethodGet, site.URL(urls.NodeInfo20), urls.NodeInfo20},
		{http.MethodGet, site.URL(urls.NodeInfo21), urls.NodeInfo21},
		{http.MethodGet, site.URL(urls.Health), urls.Health},
		{http.MethodGet, site.URL(urls.Home), urls.Home},
		{http.MethodGet, site.RemoteFollow() + "?server=mastodon.social", urls.Follow},
		{http.MethodGet, site.URL(urls.APIInstance), urls.APIInstance},
		{http.MethodGet, site.URL(urls.APIInstanceV2), urls.APIInstanceV2},
		{http.MethodGet, site.URL(urls.APIVerifyCredentials), urls.APIVerifyCredentials},
		{http.MethodPost, site.URL(urls.APIStatuses), urls.APIStatuses},
		{http.MethodOptions, site.URL(urls.APIStatuses), urls.APIStatuses},
		{http.MethodGet, site.URL(urls.APIStatus, "60cece9b"), urls.APIStatus},
		{http.MethodGet, site.URL(urls.APIStatusContext, "60cece9b"), urls.APIStatusContext},
		{http.MethodGet, site.URL(urls.APIAccountLookup) + "?acct=nuttx_build", urls.APIAccountLookup},
		{http.MethodGet, site.URL(urls.APIAccount, "1"), urls.APIAccount},
		{http.MethodGet, site.URL(urls.APIAccountStatuses, "1"), urls.APIAccountStatuses},
		{http.MethodGet, site.URL(urls.APIAccountFollowers, "1"), urls.APIAccountFollowers},
		{http.MethodGet, site.URL(urls.APITimelinePublic), urls.APITimelinePublic},
		{http.MethodGet, site.URL(urls.APINotifications), urls.APINotifications},
		{http.MethodGet, site.URL(urls.APINotification, "7"), urls.APINotification},
		{http.MethodPost, site.URL(urls.APIApps), urls.APIApps},
		{http.MethodGet, site.URL(urls.APIAppsVerify), urls.APIAppsVerify},
		{http.MethodGet, site.URL(urls.OAuthAuthorize), urls.OAuthAuthorize},
		{http.MethodPost, site.URL(urls.OAuthAuthorize), urls.OAuthAuthorize},
		{http.MethodPost, site.URL(urls.OAuthToken), urls.OAuthToken},
		{http.MethodPost, site.URL(urls.OAuthRevoke), urls.OAuthRevoke},
		{http.MethodGet, site.URL(urls.OAuthMetadata), urls.OAuthMetadata},
		{http.MethodGet, site.URL(urls.APICustomEmojis), urls.APICustomEmojis},
		{http.MethodGet, site.URL(urls.APITimelineHome), urls.APITimelineHome},
		{http.MethodGet, site.URL(urls.APIPreferences), urls.APIPreferences},
		{http.MethodGet, site.URL(urls.APIMarkers), urls.APIMarkers},
		{http.MethodGet, site.URL(urls.APIFilters), urls.APIFilters},
		{http.MethodGet, site.URL(urls.APIFiltersV2), urls.APIFiltersV2},
		{http.MethodGet, site.URL(urls.APILists), urls.APILists},
		{http.MethodGet, site.URL(urls.APIAnnouncements), urls.APIAnnouncements},
		{http.MethodGet, site.URL(urls.APIFollowedTags), urls.APIFollowedTags},
		{http.MethodGet, site.URL(urls.APIConversations), urls.APIConversations},
		{http.MethodGet, site.URL(urls.APIAccountRelationships), urls.APIAccountRelationships},
		{http.MethodPost, site.URL(urls.HookAlertmanager), urls.HookAlertmanager},
	} {
		req := httptest.NewRequest(c.method, c.url, nil)
		ctx := e.NewContext(req, nil)
		e.Router().Find(c.method, req.URL.Path, ctx)
		if ctx.Path() != c.want.RouterPattern() {
			t.Errorf("%s %s routes to %q, want %q (%s)", c.method, c.url, ctx.Path(), c.want.RouterPattern(), c.want.Name)
		}
	}
	var registered, table []string
	for _, r := range e.Routes() {
		registered = append(registered, r.Path)
	}
	for _, r := range urls.All {
		table = append(table, r.RouterPattern())
	}
	slices.Sort(table)
	registered = slices.Compact(slices.Sorted(slices.Values(registered)))
	table = slices.Compact(table)
	if !slices.Equal(registered, table) {
		t.Errorf("the router holds\n%q\nthe URL table\n%q", registered, table)
	}
}

// TestPanicIsLoggedThroughSlog: a handler that panics answers 503 and is
// logged as one structured record, so --log-format json stays parseable.
func TestPanicIsLoggedThroughSlog(t *testing.T) {
	t.Parallel()
	site, _ := urls.New("https://nuttx-feed.org")
	var logs bytes.Buffer
	s := &Server{site: site, log: slog.New(slog.NewJSONHandler(&logs, nil))}
	e := s.routes()
	e.GET("/boom", func(echo.Context) error { panic("boom") })
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/boom", nil)
	req.Header.Set("Accept", "application/json")
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("panic answered %d, want 503", rec.Code)
	}
	var panicked bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["msg"] == "panic in a handler" && strings.Contains(rec["err"].(string), "boom") && strings.Contains(rec["stack"].(string), "routes_test.go") {
			panicked = true
		}
	}
	if !panicked {
		t.Errorf("no structured record of the panic:\n%s", logs.String())
	}
}

// TestLoggedURIHidesSecrets: a token sent as access_token (as Mastodon
// clients may) or an OAuth code or secret never reaches the request log.
func TestLoggedURIHidesSecrets(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ uri, want string }{
		{"/api/v1/instance", "/api/v1/instance"},
		{"/api/v1/timelines/public?limit=5&local=true", "/api/v1/timelines/public?limit=5&local=true"},
		{"/hooks/alertmanager?access_token=nfd_secret", "/hooks/alertmanager?access_token=REDACTED"},
		{"/api/v1/notifications?limit=2&access_token=nfd_secret", "/api/v1/notifications?limit=2&access_token=REDACTED"},
		{"/oauth/authorize?code=c0de&client_secret=s3cret&token=t0k", "/oauth/authorize?code=REDACTED&client_secret=REDACTED&token=REDACTED"},
		{"/oauth/token?code_verifier=v3r&Access_Token=x", "/oauth/token?code_verifier=REDACTED&Access_Token=REDACTED"},
		{"/api/v1/timelines/public;access_token=nfd_secret", "/api/v1/timelines/public;access_token=REDACTED"},
		{"/api/v1/statuses?access_token=nfd_secret%zz", "/api/v1/statuses?access_token=REDACTED"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RequestURI = c.uri
		if got := loggedURI(req); got != c.want {
			t.Errorf("loggedURI(%q) = %q, want %q", c.uri, got, c.want)
		}
	}

	// Through the request log itself.
	site, _ := urls.New("https://nuttx-feed.org")
	var logs bytes.Buffer
	s := &Server{site: site, log: slog.New(slog.NewJSONHandler(&logs, nil))}
	e := s.routes()
	req := httptest.NewRequest(http.MethodPost, "/nowhere?access_token=nfd_secret", nil)
	e.ServeHTTP(httptest.NewRecorder(), req)
	if strings.Contains(logs.String(), "nfd_secret") || !strings.Contains(logs.String(), "access_token=REDACTED") {
		t.Errorf("the request log shows the token or no redacted URI:\n%s", logs.String())
	}
}
