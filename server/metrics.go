package server

// /metrics: where it is served and who may read it, the measure of every
// HTTP request and the count of inbox requests by what they were answered.
//
// With neither --metrics-listen nor --metrics-token, /metrics is not
// served at all (404): the main listener faces the Internet through the
// tunnel, and the metrics tell anyone how many followers the bot has on
// which servers' breakers, what fails and when. --metrics-listen serves it
// on an address of its own (loopback, a private network) and never on the
// main listener; --metrics-token serves it on the main listener to
// requests that carry the token, and on --metrics-listen too when both are
// set.

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/metrics"
)

// metricsPath is where the metrics are served (Prometheus' default
// metrics_path).
const metricsPath = "/metrics"

// metricsServed tells whether cfg serves /metrics anywhere.
func (cfg *Config) metricsServed() bool { return cfg.MetricsListen != "" || cfg.MetricsToken != "" }

// metricsOnMain tells whether cfg serves /metrics on the main listener.
func (cfg *Config) metricsOnMain() bool { return cfg.MetricsListen == "" && cfg.MetricsToken != "" }

// metricsWhere says where /metrics is served, for the start line.
func (s *Server) metricsWhere() string {
	switch {
	case s.metricsLn != nil:
		return "http://" + s.metricsLn.Addr().String() + metricsPath
	case s.cfg.metricsOnMain():
		return metricsPath + " (bearer token)"
	}
	return "off"
}

// metricsHandler serves the metrics, behind --metrics-token when it is set.
func (s *Server) metricsHandler() http.Handler {
	h := s.metrics.Handler()
	if s.cfg.MetricsToken == "" {
		return h
	}
	return requireBearer(s.cfg.MetricsToken, h)
}

// newMetricsServer is the HTTP server of --metrics-listen: /metrics and
// nothing else.
func (s *Server) newMetricsServer() *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET "+metricsPath, s.metricsHandler())
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// requireBearer passes to next only the requests whose Authorization
// header is "Bearer TOKEN"; the others get 401. The token is compared in
// constant time, through SHA-256 digests so that not even its length
// shows.
func requireBearer(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		digest := sha256.Sum256([]byte(got))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(digest[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="nuttx-feed metrics"`)
			http.Error(w, "401 unauthorized: send Authorization: Bearer TOKEN (--metrics-token)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// measureRequests observes how long each request took, by route pattern,
// method and status class. It writes the response of a handler's error
// (as logRequests does), so that the status is known.
func (s *Server) measureRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		s.metrics.HTTPRequest(c.Path(), c.Request().Method, c.Response().Status, time.Since(start))
		return nil
	}
}

// countInbox counts each inbox request by what it is answered.
func (s *Server) countInbox(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		s.metrics.InboxRequest(inboxResult(err))
		return err
	}
}

// inboxResults name the refusals of the inbox by their status.
var inboxResults = map[int]metrics.InboxResult{
	http.StatusBadRequest:            metrics.InboxInvalid,
	http.StatusUnauthorized:          metrics.InboxUnauthorized,
	http.StatusNotFound:              metrics.InboxNotFound,
	http.StatusRequestEntityTooLarge: metrics.InboxTooLarge,
	http.StatusUnsupportedMediaType:  metrics.InboxMediaType,
	http.StatusTooManyRequests:       metrics.InboxRateLimited,
}

// inboxResult names what an inbox request whose handler returned err is
// answered (statusOf), telling a key we could not fetch now from our own
// failures, both 503.
func inboxResult(err error) metrics.InboxResult {
	if err == nil {
		return metrics.InboxAccepted
	}
	status, _ := statusOf(err)
	switch r, ok := inboxResults[status]; {
	case ok:
		return r
	case errors.Is(err, activitypub.ErrUnavailable):
		return metrics.InboxUnavailable
	}
	return metrics.InboxError
}
