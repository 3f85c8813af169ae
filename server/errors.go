package server

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/web"
	"github.com/nuttx-feed/nuttx-feed/webfinger"
)

// statusOf maps an error to its HTTP status and a message safe to show.
// Errors of unknown kind are internal: 503 with Retry-After, so that peers
// retry and never take a passing fault for "gone" (docs/FEDERATION.md, "Errors").
func statusOf(err error) (int, string) {
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		if msg, ok := he.Message.(string); ok {
			return he.Code, msg
		}
		return he.Code, http.StatusText(he.Code)
	case errors.Is(err, activitypub.ErrNotFound), errors.Is(err, webfinger.ErrNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, activitypub.ErrInvalid), errors.Is(err, webfinger.ErrMalformed):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, activitypub.ErrUnauthorized):
		return http.StatusUnauthorized, err.Error()
	case errors.Is(err, activitypub.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, err.Error()
	case errors.Is(err, activitypub.ErrUnsupportedMediaType):
		return http.StatusUnsupportedMediaType, err.Error()
	case errors.Is(err, activitypub.ErrUnavailable):
		return http.StatusServiceUnavailable, err.Error()
	case errors.Is(err, activitypub.ErrTooManyRequests):
		return http.StatusTooManyRequests, err.Error()
	}
	return http.StatusServiceUnavailable, "temporarily unavailable, try again later"
}

// handleError is echo's central error handler: JSON for machines, a page
// for browsers.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, msg := statusOf(err)
	var he *echo.HTTPError
	if status == http.StatusServiceUnavailable && !errors.As(err, &he) {
		switch {
		case c.Request().Context().Err() != nil: // the client went away: its request failed with it
			s.log.Debug("request given up by its client", "uri", loggedURI(c.Request()), "err", err)
		case !errors.Is(err, activitypub.ErrUnavailable):
			s.log.Error("internal error", "uri", loggedURI(c.Request()), "err", err)
		}
		c.Response().Header().Set("Retry-After", "30")
	}
	if after := activitypub.RetryAfter(err); after > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(max(1, int(after.Round(time.Second)/time.Second))))
	}
	req := c.Request()
	if req.Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	if req.Method == http.MethodGet && !wantsJSON(c) && acceptsHTML(req.Header.Get("Accept")) {
		heading := http.StatusText(status)
		if status == http.StatusNotFound {
			heading = "Not found"
		}
		page := web.ErrorPage{Page: s.page(heading, "", "", ""), Heading: heading, Message: msg}
		if inDirectory(req.URL.Path) {
			page.BackURL, page.BackText = s.site.Failing(), "The directory of accounts"
		}
		s.renderPage(c, status, "error", page)
		return
	}
	c.JSON(status, map[string]string{"error": msg})
}

// acceptsHTML reports whether the client lists text/html (a browser).
func acceptsHTML(accept string) bool {
	for _, r := range parseAccept(accept) {
		if (r.typ == "text/html" || r.typ == "application/xhtml+xml") && r.q > 0 {
			return true
		}
	}
	return false
}
