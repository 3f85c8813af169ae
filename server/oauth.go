package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
	"github.com/nuttx-feed/nuttx-feed/web"
)

// OAuth 2 as Mastodon serves it (Doorkeeper), so that phone and web apps
// (Tusky, Ivory, Elk, Phanpy...) sign in: an app registers itself (POST
// /api/v1/apps), opens /oauth/authorize in a browser, where the operator
// pastes one of their tokens (nuttx-feed has no passwords: a token made by
// `nuttx-feed token create` is the proof of being the operator), gets a
// code by its redirect URI and exchanges it at /oauth/token for a token
// of its own, stored with the others (`token list`, `token revoke`).

// oobRedirect is the redirect URI of an app that cannot receive one: the
// code is shown for the operator to copy.
const oobRedirect = "urn:ietf:wg:oauth:2.0:oob"

// Bounds of what an app registers: anyone may register one.
const (
	maxAppName      = 60 // Mastodon's limit
	maxRedirectURIs = 10
	maxURILength    = 2000
)

// codeTTL is how long an authorization code is valid: Doorkeeper's.
const codeTTL = 10 * time.Minute

// csrfCookie is the cookie of the authorize form's nonce: the form sends
// it back in a field, which a page of another site cannot read.
const csrfCookie = "nuttx_feed_oauth"

// Doorkeeper's error descriptions, word for word.
const (
	oauthErrClient = "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."
	oauthErrGrant  = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."
)

// randomString returns 32 random bytes in unpadded base64url: client ids,
// secrets, codes and nonces.
func randomString() string {
	var b [32]byte
	rand.Read(b[:]) // never fails: it crashes the program when the system has no randomness
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// apiApplication is Mastodon's Application; ClientID and ClientSecret
// only when registered.
type apiApplication struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Website      *string  `json:"website"`
	Scopes       []string `json:"scopes"`
	RedirectURI  string   `json:"redirect_uri"`
	RedirectURIs []string `json:"redirect_uris"`
	ClientID     string   `json:"client_id,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"`
	VapidKey     string   `json:"vapid_key"`
}

// apiApplicationOf describes a.
func apiApplicationOf(a *store.App) apiApplication {
	var website *string
	if a.Website != "" {
		website = &a.Website
	}
	return apiApplication{ID: fmt.Sprint(a.ID), Name: a.Name, Website: website, Scopes: strings.Fields(a.Scopes),
		RedirectURI: strings.Join(a.RedirectURIs, "\n"), RedirectURIs: a.RedirectURIs}
}

// handleAPIRegisterApp is POST /api/v1/apps: client_name, redirect_uris
// (newline-separated, or oobRedirect), scopes (default read) and website,
// as a form or JSON. Anyone may call it: it is rate limited, and the
// store keeps at most store.MaxApps apps.
func (s *Server) handleAPIRegisterApp(c echo.Context) error {
	f, composite, err := typedRequestFields(c.Request())
	if err != nil {
		return apiRequestError(c, err)
	}
	err = listFields(f, composite, map[string]string{"redirect_uris": "\n", "scopes": " "})
	var a *store.App
	if err == nil {
		a, err = appRequest(f)
	}
	if err != nil {
		return apiError(c, http.StatusUnprocessableEntity, "Validation failed: "+err.Error())
	}
	secret := randomString()
	err = s.store.Update(c.Request().Context(), func(tx *store.Tx) error { return tx.RegisterApp(a, secret) })
	if errors.Is(err, store.ErrTooMany) {
		return apiError(c, http.StatusTooManyRequests, "Too many apps are signed in on this server: its operator must revoke some (nuttx-feed token list, token revoke)")
	}
	if err != nil {
		return err
	}
	out := apiApplicationOf(a)
	out.ClientID, out.ClientSecret = a.ClientID, secret
	return c.JSON(http.StatusOK, out)
}

// appRequest checks the fields of POST /api/v1/apps.
func appRequest(f map[string]string) (*store.App, error) {
	name := strings.TrimSpace(f["client_name"])
	switch {
	case name == "":
		return nil, errors.New("name can't be blank")
	case utf8.RuneCountInString(name) > maxAppName:
		return nil, fmt.Errorf("name is too long (maximum is %d characters)", maxAppName)
	case len(f["website"]) > maxURILength:
		return nil, errors.New("website is too long")
	}
	uris := strings.Fields(f["redirect_uris"])
	if len(uris) == 0 {
		return nil, errors.New("redirect URI can't be blank")
	}
	if len(uris) > maxRedirectURIs {
		return nil, fmt.Errorf("redirect URI: at most %d", maxRedirectURIs)
	}
	for _, u := range uris {
		if err := checkRedirectURI(u); err != nil {
			return nil, err
		}
	}
	scopes, err := parseScopes(orDefault(f["scopes"], "read"))
	if err != nil {
		return nil, fmt.Errorf("scopes: %v", err)
	}
	return &store.App{ClientID: randomString(), Name: name, Website: strings.TrimSpace(f["website"]), RedirectURIs: uris, Scopes: scopes}, nil
}

// listFields reads the JSON lists of f (composite: those that were lists
// or objects) that lists names, as Mastodon takes redirect_uris and scopes,
// joined by the separator it names; any other list or object is an error.
func listFields(f map[string]string, composite map[string]bool, lists map[string]string) error {
	for k := range composite {
		sep, ok := lists[k]
		if !ok {
			return fmt.Errorf("%s must be a string", k)
		}
		var items []string
		if f[k] != "" && json.Unmarshal([]byte(f[k]), &items) != nil {
			return fmt.Errorf("%s must be a string or a list of strings", k)
		}
		f[k] = strings.Join(items, sep)
	}
	return nil
}

// orDefault is v, or def when v is blank.
func orDefault(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return v
}

// checkRedirectURI accepts oobRedirect and absolute URIs without a
// fragment: https, http and an app's own scheme (tusky://...), not the
// schemes that run code in a browser.
func checkRedirectURI(raw string) error {
	if raw == oobRedirect {
		return nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Scheme == "" || len(raw) > maxURILength:
		return errors.New("redirect URI must be an absolute URI")
	case strings.Contains(raw, "#"): // "x:#" too, whose fragment is empty: the code would land in it
		return errors.New("redirect URI cannot contain a fragment")
	case (u.Scheme == "https" || u.Scheme == "http") && !validHost(u.Host):
		return errors.New("redirect URI: the host must be a domain name or an IP address, with a port or none")
	case slices.Contains([]string{"javascript", "data", "vbscript", "file", "blob"}, strings.ToLower(u.Scheme)):
		return fmt.Errorf("redirect URI: the scheme %s is not allowed", u.Scheme)
	}
	return nil
}

// hostPattern is what a redirect URI's host may be: a domain name, an
// IPv4 or a bracketed IPv6 address, and a port. It keeps what the
// authorize page's Content-Security-Policy quotes of it to characters
// that cannot start a directive (";", ",", spaces).
var hostPattern = regexp.MustCompile(`^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$`)

// validHost reports whether host matches hostPattern.
func validHost(host string) bool { return hostPattern.MatchString(host) }

// appTokenPrefix starts a client_credentials token, so that the API tells
// one from the tokens of the tokens table without looking it up.
const appTokenPrefix = "nfa_"

// apiAppKey is the echo context key of the app whose client_credentials
// token the request carries.
const apiAppKey = "api-app"

// apiAppTokens lets a request with an app's client_credentials token in
// as one without a token, with the app in the context: such a token acts
// as no account, so it reads what anyone may read, a route that needs an
// account answers 401, and /api/v1/apps/verify_credentials names the app.
func (s *Server) apiAppTokens(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		token, given := apiToken(r)
		if !given || !strings.HasPrefix(token, appTokenPrefix) {
			return next(c)
		}
		var app *store.App
		err := s.store.View(r.Context(), func(tx *store.Tx) (err error) { app, err = tx.AppByToken(token); return err })
		switch {
		case errors.Is(err, store.ErrNotFound):
			return next(c) // apiAuth refuses it
		case err != nil:
			return err
		}
		c.Set(apiAppKey, app)
		r.Header.Del("Authorization")
		q := r.URL.Query()
		q.Del("access_token")
		r.URL.RawQuery = q.Encode()
		r.Form.Del("access_token") // read by apiToken when a form; nil maps ignore Del
		r.PostForm.Del("access_token")
		return next(c)
	}
}

// handleAPIAppVerify is GET /api/v1/apps/verify_credentials: the app of
// the request's token, a client_credentials token or one given to the app
// by /oauth/token.
func (s *Server) handleAPIAppVerify(c echo.Context) error {
	if app, ok := c.Get(apiAppKey).(*store.App); ok {
		return c.JSON(http.StatusOK, apiApplicationOf(app))
	}
	token, given := apiToken(c.Request())
	if !given {
		return apiError(c, http.StatusUnauthorized, apiErrBadToken)
	}
	ctx := c.Request().Context()
	t, err := s.store.CheckToken(ctx, token)
	var app *store.App
	if err == nil {
		err = s.store.View(ctx, func(tx *store.Tx) (err error) { app, err = tx.AppOfToken(t.Name); return err })
	}
	if errors.Is(err, store.ErrNotFound) {
		return apiError(c, http.StatusUnauthorized, apiErrBadToken)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiApplicationOf(app))
}

// authorizeRequest is what /oauth/authorize asks: checked by
// checkAuthorize against the app's registration.
type authorizeRequest struct {
	ResponseType, ClientID, RedirectURI, Scope, State, Challenge, ChallengeMethod string
	app                                                                           *store.App
	scopes                                                                        []string
}

// authorizeRequestOf reads the request's parameters (query or form).
func authorizeRequestOf(c echo.Context) authorizeRequest {
	return authorizeRequest{
		ResponseType: c.FormValue("response_type"), ClientID: c.FormValue("client_id"),
		RedirectURI: c.FormValue("redirect_uri"), Scope: c.FormValue("scope"), State: c.FormValue("state"),
		Challenge: c.FormValue("code_challenge"), ChallengeMethod: c.FormValue("code_challenge_method"),
	}
}

// hidden are the parameters the form sends back.
func (r authorizeRequest) hidden(nonce string) []web.Field {
	return []web.Field{
		{Name: "response_type", Value: r.ResponseType}, {Name: "client_id", Value: r.ClientID},
		{Name: "redirect_uri", Value: r.RedirectURI}, {Name: "scope", Value: r.Scope}, {Name: "state", Value: r.State},
		{Name: "code_challenge", Value: r.Challenge}, {Name: "code_challenge_method", Value: r.ChallengeMethod},
		{Name: "csrf", Value: nonce},
	}
}

// checkAuthorize finds the app and checks the request against it. It
// returns why it is refused, "" when it is not: an unknown app, an
// unregistered redirect URI, a scope the app did not register, another
// response type than code or a PKCE method other than S256. A refusal is
// shown on a page, never sent to the redirect URI, which may not be the
// app's. The error is the database's.
func (s *Server) checkAuthorize(c echo.Context, r *authorizeRequest) (string, error) {
	err := s.store.View(c.Request().Context(), func(tx *store.Tx) (err error) {
		r.app, err = tx.AppByClientID(r.ClientID)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "No app is registered with this client_id: sign in from the app again, it registers itself.", nil
	case err != nil:
		return "", err
	case !slices.Contains(r.app.RedirectURIs, r.RedirectURI):
		return fmt.Sprintf("The redirect_uri %q is not one that %s registered.", r.RedirectURI, r.app.Name), nil
	case r.ResponseType != "code":
		return "The response_type must be code.", nil
	case r.Challenge != "" && r.ChallengeMethod != "S256":
		return "The code_challenge_method must be S256.", nil
	}
	r.scopes = strings.Fields(orDefault(r.Scope, "read"))
	for _, scope := range r.scopes {
		if !slices.Contains(apiScopes, scope) || !scopeGrants(r.app.Scopes, []string{scope}) {
			return fmt.Sprintf("The scope %q is not one that %s registered (%s).", scope, r.app.Name, r.app.Scopes), nil
		}
	}
	return "", nil
}

// handleOAuthAuthorize is GET /oauth/authorize: the page on which the
// operator authorizes an app, with a new nonce in a cookie and the form.
func (s *Server) handleOAuthAuthorize(c echo.Context) error {
	r := authorizeRequestOf(c)
	if refused, err := s.checkAuthorize(c, &r); refused != "" || err != nil {
		return s.authorizeRefused(c, http.StatusBadRequest, refused, err)
	}
	nonce := randomString()
	c.SetCookie(&http.Cookie{Name: csrfCookie, Value: nonce, Path: urls.OAuthAuthorize.Path(), HttpOnly: true,
		Secure: strings.HasPrefix(s.site.Base(), "https:"), SameSite: http.SameSiteStrictMode, MaxAge: int(time.Hour / time.Second)})
	return s.authorizePage(c, http.StatusOK, r, nonce, "")
}

// authorizeRefused shows why an authorize request cannot be served:
// the reason given, or err (the server's error handler answers it).
func (s *Server) authorizeRefused(c echo.Context, status int, reason string, err error) error {
	if err != nil {
		return err
	}
	return s.renderPage(c, status, "error", web.ErrorPage{Page: s.page("Cannot authorize", "", "", ""), Heading: "Cannot authorize this app", Message: reason})
}

// authorizePage renders the form, with the error msg of the last attempt.
func (s *Server) authorizePage(c echo.Context, status int, r authorizeRequest, nonce, msg string) error {
	p := web.AuthorizePage{Page: s.page("Authorize "+r.app.Name, "", "", ""), AppName: r.app.Name, AppWebsite: httpURL(r.app.Website),
		Scopes: r.scopes, ScopesFlag: strings.Join(r.scopes, ","), Account: "@" + s.site.Handle(s.cfg.Username), Destination: redirectDestination(r.RedirectURI), Action: urls.OAuthAuthorize.Path(), Hidden: r.hidden(nonce), Error: msg}
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.renderPageCSP(c, status, "authorize", p, authorizeCSP(r.RedirectURI))
}

// redirectDestination is where the redirect URI sends the browser, as the
// authorize page names it: the host of an http(s) URI, the scheme of an
// app's own (tusky:), "" for oobRedirect (the page shows the code).
func redirectDestination(redirect string) string {
	u, err := url.Parse(redirect)
	switch {
	case err != nil || redirect == oobRedirect:
		return ""
	case u.Scheme == "https" || u.Scheme == "http":
		return u.Host
	}
	return "the app that opens " + u.Scheme + ": addresses"
}

// httpURL is u when it is an http(s) URL, else "" (a link to show).
func httpURL(u string) string {
	if p, err := url.Parse(u); err == nil && (p.Scheme == "https" || p.Scheme == "http") {
		return u
	}
	return ""
}

// authorizeCSP is the pages' policy, with the redirect URI's origin (or
// scheme) allowed as a destination of the form: browsers check the
// redirect after a form's POST against form-action.
func authorizeCSP(redirect string) string {
	u, err := url.Parse(redirect)
	if err != nil || redirect == oobRedirect {
		return contentSecurityPolicy
	}
	dest := u.Scheme + ":"
	if u.Scheme == "https" || u.Scheme == "http" {
		if !validHost(u.Host) { // registered before hosts were checked: no source from it
			return contentSecurityPolicy
		}
		dest = u.Scheme + "://" + u.Host
	}
	return strings.Replace(contentSecurityPolicy, "form-action 'self' https:", "form-action 'self' https: "+dest, 1)
}

// handleOAuthAuthorizePost is POST /oauth/authorize: with the nonce of
// the cookie and a pasted token granting every scope asked, it gives the
// app a code by its redirect URI (or shows it, for oobRedirect) and marks
// the pasted token used; a wrong token shows the form again with the
// error. Only a token of `token create` is proof: one given to an app
// would let an app approve others, whose tokens outlive its own.
func (s *Server) handleOAuthAuthorizePost(c echo.Context) error {
	if err := readForm(c.Request(), "application/x-www-form-urlencoded"); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "cannot read the form: "+err.Error())
	}
	r := authorizeRequestOf(c)
	if refused, err := s.checkAuthorize(c, &r); refused != "" || err != nil {
		return s.authorizeRefused(c, http.StatusBadRequest, refused, err)
	}
	cookie, err := c.Cookie(csrfCookie)
	if err != nil || cookie.Value == "" || subtle.ConstantTimeCompare([]byte(cookie.Value), []byte(c.FormValue("csrf"))) != 1 {
		return s.authorizeRefused(c, http.StatusForbidden, "The form expired or was not sent from this server's page: open the app's sign-in again.", nil)
	}
	if c.FormValue("decision") == "deny" {
		return c.Redirect(http.StatusSeeOther, redirectWith(r, "error", "access_denied"))
	}
	t, err := s.store.CheckToken(c.Request().Context(), c.FormValue("token"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return s.authorizePage(c, http.StatusUnauthorized, r, cookie.Value, "This is not a token of this server: paste one that nuttx-feed token create printed.")
	case err != nil:
		return err
	case t.Kind != store.KindOperator:
		return s.authorizePage(c, http.StatusForbidden, r, cookie.Value, fmt.Sprintf("The token %s was given to an app: only a token that nuttx-feed token create printed proves that you run this server.", t.Name))
	}
	for _, scope := range r.scopes {
		if !scopeGrants(t.Scopes, []string{scope}) {
			return s.authorizePage(c, http.StatusForbidden, r, cookie.Value, fmt.Sprintf("The token %s has the scopes %s, not %s: paste one made with --scopes %s.",
				t.Name, t.Scopes, scope, strings.Join(r.scopes, ",")))
		}
	}
	code := randomString()
	err = s.store.Update(c.Request().Context(), func(tx *store.Tx) error {
		if err := tx.TouchToken(t.Name, 0); err != nil { // the proof was used: token list shows when
			return err
		}
		return tx.CreateCode(store.Code{AppID: r.app.ID, Scopes: strings.Join(r.scopes, " "), Account: t.Account,
			RedirectURI: r.RedirectURI, CodeChallenge: r.Challenge, Expires: s.now().Add(codeTTL)}, code)
	})
	if err != nil {
		return err
	}
	if r.RedirectURI == oobRedirect {
		p := web.AuthorizePage{Page: s.page(r.app.Name+" is authorized", "", "", ""), AppName: r.app.Name, Code: code, ProofToken: t.Name}
		c.Response().Header().Set("Cache-Control", "no-store")
		return s.renderPage(c, http.StatusOK, "authorize", p)
	}
	return c.Redirect(http.StatusSeeOther, redirectWith(r, "code", code))
}

// redirectWith is the request's redirect URI with key=value and its state
// added to the query.
func redirectWith(r authorizeRequest, key, value string) string {
	u, _ := url.Parse(r.RedirectURI) // checked at registration
	q := u.Query()
	q.Set(key, value)
	if r.State != "" {
		q.Set("state", r.State)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// oauthError answers in OAuth's error shape, as Doorkeeper does.
func oauthError(c echo.Context, status int, code, description string) error {
	return c.JSON(status, map[string]string{"error": code, "error_description": description})
}

// oauthClient is the client_id and client_secret of a request: form or
// JSON fields, or HTTP Basic authentication.
func oauthClient(c echo.Context, f map[string]string) (id, secret string) {
	if id, secret, ok := c.Request().BasicAuth(); ok {
		return id, secret
	}
	return f["client_id"], f["client_secret"]
}

// apiOAuthToken is the answer of /oauth/token.
type apiOAuthToken struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	Scope       string `json:"scope"`
	CreatedAt   int64  `json:"created_at"`
}

// handleOAuthToken is POST /oauth/token: grant_type authorization_code
// exchanges a code for a token (stored in tokens, named after the app),
// client_credentials gives the app a token that only identifies it
// (/api/v1/apps/verify_credentials).
func (s *Server) handleOAuthToken(c echo.Context) error {
	f, err := requestFields(c.Request())
	if err != nil {
		return oauthError(c, http.StatusBadRequest, "invalid_request", err.Error())
	}
	id, secret := oauthClient(c, f)
	var app *store.App
	err = s.store.View(c.Request().Context(), func(tx *store.Tx) (err error) { app, err = tx.CheckApp(id, secret); return err })
	switch {
	case errors.Is(err, store.ErrNotFound):
		return oauthError(c, http.StatusUnauthorized, "invalid_client", oauthErrClient)
	case err != nil:
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	switch f["grant_type"] {
	case "authorization_code":
		return s.exchangeCode(c, app, f)
	case "client_credentials":
		return s.appToken(c, app, f)
	}
	return oauthError(c, http.StatusBadRequest, "unsupported_grant_type", "The authorization grant type is not supported by the authorization server.")
}

// exchangeCode answers grant_type=authorization_code. The code is used up
// by any attempt that names it, right or wrong.
func (s *Server) exchangeCode(c echo.Context, app *store.App, f map[string]string) error {
	token := store.NewToken()
	var grant store.Code
	valid := false
	err := s.store.Update(c.Request().Context(), func(tx *store.Tx) (err error) {
		if grant, err = tx.TakeCode(f["code"]); err != nil {
			return err
		}
		if grant.AppID != app.ID || grant.RedirectURI != f["redirect_uri"] || !pkceMatches(grant.CodeChallenge, f["code_verifier"]) {
			return nil // commits: the code is used up
		}
		valid = true
		_, err = tx.CreateAppToken(store.Token{Name: appTokenName(app.Name), Scopes: grant.Scopes, Account: grant.Account}, token, app.ID)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && !valid:
		return oauthError(c, http.StatusBadRequest, "invalid_grant", oauthErrGrant)
	case err != nil:
		return err
	}
	return c.JSON(http.StatusOK, apiOAuthToken{AccessToken: token, TokenType: "Bearer", Scope: grant.Scopes, CreatedAt: s.now().Unix()})
}

// pkceMatches reports whether verifier answers the S256 challenge; no
// challenge needs no verifier.
func pkceMatches(challenge, verifier string) bool {
	if challenge == "" {
		return true
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// appTokenName is the stored name of a token given to the app name:
// "app-" and the name in the characters token names allow (the store
// appends -1, -2...).
func appTokenName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	slug := strings.Trim(b.String(), "-.")
	if len(slug) > 40 {
		slug = strings.Trim(slug[:40], "-.")
	}
	return "app-" + orDefault(slug, "app")
}

// appToken answers grant_type=client_credentials: a new token for the app
// itself, replacing the one before.
func (s *Server) appToken(c echo.Context, app *store.App, f map[string]string) error {
	scope, err := parseScopes(orDefault(f["scope"], "read"))
	if err != nil || !grantsAll(app.Scopes, scope) {
		return oauthError(c, http.StatusBadRequest, "invalid_scope", "The requested scope is invalid, unknown, or malformed.")
	}
	token := appTokenPrefix + randomString()
	if err := s.store.Update(c.Request().Context(), func(tx *store.Tx) error { return tx.SetAppToken(app.ID, token) }); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiOAuthToken{AccessToken: token, TokenType: "Bearer", Scope: scope, CreatedAt: s.now().Unix()})
}

// handleOAuthRevoke is POST /oauth/revoke (token, client_id,
// client_secret): it revokes a token given to the app, as `token revoke`
// does; an unknown token is no error (RFC 7009), one of another app or
// made by `token create` is refused.
func (s *Server) handleOAuthRevoke(c echo.Context) error {
	f, err := requestFields(c.Request())
	if err != nil {
		return oauthError(c, http.StatusBadRequest, "invalid_request", err.Error())
	}
	id, secret := oauthClient(c, f)
	t, tokenErr := s.store.CheckToken(c.Request().Context(), f["token"])
	if tokenErr != nil && !errors.Is(tokenErr, store.ErrNotFound) {
		return tokenErr
	}
	var refused bool
	err = s.store.Update(c.Request().Context(), func(tx *store.Tx) error {
		app, err := tx.CheckApp(id, secret)
		if err != nil {
			return err
		}
		own, err := tx.AppByToken(f["token"])
		switch {
		case err == nil && own.ID == app.ID:
			_, err := tx.RevokeAppToken(app.ID)
			return err
		case err == nil: // another app's
			refused = true
			return nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		case tokenErr != nil:
			return nil // no such token: nothing to revoke
		}
		owner, err := tx.AppOfToken(t.Name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if refused = err != nil || owner.ID != app.ID; refused {
			return nil
		}
		_, err = tx.RevokeToken(t.Name)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return oauthError(c, http.StatusUnauthorized, "invalid_client", oauthErrClient)
	case err != nil:
		return err
	case refused:
		return oauthError(c, http.StatusForbidden, "unauthorized_client", "You are not authorized to revoke this token")
	}
	return c.JSON(http.StatusOK, map[string]any{})
}

// handleOAuthMetadata is GET /.well-known/oauth-authorization-server
// (RFC 8414), as Mastodon 4.3 serves it.
func (s *Server) handleOAuthMetadata(c echo.Context) error {
	u := s.site
	return c.JSON(http.StatusOK, map[string]any{
		"issuer":                                u.URL(urls.Home),
		"service_documentation":                 "https://docs.joinmastodon.org/",
		"authorization_endpoint":                u.URL(urls.OAuthAuthorize),
		"token_endpoint":                        u.URL(urls.OAuthToken),
		"revocation_endpoint":                   u.URL(urls.OAuthRevoke),
		"app_registration_endpoint":             u.URL(urls.APIApps),
		"scopes_supported":                      apiScopes,
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code", "client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"ui_locales_supported":                  []string{"en"},
	})
}
