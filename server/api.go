package server

import (
	"cmp"
	"context"
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// The Mastodon-compatible API (issue 10), the first part: the instance,
// the bot's own account and posting and reading its statuses. Tokens made
// with `nuttx-feed token create` act as the bot. Paths, fields, status
// codes and error shapes are Mastodon's, so that scripts and client
// libraries written for Mastodon work unchanged.

// Mastodon's error messages, word for word.
const (
	apiErrBadToken = "The access token is invalid"
	apiErrNotFound = "Record not found"
)

// apiTokenKey is the echo context key of the name of the request's token.
const apiTokenKey = "api-token"

// apiAccountKey is the echo context key of the username of the local
// actor the request's token acts as.
const apiAccountKey = "api-account"

// tokenTouchEvery is how often at most a token's last use is written: a
// client calling the API many times a minute costs one write a minute.
const tokenTouchEvery = time.Minute

// apiCompatVersion is the Mastodon version the API claims to be, which
// client libraries read to decide which calls they may make.
const apiCompatVersion = "4.3.0"

// apiRoutes registers the API's routes on e; GETs also answer HEAD, and
// every route answers CORS preflight requests (OPTIONS).
func (s *Server) apiRoutes(e *echo.Echo) {
	route := func(r urls.Route, method string, h echo.HandlerFunc) {
		h = s.limited(s.apiAppTokens(h)) // --rate-limit, as the pages; an app's own token reads as no token (oauth.go)
		e.Match([]string{method, http.MethodOptions}, r.Pattern, h, apiCORS)
		if method == http.MethodGet {
			e.HEAD(r.Pattern, h, apiCORS)
		}
	}
	const optional, required = false, true
	route(urls.APIInstance, http.MethodGet, s.apiAuth(optional)(s.handleAPIInstance(1)))
	route(urls.APIInstanceV2, http.MethodGet, s.apiAuth(optional)(s.handleAPIInstance(2)))
	route(urls.APIVerifyCredentials, http.MethodGet, s.apiAuth(required, "read:accounts", "profile")(s.handleAPIVerifyCredentials))
	route(urls.APIStatuses, http.MethodPost, s.apiAuth(required, "write:statuses")(s.handleAPIPostStatus))
	route(urls.APIStatus, http.MethodGet, s.apiAuth(optional, "read:statuses")(s.handleAPIGetStatus))
	route(urls.APIStatus, http.MethodPut, s.apiAuth(required, "write:statuses")(s.handleAPIEditStatus))
	route(urls.APIStatus, http.MethodDelete, s.apiAuth(required, "write:statuses")(s.handleAPIDeleteStatus))
	route(urls.APIStatusSource, http.MethodGet, s.apiAuth(required, "read:statuses")(s.handleAPIStatusSource))
	route(urls.APIStatusContext, http.MethodGet, s.apiAuth(optional, "read:statuses")(s.handleAPIContext))
	route(urls.APIAccountLookup, http.MethodGet, s.apiAuth(optional, "read:accounts")(s.handleAPILookup))
	route(urls.APIAccount, http.MethodGet, s.apiAuth(optional, "read:accounts")(s.handleAPIAccount))
	route(urls.APIAccountStatuses, http.MethodGet, s.apiAuth(optional, "read:statuses")(s.handleAPIAccountStatuses))
	route(urls.APIAccountFollowers, http.MethodGet, s.apiAuth(optional, "read:accounts")(s.handleAPIFollowers))
	route(urls.APITimelinePublic, http.MethodGet, s.apiAuth(optional, "read:statuses")(s.handleAPIPublicTimeline))
	route(urls.APITimelineTag, http.MethodGet, s.apiAuth(optional, "read:statuses")(s.handleAPITagTimeline))
	route(urls.APIAccountFollowing, http.MethodGet, s.apiAuth(optional, "read:accounts")(s.handleAPIFollowing))
	route(urls.APIStatusHistory, http.MethodGet, s.apiAuth(optional, "read:statuses")(s.handleAPIStatusHistory))
	route(urls.APITag, http.MethodGet, s.apiAuth(optional)(s.handleAPITag)) // public on Mastodon: no scope
	route(urls.APINotifications, http.MethodGet, s.apiAuth(required, "read:notifications")(s.handleAPINotifications))
	route(urls.APISearchV2, http.MethodGet, s.apiAuth(optional, "read:search")(s.handleAPISearch))
	route(urls.APINotificationsV2, http.MethodGet, s.apiAuth(required, "read:notifications")(s.handleAPIGroupedNotifications))
	route(urls.APINotification, http.MethodGet, s.apiAuth(required, "read:notifications")(s.handleAPINotification))
	// OAuth for apps and what they call on start (oauth.go, api_client.go).
	route(urls.APIApps, http.MethodPost, s.handleAPIRegisterApp)
	route(urls.APIAppsVerify, http.MethodGet, s.handleAPIAppVerify)
	route(urls.OAuthToken, http.MethodPost, s.handleOAuthToken)
	route(urls.OAuthRevoke, http.MethodPost, s.handleOAuthRevoke)
	route(urls.OAuthMetadata, http.MethodGet, s.handleOAuthMetadata)
	e.GET(urls.OAuthAuthorize.Pattern, s.limited(s.handleOAuthAuthorize))
	e.POST(urls.OAuthAuthorize.Pattern, s.limited(s.handleOAuthAuthorizePost))
	route(urls.APICustomEmojis, http.MethodGet, apiEmpty)
	route(urls.APITimelineHome, http.MethodGet, s.apiAuth(required, "read:statuses")(s.handleAPIHomeTimeline))
	route(urls.APIPreferences, http.MethodGet, s.apiAuth(required, "read:accounts")(s.handleAPIPreferences))
	route(urls.APIMarkers, http.MethodGet, s.apiAuth(required, "read:statuses")(apiEmptyObject))
	route(urls.APIFilters, http.MethodGet, s.apiAuth(required, "read:filters")(apiEmpty))
	route(urls.APIFiltersV2, http.MethodGet, s.apiAuth(required, "read:filters")(apiEmpty))
	route(urls.APILists, http.MethodGet, s.apiAuth(required, "read:lists")(apiEmpty))
	route(urls.APIAnnouncements, http.MethodGet, s.apiAuth(required, "read")(apiEmpty))
	route(urls.APIFollowedTags, http.MethodGet, s.apiAuth(required, "read:follows")(apiEmpty))
	route(urls.APIConversations, http.MethodGet, s.apiAuth(required, "read:statuses")(apiEmpty))
	route(urls.APIAccountRelationships, http.MethodGet, s.apiAuth(required, "read:follows")(s.handleAPIRelationships))
}

// apiError answers with Mastodon's error shape, {"error": msg}.
func apiError(c echo.Context, status int, msg string) error {
	return c.JSON(status, map[string]string{"error": msg})
}

// apiAuthenticate is the WWW-Authenticate header of a 401, as Mastodon
// (Doorkeeper) sends it both for a bad token and for none on a route that
// needs one.
const apiAuthenticate = `Bearer realm="Doorkeeper", error="invalid_token", error_description="` + apiErrBadToken + `"`

// apiUnauthorized answers a request without a valid token: 401, with
// Mastodon's error and WWW-Authenticate header.
func apiUnauthorized(c echo.Context) error {
	c.Response().Header().Set("WWW-Authenticate", apiAuthenticate)
	return apiError(c, http.StatusUnauthorized, apiErrBadToken)
}

// apiCORS sends the CORS headers Mastodon sends for /api/* (rack-cors:
// any origin, no credentials) to a request with an Origin, and answers a
// preflight request itself.
func apiCORS(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req, h := c.Request(), c.Response().Header()
		if req.Header.Get("Origin") == "" {
			if req.Method == http.MethodOptions {
				return c.NoContent(http.StatusNoContent)
			}
			return next(c)
		}
		h.Set("Access-Control-Allow-Origin", "*")
		h.Add("Vary", "Origin")
		if req.Method != http.MethodOptions {
			h.Set("Access-Control-Expose-Headers", "Link, X-RateLimit-Reset, X-RateLimit-Limit, X-RateLimit-Remaining, X-Request-Id")
			return next(c)
		}
		h.Set("Access-Control-Allow-Methods", "POST, PUT, DELETE, GET, PATCH, OPTIONS")
		if asked := req.Header.Get("Access-Control-Request-Headers"); asked != "" {
			h.Set("Access-Control-Allow-Headers", asked)
		}
		h.Set("Access-Control-Max-Age", "7200")
		return c.NoContent(http.StatusOK)
	}
}

// apiAuth checks the request's token (apiToken) against the stored
// tokens, and keeps its name and the username it acts as in the context.
// A bad token gets 401 always, a missing one only when required; a token
// granting none of scopes (when any are named) gets 403, as on Mastodon.
func (s *Server) apiAuth(required bool, scopes ...string) func(echo.HandlerFunc) echo.HandlerFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			token, given := apiToken(c.Request())
			if err := formFailed(c.Request()); !given && err != nil { // the token may be in what could not be read
				return apiError(c, http.StatusBadRequest, "reading the form: "+err.Error())
			}
			if !given {
				if required {
					return apiUnauthorized(c)
				}
				return next(c)
			}
			ctx := c.Request().Context()
			t, err := s.store.CheckToken(ctx, token)
			switch {
			case errors.Is(err, store.ErrNotFound):
				return apiUnauthorized(c)
			case err != nil:
				return err
			case !scopeGrants(t.Scopes, scopes):
				s.log.Warn("API token refused: it lacks the scope the route needs", "token", t.Name,
					"method", c.Request().Method, "route", c.Path(), "need", strings.Join(scopes, " or "), "scopes", t.Scopes)
				return apiError(c, http.StatusForbidden, apiErrScope)
			}
			if s.now().Sub(t.LastUsed) >= tokenTouchEvery { // read first: most requests write nothing
				s.touchToken(ctx, t.Name)
			}
			c.Set(apiTokenKey, t.Name)
			c.Set(apiAccountKey, cmp.Or(t.Account, s.cfg.Username))
			return next(c)
		}
	}
}

// touchToken records that the token name was used. A failure (a busy or
// read-only database) is logged, not the request's: the time is a hint
// for the operator.
func (s *Server) touchToken(ctx context.Context, name string) {
	if err := s.store.Update(ctx, func(tx *store.Tx) error { return tx.TouchToken(name, tokenTouchEvery) }); err != nil {
		s.log.Warn("cannot record the use of a token", "token", name, "err", err)
	}
}

// apiToken returns the request's token and whether it has one at all:
// from an "Authorization: Bearer TOKEN" header or else, as Mastodon
// (Doorkeeper) takes it, an access_token query or form parameter.
func apiToken(r *http.Request) (string, bool) {
	if token, given := bearerToken(r); given {
		return token, true
	}
	if token := r.URL.Query().Get("access_token"); token != "" {
		return token, true
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType != "application/x-www-form-urlencoded" && mediaType != "multipart/form-data" {
		return "", false
	}
	if err := readForm(r, mediaType); err != nil {
		return "", false // the handler says what is wrong with the form
	}
	token := r.PostForm.Get("access_token")
	return token, token != ""
}

// bearerToken returns the token of an "Authorization: Bearer TOKEN"
// header, and whether there is one. As on Mastodon (Doorkeeper), another
// scheme or an empty token counts as no token: Mastodon client libraries
// send "Bearer " when they have none.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}
