package server

import (
	"errors"
	"net/http"
	"strings"

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

// apiCompatVersion is the Mastodon version the API claims to be, which
// client libraries read to decide which calls they may make.
const apiCompatVersion = "4.3.0"

// apiRoutes registers the API's routes on e; GETs also answer HEAD, and
// every route answers CORS preflight requests (OPTIONS).
func (s *Server) apiRoutes(e *echo.Echo) {
	route := func(r urls.Route, method string, h echo.HandlerFunc) {
		h = s.limited(h) // --rate-limit, as the pages
		e.Match([]string{method, http.MethodOptions}, r.Pattern, h, apiCORS)
		if method == http.MethodGet {
			e.HEAD(r.Pattern, h, apiCORS)
		}
	}
	optional, required := s.apiAuth(false), s.apiAuth(true)
	route(urls.APIInstance, http.MethodGet, optional(s.handleAPIInstance(1)))
	route(urls.APIInstanceV2, http.MethodGet, optional(s.handleAPIInstance(2)))
	route(urls.APIVerifyCredentials, http.MethodGet, required(s.handleAPIVerifyCredentials))
	route(urls.APIStatuses, http.MethodPost, required(s.handleAPIPostStatus))
	route(urls.APIStatus, http.MethodGet, optional(s.handleAPIGetStatus))
	route(urls.APIStatusContext, http.MethodGet, optional(s.handleAPIContext))
	route(urls.APIAccountLookup, http.MethodGet, optional(s.handleAPILookup))
	route(urls.APIAccount, http.MethodGet, optional(s.handleAPIAccount))
	route(urls.APIAccountStatuses, http.MethodGet, optional(s.handleAPIAccountStatuses))
	route(urls.APIAccountFollowers, http.MethodGet, optional(s.handleAPIFollowers))
	route(urls.APITimelinePublic, http.MethodGet, optional(s.handleAPIPublicTimeline))
	route(urls.APINotifications, http.MethodGet, required(s.handleAPINotifications))
	route(urls.APINotification, http.MethodGet, required(s.handleAPINotification))
}

// apiError answers with Mastodon's error shape, {"error": msg}.
func apiError(c echo.Context, status int, msg string) error {
	return c.JSON(status, map[string]string{"error": msg})
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

// apiAuth checks the request's bearer token (Authorization: Bearer T)
// against the stored tokens and keeps its name in the context. A bad
// token gets 401 always, a missing one only when required.
func (s *Server) apiAuth(required bool) func(echo.HandlerFunc) echo.HandlerFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			token, given := bearerToken(c.Request())
			if !given {
				if required {
					return apiError(c, http.StatusUnauthorized, apiErrBadToken)
				}
				return next(c)
			}
			name, err := s.store.CheckToken(c.Request().Context(), token)
			switch {
			case errors.Is(err, store.ErrNotFound):
				return apiError(c, http.StatusUnauthorized, apiErrBadToken)
			case err != nil:
				return err
			}
			c.Set(apiTokenKey, name)
			return next(c)
		}
	}
}

// bearerToken returns the token of an "Authorization: Bearer TOKEN"
// header, and whether the request has an Authorization header at all.
func bearerToken(r *http.Request) (string, bool) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return "", false
	}
	scheme, token, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(token), true
}
