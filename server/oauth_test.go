package server

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/chromedp"
	"github.com/mattn/go-mastodon"
)

// OAuth 2 as a phone app does it, against `nuttx-feed serve` in a child
// process: the app registers, the operator opens the authorize page and
// pastes a token made by `token create`, the browser follows the redirect
// to the app, which exchanges the code for a token of its own.

// oauthApp is an app registered on a test server, and its callback: a
// server on loopback that records the query it is redirected to.
type oauthApp struct {
	*mastodon.Application
	redirect string
	got      chan url.Values
}

// registerApp registers an app with scopes through go-mastodon, with a
// callback of its own as redirect URI.
func registerApp(t *testing.T, s *apiServer, scopes string) *oauthApp {
	t.Helper()
	got := make(chan url.Values, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Query()
		w.Write([]byte("signed in"))
	}))
	t.Cleanup(cb.Close)
	app, err := mastodon.RegisterApp(t.Context(), &mastodon.AppConfig{Server: s.url, ClientName: "Tusky (test)", RedirectURIs: cb.URL + "/callback", Scopes: scopes, Website: "https://tusky.app"})
	if err != nil {
		t.Fatal(err)
	}
	return &oauthApp{app, cb.URL + "/callback", got}
}

// browser is a client with cookies that follows redirects or not.
func oauthBrowser(t *testing.T, follow bool) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

// authorizePage opens the authorize page at uri with c and returns the
// page and the form's fields (hidden ones filled, as a browser sends).
func authorizePage(t *testing.T, c *http.Client, uri string) (int, *goquery.Document, url.Values, string) {
	t.Helper()
	resp, err := c.Get(uri)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{}
	doc.Find("form.authorize input").Each(func(_ int, in *goquery.Selection) {
		name, _ := in.Attr("name")
		value, _ := in.Attr("value")
		form.Set(name, value)
	})
	action, _ := doc.Find("form.authorize").Attr("action")
	return resp.StatusCode, doc, form, action
}

// submit posts the authorize form with the pasted token and decision.
func submit(t *testing.T, c *http.Client, s *apiServer, action string, form url.Values, token string) *http.Response {
	t.Helper()
	form.Set("token", token)
	form.Set("decision", "allow")
	resp, err := c.PostForm(s.url+action, form)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// createToken makes a token with `token create --scopes scopes name`.
func createToken(t *testing.T, s *apiServer, name, scopes string) string {
	t.Helper()
	code, out, stderr := run("token", "create", "--data", s.dir, "--scopes", scopes, name)
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// signIn runs the flow up to the code the app's callback receives.
func signIn(t *testing.T, s *apiServer, app *oauthApp, token string, extra url.Values) string {
	t.Helper()
	c := oauthBrowser(t, true)
	uri := s.url + "/oauth/authorize?" + url.Values{"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {app.redirect},
		"scope": {"read write"}, "state": {"xyz"}}.Encode() + "&" + extra.Encode()
	code, _, form, action := authorizePage(t, c, uri)
	if code != http.StatusOK {
		t.Fatalf("authorize page: %d", code)
	}
	if resp := submit(t, c, s, action, form, token); resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize: %d", resp.StatusCode)
	}
	q := <-app.got
	if q.Get("state") != "xyz" || q.Get("code") == "" {
		t.Fatalf("the callback got %v", q)
	}
	return q.Get("code")
}

// exchange posts fields to /oauth/token and decodes the answer.
func exchange(t *testing.T, s *apiServer, fields url.Values) (int, map[string]any) {
	t.Helper()
	code, doc, _ := s.request(t, "POST", "/oauth/token", "", "application/x-www-form-urlencoded", []byte(fields.Encode()))
	return code, doc
}

// TestOAuthSignInWithMastodonClient: the whole flow as an app does it,
// then the app's token through go-mastodon: it acts as the account of the
// pasted token, `token list` shows it, a code works once, and revoking
// (/oauth/revoke) ends it.
func TestOAuthSignInWithMastodonClient(t *testing.T) {
	t.Parallel()
	f := startReadFixture(t)
	s, ctx := f.apiServer, t.Context()
	app := registerApp(t, s, "read write follow push")
	if app.ClientID == "" || app.ClientSecret == "" || app.RedirectURI != app.redirect || !strings.Contains(app.AuthURI, "/oauth/authorize?") {
		t.Fatalf("registered: %+v", app.Application)
	}

	b := oauthBrowser(t, true)
	code, doc, form, action := authorizePage(t, b, app.AuthURI)
	text := doc.Find("main").Text()
	if code != http.StatusOK || !strings.Contains(text, "Authorize Tusky (test)") || !strings.Contains(text, "@nuttx_build@localhost") ||
		doc.Find("ul.scopes li").Length() != 4 || !strings.Contains(text, "--scopes read,write,follow,push") || form.Get("csrf") == "" {
		t.Fatalf("authorize page %d: %s (form %v)", code, text, form)
	}
	cb, _ := url.Parse(app.redirect)
	if dest := doc.Find("#destination strong").Text(); dest != cb.Host {
		t.Errorf("the page says it sends back to %q, want %q", dest, cb.Host)
	}
	if create := doc.Find("#create-command").Text(); create != "nuttx-feed token create --scopes read,write,follow,push sign-in" ||
		doc.Find("#revoke-command").Text() != "nuttx-feed token revoke sign-in" || !strings.Contains(doc.Find("#phone").Text(), "| qrencode -t ansiutf8") {
		t.Errorf("the commands shown: %q, %q, %q", create, doc.Find("#revoke-command").Text(), doc.Find("#phone").Text())
	}
	token := createToken(t, s, "sign-in", "read,write,follow,push")
	if resp := submit(t, b, s, action, form, token); resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize: %d", resp.StatusCode)
	}
	q := <-app.got
	c := mastodon.NewClient(&mastodon.Config{Server: s.url, ClientID: app.ClientID, ClientSecret: app.ClientSecret})
	if err := c.AuthenticateToken(ctx, q.Get("code"), app.redirect); err != nil {
		t.Fatal(err)
	}
	if c.Config.AccessToken == "" || c.Config.AccessToken == token {
		t.Fatalf("access token %q", c.Config.AccessToken)
	}

	me, err := c.GetAccountCurrentUser(ctx)
	if err != nil || me.ID != f.me.ID {
		t.Fatalf("verify_credentials: %+v %v", me, err)
	}
	notes, err := c.GetNotifications(ctx, nil)
	if err != nil || len(notes) == 0 {
		t.Errorf("notifications: %d %v", len(notes), err)
	}
	st, err := c.PostStatus(ctx, &mastodon.Toot{Status: "posted from a phone"})
	if err != nil {
		t.Fatal(err)
	}
	home, err := c.GetTimelineHome(ctx, &mastodon.Pagination{Limit: 2})
	if err != nil || len(home) != 2 || home[0].ID != st.ID || home[1].ID != f.statuses[4].ID {
		t.Errorf("home timeline: %v %v", ids(home), err)
	}
	rel, err := c.GetAccountRelationships(ctx, []string{string(f.statuses[0].Account.ID), aliceID(t, f)})
	if err != nil || len(rel) != 2 || rel[0].FollowedBy || !rel[1].FollowedBy || rel[1].Following {
		t.Errorf("relationships: %+v %v", rel, err)
	}
	status, doc2, _ := s.request(t, "GET", "/api/v1/apps/verify_credentials", "Bearer "+c.Config.AccessToken, "", nil)
	if status != http.StatusOK || doc2["name"] != "Tusky (test)" || doc2["client_secret"] != nil {
		t.Errorf("apps/verify_credentials: %d %v", status, doc2)
	}
	if _, out, _ := run("token", "list", "--data", s.dir); !strings.Contains(out, "app-tusky-test-1") || !strings.Contains(out, "read,write,follow,push") {
		t.Errorf("token list:\n%s", out)
	}

	again, e := exchange(t, s, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "client_id": {app.ClientID},
		"client_secret": {app.ClientSecret}, "redirect_uri": {app.redirect}})
	if again != http.StatusBadRequest || e["error"] != "invalid_grant" || e["error_description"] == "" {
		t.Errorf("a code used twice: %d %v", again, e)
	}

	revoke := url.Values{"token": {c.Config.AccessToken}, "client_id": {app.ClientID}, "client_secret": {"wrong"}}
	if code, e, _ := s.request(t, "POST", "/oauth/revoke", "", "application/x-www-form-urlencoded", []byte(revoke.Encode())); code != http.StatusUnauthorized || e["error"] != "invalid_client" {
		t.Errorf("revoke with a wrong secret: %d %v", code, e)
	}
	revoke.Set("client_secret", app.ClientSecret)
	revoke.Set("token", token)
	if code, e, _ := s.request(t, "POST", "/oauth/revoke", "", "application/x-www-form-urlencoded", []byte(revoke.Encode())); code != http.StatusForbidden || e["error"] != "unauthorized_client" {
		t.Errorf("an app revoking the operator's token: %d %v", code, e)
	}
	revoke.Set("token", c.Config.AccessToken)
	if code, _, _ := s.request(t, "POST", "/oauth/revoke", "", "application/x-www-form-urlencoded", []byte(revoke.Encode())); code != http.StatusOK {
		t.Errorf("revoke: %d", code)
	}
	if _, err := c.GetAccountCurrentUser(ctx); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a revoked token: %v, want 401", err)
	}
	if _, err := mastodon.NewClient(&mastodon.Config{Server: s.url, AccessToken: token}).GetAccountCurrentUser(ctx); err != nil {
		t.Errorf("the pasted token after the app's was revoked: %v", err)
	}
}

// aliceID is the API id of the fixture's follower alice.
func aliceID(t *testing.T, f *readFixture) string {
	t.Helper()
	followers, err := f.c.GetAccountFollowers(t.Context(), f.me.ID, nil)
	if err != nil || len(followers) != 1 {
		t.Fatalf("followers: %v %v", followers, err)
	}
	return string(followers[0].ID)
}

// TestOAuthPKCE: with a code_challenge, the code is exchanged only with
// its verifier; a wrong verifier or none is invalid_grant and uses the
// code up.
func TestOAuthPKCE(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	app := registerApp(t, s, "read write")
	verifier := "dBjftJeZ4CVP-mJ92K9-Ve8mOUp9eb0Xeik3Wdz6r7u"
	sum := sha256.Sum256([]byte(verifier))
	pkce := url.Values{"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	fields := func(code, verifier string) url.Values {
		v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {app.ClientID}, "client_secret": {app.ClientSecret}, "redirect_uri": {app.redirect}}
		if verifier != "" {
			v.Set("code_verifier", verifier)
		}
		return v
	}
	for _, wrong := range []string{"", "not-the-verifier"} {
		code := signIn(t, s, app, s.token, pkce)
		if status, e := exchange(t, s, fields(code, wrong)); status != http.StatusBadRequest || e["error"] != "invalid_grant" {
			t.Errorf("verifier %q: %d %v", wrong, status, e)
		}
		if status, _ := exchange(t, s, fields(code, verifier)); status != http.StatusBadRequest {
			t.Errorf("the code after a wrong verifier %q: %d, want it used up", wrong, status)
		}
	}
	code := signIn(t, s, app, s.token, pkce)
	status, doc := exchange(t, s, fields(code, verifier))
	if status != http.StatusOK || doc["token_type"] != "Bearer" || doc["scope"] != "read write" || doc["created_at"] == nil {
		t.Fatalf("with the verifier: %d %v", status, doc)
	}
	if code, _, _ := s.request(t, "GET", "/api/v1/accounts/verify_credentials", "Bearer "+doc["access_token"].(string), "", nil); code != http.StatusOK {
		t.Errorf("the PKCE token: %d", code)
	}
}

// TestOAuthRefusals: each refusal of the flow, and that none redirects
// to a URI the app did not register.
func TestOAuthRefusals(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	app := registerApp(t, s, "read write")
	authorize := func(change func(url.Values)) string {
		q := url.Values{"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {app.redirect}, "scope": {"read"}}
		change(q)
		return s.url + "/oauth/authorize?" + q.Encode()
	}
	for name, c := range map[string]struct {
		change func(url.Values)
		says   string
	}{
		"an unknown client_id":        {func(q url.Values) { q.Set("client_id", "nope") }, "No app is registered with this client_id"},
		"an unregistered redirect":    {func(q url.Values) { q.Set("redirect_uri", "https://evil.example/steal") }, "is not one that Tusky (test) registered"},
		"a scope it did not register": {func(q url.Values) { q.Set("scope", "read follow") }, `The scope "follow" is not one`},
		"another response_type":       {func(q url.Values) { q.Set("response_type", "token") }, "The response_type must be code"},
		"a plain PKCE challenge": {func(q url.Values) { q.Set("code_challenge", "abc"); q.Set("code_challenge_method", "plain") },
			"The code_challenge_method must be S256"},
	} {
		resp, err := oauthBrowser(t, false).Get(authorize(c.change))
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := goquery.NewDocumentFromReader(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(doc.Find("main").Text(), c.says) {
			t.Errorf("%s: %d, Location %q, page %q; want 400, no redirect and %q", name, resp.StatusCode, resp.Header.Get("Location"), doc.Find("main").Text(), c.says)
		}
	}

	b := oauthBrowser(t, false)
	_, _, form, action := authorizePage(t, b, authorize(func(url.Values) {}))
	narrow := createToken(t, s, "narrow", "write:statuses")
	for name, c := range map[string]struct {
		token string
		want  int
		says  string
	}{
		"a wrong token":               {"nfd_wrong", http.StatusUnauthorized, "This is not a token of this server"},
		"a token with too few scopes": {narrow, http.StatusForbidden, "has the scopes write:statuses, not read"},
	} {
		resp := submit(t, b, s, action, url.Values(cloneValues(form)), c.token)
		doc, _ := goquery.NewDocumentFromReader(resp.Body)
		if resp.StatusCode != c.want || !strings.Contains(doc.Find("[role=alert]").Text(), c.says) || doc.Find("form.authorize").Length() != 1 || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d %q", name, resp.StatusCode, doc.Find("main").Text())
		}
	}
	noCookie := oauthBrowser(t, false)
	if resp := submit(t, noCookie, s, action, cloneValues(form), s.token); resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
		t.Errorf("without the cookie: %d", resp.StatusCode)
	}
	forged := cloneValues(form)
	forged.Set("csrf", "forged")
	if resp := submit(t, b, s, action, forged, s.token); resp.StatusCode != http.StatusForbidden {
		t.Errorf("with another nonce: %d", resp.StatusCode)
	}
	deny := cloneValues(form)
	deny.Set("decision", "deny")
	if resp, _ := b.PostForm(s.url+action, deny); resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "error=access_denied") {
		t.Errorf("deny: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	resp := submit(t, b, s, action, cloneValues(form), s.token)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc.String(), app.redirect+"?") {
		t.Fatalf("authorize: %d %q", resp.StatusCode, loc)
	}
	good := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "client_id": {app.ClientID}, "client_secret": {app.ClientSecret}, "redirect_uri": {app.redirect}}
	for name, c := range map[string]struct {
		key, value string
		want       int
		err        string
	}{
		"a wrong secret":     {"client_secret", "wrong", http.StatusUnauthorized, "invalid_client"},
		"an unknown client":  {"client_id", "nope", http.StatusUnauthorized, "invalid_client"},
		"another grant type": {"grant_type", "password", http.StatusBadRequest, "unsupported_grant_type"},
	} {
		v := cloneValues(good)
		v.Set(c.key, c.value)
		if status, e := exchange(t, s, v); status != c.want || e["error"] != c.err {
			t.Errorf("%s: %d %v", name, status, e)
		}
	}
	wrongRedirect := cloneValues(good)
	wrongRedirect.Set("redirect_uri", "https://evil.example/steal")
	if status, e := exchange(t, s, wrongRedirect); status != http.StatusBadRequest || e["error"] != "invalid_grant" {
		t.Errorf("another redirect_uri: %d %v", status, e)
	}
	if status, _ := exchange(t, s, good); status != http.StatusBadRequest {
		t.Errorf("the code after a wrong redirect_uri: %d, want it used up", status)
	}

	expiring := signIn(t, s, app, s.token, nil)
	if _, err := s.db(t).SQL.Exec(`UPDATE oauth_codes SET expires_at = 0`); err != nil {
		t.Fatal(err)
	}
	good.Set("code", expiring)
	if status, e := exchange(t, s, good); status != http.StatusBadRequest || e["error"] != "invalid_grant" {
		t.Errorf("an expired code: %d %v", status, e)
	}
}

// TestOAuthProofToken: only a token made by `token create` proves that
// one runs the server: a token given to an app is refused, so that an app
// cannot approve more apps with its own token (tokens that would outlive
// `token revoke` of its own); the proof's use shows in `token list`.
func TestOAuthProofToken(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	app := registerApp(t, s, "read write")
	status, tok := exchange(t, s, url.Values{"grant_type": {"authorization_code"}, "code": {signIn(t, s, app, s.token, nil)},
		"client_id": {app.ClientID}, "client_secret": {app.ClientSecret}, "redirect_uri": {app.redirect}})
	if status != http.StatusOK {
		t.Fatalf("exchange: %d %v", status, tok)
	}
	var tokens []struct {
		Name     string  `json:"name"`
		LastUsed *string `json:"last_used"`
	}
	_, out, _ := run("token", "list", "--json", "--data", s.dir)
	if err := json.Unmarshal([]byte(out), &tokens); err != nil {
		t.Fatalf("token list --json: %v\n%s", err, out)
	}
	for _, tk := range tokens {
		if tk.Name == "ci" && tk.LastUsed == nil {
			t.Errorf("token list: the proof token ci was used to authorize, but its last use is never")
		}
	}

	b := oauthBrowser(t, false)
	_, _, form, action := authorizePage(t, b, s.url+"/oauth/authorize?"+url.Values{"response_type": {"code"}, "client_id": {app.ClientID},
		"redirect_uri": {app.redirect}, "scope": {"read"}}.Encode())
	resp := submit(t, b, s, action, form, tok["access_token"].(string))
	doc, _ := goquery.NewDocumentFromReader(resp.Body)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" ||
		!strings.Contains(doc.Find("[role=alert]").Text(), "The token app-tusky-test-1 was given to an app") {
		t.Errorf("an app's token pasted as proof: %d, Location %q, %q", resp.StatusCode, resp.Header.Get("Location"), doc.Find("main").Text())
	}
}

// TestRedirectDestination: what the authorize page says the code is sent
// to, for each kind of redirect URI.
func TestRedirectDestination(t *testing.T) {
	t.Parallel()
	for uri, want := range map[string]string{
		"https://elk.zone/callback":    "elk.zone",
		"http://127.0.0.1:8080/cb?x=1": "127.0.0.1:8080",
		"tusky://oauth":                "the app that opens tusky: addresses",
		"urn:ietf:wg:oauth:2.0:oob":    "",
	} {
		if got := redirectDestination(uri); got != want {
			t.Errorf("redirectDestination(%q) = %q, want %q", uri, got, want)
		}
	}
}

// cloneValues copies v.
func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// TestOAuthRegistration: what POST /api/v1/apps refuses (422), JSON
// bodies, the code shown for an app without a redirect URI, and
// client_credentials tokens, which identify the app and act as nobody.
func TestOAuthRegistration(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	for name, body := range map[string]string{
		"no name":           `{"redirect_uris": "urn:ietf:wg:oauth:2.0:oob"}`,
		"a long name":       `{"client_name": "` + strings.Repeat("x", 61) + `", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"}`,
		"no redirect":       `{"client_name": "x"}`,
		"a javascript: URI": `{"client_name": "x", "redirect_uris": "javascript:alert(1)"}`,
		"a relative URI":    `{"client_name": "x", "redirect_uris": "/callback"}`,
		"an unknown scope":  `{"client_name": "x", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read admin:read"}`,
	} {
		if code, e, _ := s.request(t, "POST", "/api/v1/apps", "", "application/json", []byte(body)); code != http.StatusUnprocessableEntity || !strings.HasPrefix(e["error"].(string), "Validation failed: ") {
			t.Errorf("%s: %d %v", name, code, e)
		}
	}
	if _, e, _ := s.request(t, "POST", "/api/v1/apps", "", "application/json", []byte(`{"client_name": "x", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "admin:read"}`)); !strings.Contains(e["error"].(string), "use read, write, follow, push, profile, or") {
		t.Errorf("an unknown scope: %v, want the accepted ones listed", e)
	}
	code, app, _ := s.request(t, "POST", "/api/v1/apps", "", "application/json",
		[]byte(`{"client_name": "Elk", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob\nhttps://elk.zone/callback", "scopes": "read write"}`))
	if code != http.StatusOK || app["redirect_uri"] != "urn:ietf:wg:oauth:2.0:oob\nhttps://elk.zone/callback" || app["vapid_key"] != "" || app["website"] != nil {
		t.Fatalf("register: %d %v", code, app)
	}
	id, secret := app["client_id"].(string), app["client_secret"].(string)

	b := oauthBrowser(t, false)
	_, page, form, action := authorizePage(t, b, s.url+"/oauth/authorize?"+url.Values{"response_type": {"code"}, "client_id": {id}, "redirect_uri": {"urn:ietf:wg:oauth:2.0:oob"}, "scope": {"read"}}.Encode())
	if dest := page.Find("#destination").Text(); !strings.Contains(dest, "the code is shown here to copy") {
		t.Errorf("oob: the page says %q of where the code goes", dest)
	}
	resp := submit(t, b, s, action, form, s.token)
	doc, _ := goquery.NewDocumentFromReader(resp.Body)
	shown := doc.Find("#code").Text()
	if resp.StatusCode != http.StatusOK || shown == "" {
		t.Fatalf("oob: %d %q", resp.StatusCode, doc.Find("main").Text())
	}
	if advice := doc.Find("#revoke-proof").Text(); !strings.Contains(advice, "nuttx-feed token revoke ci") {
		t.Errorf("oob: after authorizing, the page says %q, want how to revoke the pasted token ci", advice)
	}
	status, tok := exchange(t, s, url.Values{"grant_type": {"authorization_code"}, "code": {shown}, "client_id": {id}, "client_secret": {secret}, "redirect_uri": {"urn:ietf:wg:oauth:2.0:oob"}})
	if status != http.StatusOK || tok["scope"] != "read" {
		t.Errorf("the shown code: %d %v", status, tok)
	}

	status, cc := exchange(t, s, url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	if status != http.StatusOK || cc["access_token"] == "" {
		t.Fatalf("client_credentials: %d %v", status, cc)
	}
	appToken := "Bearer " + cc["access_token"].(string)
	if code, e, _ := s.request(t, "GET", "/api/v1/apps/verify_credentials", appToken, "", nil); code != http.StatusOK || e["name"] != "Elk" {
		t.Errorf("apps/verify_credentials: %d %v", code, e)
	}
	if a := send(t, bearer(t, s, "/api/v1/timelines/public?access_token="+cc["access_token"].(string), "")); a.status != http.StatusOK {
		t.Errorf("the public timeline with an app token: %d %s", a.status, a.body)
	}
	if code, _, _ := s.request(t, "GET", "/api/v1/accounts/verify_credentials", appToken, "", nil); code != http.StatusUnauthorized {
		t.Errorf("an app token acting as an account: %d, want 401", code)
	}
	if code, _, _ := s.request(t, "GET", "/api/v1/apps/verify_credentials", "Bearer "+s.token, "", nil); code != http.StatusUnauthorized {
		t.Errorf("apps/verify_credentials with the operator's token: %d, want 401", code)
	}
	if code, _, _ := s.request(t, "GET", "/api/v1/apps/verify_credentials", "Bearer nfa_forged", "", nil); code != http.StatusUnauthorized {
		t.Errorf("apps/verify_credentials with a forged app token: %d, want 401", code)
	}
	clientToken := "nfa:" + app["id"].(string)
	if _, out, _ := run("token", "list", "--data", s.dir); strings.Count(out, "app-") != 1 || !regexp.MustCompile(`(?m)^`+clientToken+` +client `).MatchString(out) ||
		!strings.Contains(out, "none: the app Elk") {
		t.Errorf("token list, want the app token and the client_credentials token %s:\n%s", clientToken, out)
	}
	revoke := url.Values{"token": {cc["access_token"].(string)}, "client_id": {id}, "client_secret": {secret}}
	if code, _, _ := s.request(t, "POST", "/oauth/revoke", "", "application/x-www-form-urlencoded", []byte(revoke.Encode())); code != http.StatusOK {
		t.Errorf("revoke the app token: %d", code)
	}
	if code, _, _ := s.request(t, "GET", "/api/v1/apps/verify_credentials", appToken, "", nil); code != http.StatusUnauthorized {
		t.Errorf("a revoked app token: %d, want 401", code)
	}
	if _, out, _ := run("token", "list", "--data", s.dir); strings.Contains(out, clientToken) {
		t.Errorf("token list after the app revoked its client_credentials token:\n%s", out)
	}

	_, cc = exchange(t, s, url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	if code, out, stderr := run("token", "revoke", "--data", s.dir, clientToken); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("token revoke %s: %d %s%s", clientToken, code, out, stderr)
	}
	if code, _, _ := s.request(t, "GET", "/api/v1/apps/verify_credentials", "Bearer "+cc["access_token"].(string), "", nil); code != http.StatusUnauthorized {
		t.Errorf("a client_credentials token after token revoke: %d, want 401", code)
	}
	failsWith(t, 2, `no token named "nfa:`+app["id"].(string)+`"`, "token", "revoke", "--data", s.dir, clientToken)
	failsWith(t, 2, `no token named "nfa:x"`, "token", "revoke", "--data", s.dir, "nfa:x")
}

// TestOAuthStartupCalls: what apps call on start answers with Mastodon's
// shapes, needs a token (but custom emojis and the metadata), and the
// metadata lists the endpoints.
func TestOAuthStartupCalls(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	for _, path := range []string{"/api/v1/filters", "/api/v2/filters", "/api/v1/lists", "/api/v1/announcements", "/api/v1/followed_tags",
		"/api/v1/conversations", "/api/v1/custom_emojis", "/api/v1/timelines/home", "/api/v1/accounts/relationships?id[]=1"} {
		a := send(t, bearer(t, s, path, s.token))
		var list []any
		if a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &list) != nil {
			t.Errorf("%s: %d %s, want a JSON list", path, a.status, a.body)
		}
		if path == "/api/v1/custom_emojis" {
			continue
		}
		if a := send(t, bearer(t, s, path, "")); a.status != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d", path, a.status)
		}
	}
	if code, m, _ := s.request(t, "GET", "/api/v1/markers?timeline[]=home", "Bearer "+s.token, "", nil); code != http.StatusOK || len(m) != 0 {
		t.Errorf("markers: %d %v", code, m)
	}
	if code, p, _ := s.request(t, "GET", "/api/v1/preferences", "Bearer "+s.token, "", nil); code != http.StatusOK || p["posting:default:visibility"] != "public" {
		t.Errorf("preferences: %d %v", code, p)
	}
	narrow := createToken(t, s, "narrow", "write:statuses")
	if code, _, _ := s.request(t, "GET", "/api/v1/filters", "Bearer "+narrow, "", nil); code != http.StatusForbidden {
		t.Errorf("filters with write:statuses only: %d, want 403", code)
	}
	code, meta, _ := s.request(t, "GET", "/.well-known/oauth-authorization-server", "", "", nil)
	if code != http.StatusOK || meta["token_endpoint"] != adminBase+"/oauth/token" || meta["authorization_endpoint"] != adminBase+"/oauth/authorize" ||
		meta["app_registration_endpoint"] != adminBase+"/api/v1/apps" {
		t.Errorf("metadata: %d %v", code, meta)
	}
}

// bearer is a GET of path with token (none for "").
func bearer(t *testing.T, s *apiServer, path, token string) *http.Request {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// TestOAuthAuthorizeInBrowser: Chromium opens the authorize page an app
// sent it to, styled, the operator pastes a token and clicks Authorize,
// and the browser lands on the app's redirect URI with the code: the
// page's CSP lets the form lead there.
func TestOAuthAuthorizeInBrowser(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	app := registerApp(t, s, "read write")
	b := browser(t)
	if err := chromedp.Do(b, chromedp.Navigate(app.AuthURI), chromedp.WaitVisible(chromedp.CSS("form.authorize"))); err != nil {
		t.Fatalf("authorize page: %v", err)
	}
	eval := evaluator(t, b)
	if mw := eval(`getComputedStyle(document.querySelector("main")).maxWidth`); mw == "none" || mw == "" {
		t.Errorf("stylesheet not applied (main max-width %v)", mw)
	}
	if err := chromedp.Do(b, chromedp.EmulateViewport(412, 900)); err != nil {
		t.Fatal(err)
	}
	if h := eval(`document.querySelector("#oauth-token").getBoundingClientRect().height`).(float64); h < 20 || h > 50 {
		t.Errorf("the token field at 412 px is %v px tall, want one line", h)
	}
	background := `getComputedStyle(document.querySelector('button[value="%s"]')).backgroundColor`
	if allow, deny := eval(fmt.Sprintf(background, "allow")), eval(fmt.Sprintf(background, "deny")); allow == deny {
		t.Errorf("Deny looks like Authorize: both %v", allow)
	}
	if err := chromedp.Do(b, chromedp.SendKeys(chromedp.CSS("#oauth-token"), s.token), chromedp.Click(chromedp.CSS(`button[value="allow"]`))); err != nil {
		t.Fatal(err)
	}
	select {
	case q := <-app.got:
		status, _ := exchange(t, s, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "client_id": {app.ClientID},
			"client_secret": {app.ClientSecret}, "redirect_uri": {app.redirect}})
		if status != http.StatusOK {
			t.Errorf("the browser's code: %d", status)
		}
	case <-b.Done():
		t.Fatal("the browser never reached the app's redirect URI")
	}
}
