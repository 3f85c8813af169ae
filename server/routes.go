package server

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/nuttx-feed/nuttx-feed/internal/urls"
	"github.com/nuttx-feed/nuttx-feed/web"
)

// routes builds the router: every endpoint of nuttx-feed, in one place.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = clientIPExtractor(s.trusted)
	e.Use(restoreSignedRequest) // first: see routeWithoutTrailingSlash
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableStackAll: true, // the panicking goroutine's stack, logged through slog
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.Error("panic in a handler", "uri", loggedURI(c.Request()), "err", err, "stack", string(stack))
			return err
		},
	}))
	e.Use(s.logRequests)
	if s.metrics != nil {
		e.Use(s.measureRequests)
	}

	get := func(r urls.Route, h echo.HandlerFunc) {
		e.Match([]string{http.MethodGet, http.MethodHead}, r.Pattern, h)
	}

	// Discovery.
	get(urls.WebFinger, s.handleWebFinger)
	get(urls.HostMeta, s.handleHostMeta)
	get(urls.NodeInfoLinks, s.handleNodeInfoLinks)
	get(urls.NodeInfo20, s.limited(s.handleNodeInfo("2.0")))
	get(urls.NodeInfo21, s.limited(s.handleNodeInfo("2.1")))
	get(urls.Health, s.handleHealth)

	// ActivityPub: actors, their collections and notes (JSON or HTML by
	// Accept). s.limited marks the expensive GETs (ratelimit.go).
	get(urls.Actor, s.handleActor)
	get(urls.Outbox, s.limited(s.handleOutbox))
	get(urls.Followers, s.limited(s.handleFollowers))
	get(urls.Following, s.handleFollowing)
	get(urls.Featured, s.handleFeatured)
	get(urls.Note, s.limited(s.handleNote(false)))
	get(urls.Activity, s.limited(s.handleNote(true)))
	get(urls.Replies, s.limited(s.handleReplies))
	get(urls.Image, s.limited(s.handleImage))
	e.POST(urls.Inbox.Pattern, s.handleInbox, s.countInbox)
	e.POST(urls.SharedInbox.Pattern, s.handleInbox, s.countInbox)
	if s.cfg.metricsOnMain() {
		e.Match([]string{http.MethodGet, http.MethodHead}, metricsPath, echo.WrapHandler(s.metricsHandler()))
	}

	// The web face.
	get(urls.Home, s.handleHome)
	get(urls.Follow, s.limited(s.handleRemoteFollow))
	get(urls.Profile, s.limited(s.handleProfilePage)) // and urls.ProfileFeed
	get(urls.NotePage, s.limited(s.handleNotePage))
	get(urls.Tag, s.limited(s.handleTagPage))
	get(urls.Failing, s.limited(s.handleDirectoryPage))
	get(urls.Target, s.limited(s.handleTargetPage)) // and urls.TargetFeed
	get(urls.Search, s.limited(s.handleSearchPage))
	static := http.StripPrefix(strings.TrimSuffix(urls.Static.Pattern, "*"), http.FileServer(http.FS(web.Static())))
	get(urls.Static, echo.WrapHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		static.ServeHTTP(w, r)
	})))

	// The Mastodon-compatible API (api.go).
	s.apiRoutes(e)
	s.hookRoutes(e) // and the webhooks (hooks.go)
	return e
}

// routeWithoutTrailingSlash serves e, routing a path with a trailing slash
// ("/inbox/") as the path without it. It routes a copy of the request whose
// path has lost its slash and hands the handlers the request as it came
// (restoreSignedRequest), because a signature covers the request URI the
// client sent: echo's RemoveTrailingSlash rewrote RequestURI and URL.Path,
// and a POST signed for /inbox/ failed to verify.
func routeWithoutTrailingSlash(e *echo.Echo) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; len(p) <= 1 || !strings.HasSuffix(p, "/") {
			e.ServeHTTP(w, r)
			return
		}
		routed := r.Clone(context.WithValue(r.Context(), signedRequestKey{}, r))
		routed.URL.Path = strings.TrimSuffix(routed.URL.Path, "/")
		routed.URL.RawPath = strings.TrimSuffix(routed.URL.RawPath, "/")
		e.ServeHTTP(w, routed)
	})
}

// signedRequestKey holds, in the routed copy's context, the request as
// the client sent it.
type signedRequestKey struct{}

// restoreSignedRequest runs once echo has routed: it gives the handlers back
// the request as the client sent it, when routeWithoutTrailingSlash routed
// a copy.
func restoreSignedRequest(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if r, ok := c.Request().Context().Value(signedRequestKey{}).(*http.Request); ok {
			c.SetRequest(r)
		}
		return next(c)
	}
}

// logRequests logs inbox traffic and errors at info level, the rest at
// debug level.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err) // write the response now, so the status is known
		}
		req, status := c.Request(), c.Response().Status
		attrs := []any{"method", req.Method, "uri", loggedURI(req), "status", status,
			"ms", time.Since(start).Milliseconds(), "ip", c.RealIP(), "ua", req.UserAgent()}
		if req.Method == http.MethodPost || status >= 400 {
			s.log.Info("request", attrs...)
		} else {
			s.log.Debug("request", attrs...)
		}
		return nil
	}
}

// secretValues finds the values of the parameters that carry credentials,
// anywhere in a URI (the query, or a path with ";access_token=..."): an
// API token (access_token, as Mastodon takes it), OAuth codes, secrets
// and PKCE verifiers; "token" ends each of their names but code's, so
// refresh_token and the like are caught too.
var secretValues = regexp.MustCompile(`(?i)((?:token|code|secret|verifier|password)=)[^&;#/?]*`)

// loggedURI is the request's URI as logs show it, with the values of
// secretValues replaced: a token sent in the URI never reaches a log
// file.
func loggedURI(r *http.Request) string {
	return secretValues.ReplaceAllString(r.RequestURI, "${1}REDACTED")
}
