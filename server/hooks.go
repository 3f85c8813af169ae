package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/feed"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// Webhooks: POST /hooks/alertmanager receives Prometheus Alertmanager's
// notifications (its webhook_config, payload version 4) with a token of
// `nuttx-feed token create`, and hands them to the feed, which threads and
// posts them (feed/alerts.go). Errors have the API's {"error": ...} shape.

// hookMaxBody bounds a notification's body.
const hookMaxBody = 1 << 20

// hookRoutes registers the webhooks on e, rate limited and authenticated
// as the API.
func (s *Server) hookRoutes(e *echo.Echo) {
	e.POST(urls.HookAlertmanager.Pattern, s.limited(s.apiAuth(true, "write:statuses")(s.handleAlertmanager)))
}

// handleAlertmanager reads and checks the whole notification, then posts
// what it changes in one transaction: a bad notification gets 400 with
// the reason and posts nothing. The posts are the bot's (the feed's
// account, whose threads the alerts' state names): a token acting as
// another account gets 403.
func (s *Server) handleAlertmanager(c echo.Context) error {
	if account := tokenAccountOf(c); account != s.cfg.Username {
		return apiError(c, http.StatusForbidden, fmt.Sprintf("this token acts as %s, and the Alertmanager receiver posts as %s: use a token made without --account", account, s.cfg.Username))
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, hookMaxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return apiError(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", hookMaxBody))
	case err != nil:
		return apiError(c, http.StatusBadRequest, "reading the body: "+err.Error())
	}
	n, err := feed.ParseAlertPayload(body)
	if err == nil {
		err = n.CheckTimes(s.now())
	}
	if err != nil {
		return apiError(c, http.StatusBadRequest, err.Error())
	}
	res, err := s.feed.ReceiveAlerts(c.Request().Context(), n)
	if err != nil {
		return err
	}
	s.log.Info("alertmanager notification", "token", c.Get(apiTokenKey), "receiver", n.Receiver, "group", n.GroupKey,
		"alerts", len(n.Alerts), "truncated", n.TruncatedAlerts, "posts", res.Posts, "recorded", res.StateChanges)
	return c.JSON(http.StatusOK, map[string]int{"posts": res.Posts, "recorded": res.StateChanges})
}
