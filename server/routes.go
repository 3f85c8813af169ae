package server

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/nuttx-feed/nuttx-feed/web"
)

// routes builds the router: every endpoint of nuttx-feed, in one place.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = clientIP
	e.Pre(middleware.RemoveTrailingSlash()) // routing only: signatures use the raw request URI
	e.Use(middleware.Recover())
	e.Use(s.logRequests)

	get := func(path string, h echo.HandlerFunc) { e.Match([]string{http.MethodGet, http.MethodHead}, path, h) }

	// Discovery.
	get("/.well-known/webfinger", s.handleWebFinger)
	get("/.well-known/host-meta", s.handleHostMeta)
	get("/.well-known/nodeinfo", s.handleNodeInfoLinks)
	get("/nodeinfo/2.0", s.handleNodeInfo("2.0"))
	get("/nodeinfo/2.1", s.handleNodeInfo("2.1"))
	get("/health", s.handleHealth)

	// ActivityPub: actors, their collections and notes (JSON or HTML by Accept).
	get("/users/:username", s.handleActor)
	get("/users/:username/outbox", s.handleOutbox)
	get("/users/:username/followers", s.handleFollowers)
	get("/users/:username/following", s.handleFollowing)
	get("/users/:username/collections/featured", s.handleFeatured)
	get("/users/:username/statuses/:id", s.handleNote(false))
	get("/users/:username/statuses/:id/activity", s.handleNote(true))
	e.POST("/users/:username/inbox", s.handleInbox)
	e.POST("/inbox", s.handleInbox)

	// The web face.
	get("/", s.handleHome)
	get("/@:username", s.handleProfilePage)
	get("/@:username/:id", s.handleNotePage)
	get("/tags/:tag", s.handleTagPage)
	static := http.StripPrefix("/static/", http.FileServer(http.FS(web.Static())))
	get("/static/*", echo.WrapHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		static.ServeHTTP(w, r)
	})))
	return e
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
		attrs := []any{"method", req.Method, "uri", req.RequestURI, "status", status,
			"ms", time.Since(start).Milliseconds(), "ip", c.RealIP(), "ua", req.UserAgent()}
		if req.Method == http.MethodPost || status >= 400 {
			s.log.Info("request", attrs...)
		} else {
			s.log.Debug("request", attrs...)
		}
		return nil
	}
}

// clientIP takes the client address from CF-Connecting-IP when the request
// comes from a local proxy (cloudflared), else from the connection
// (INTEROP P7).
func clientIP(r *http.Request) string {
	direct := echo.ExtractIPDirect()(r)
	if cf := r.Header.Get("CF-Connecting-IP"); cf != "" && isLoopback(direct) {
		return cf
	}
	return direct
}
