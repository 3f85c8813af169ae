package server

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// healthReport is the answer of /health: "ok" or "fail", and the state of
// each part, "ok" or what is wrong (README.md, "Deploying behind TLS").
type healthReport struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// healthCache keeps the last report for a second: /health writes to the
// database, and however often it is asked, it writes at most once a
// second; requests that come during a check wait for its answer.
type healthCache struct {
	mu     sync.Mutex
	at     time.Time
	report healthReport
}

// handleHealth answers 200 when the database takes a write and the feed
// (when enabled) polled successfully lately, else 503; both with the
// report as JSON.
func (s *Server) handleHealth(c echo.Context) error {
	report := s.checkHealth(c.Request().Context())
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	status := http.StatusOK
	if report.Status != "ok" {
		status = http.StatusServiceUnavailable
		h.Set("Retry-After", "30")
	}
	return c.JSON(status, report)
}

// checkHealth returns the report of a check made at most a second ago.
func (s *Server) checkHealth(ctx context.Context) healthReport {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	now := s.now()
	if d := now.Sub(s.health.at); d >= 0 && d < time.Second {
		return s.health.report
	}
	checks := map[string]string{"database": "ok", "feed": "disabled"}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.store.CheckWrite(wctx); err != nil {
		s.log.Error("health: the database takes no write", "err", err)
		checks["database"] = "fail: cannot write (see the log)"
	}
	if s.feed.Enabled() {
		checks["feed"] = s.feedHealth(now)
	}
	report := healthReport{Status: "ok", Checks: checks}
	for _, v := range checks {
		if v != "ok" && v != "disabled" {
			report.Status = "fail"
		}
	}
	if ctx.Err() == nil { // a check cut short by its client is not kept
		s.health.at, s.health.report = now, report
	}
	return report
}

// feedHealth is "ok" while the feed polled successfully within
// StaleAfter (three intervals plus the longest backoff) of now, counting
// from the server's start before its first success; else why not.
func (s *Server) feedHealth(now time.Time) string {
	switch st := s.feedStatus(now); {
	case !st.Stale:
		return "ok"
	case st.LastPoll.IsZero():
		return "stale: no successful poll since the start at " + s.started.UTC().Format(time.RFC3339)
	default:
		return "stale: last successful poll " + st.LastPoll.Format(time.RFC3339)
	}
}
