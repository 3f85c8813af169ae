package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/webfinger"
)

// activityJSON writes an ActivityPub document (INTEROP C1, P5).
func activityJSON(c echo.Context, body []byte) error {
	h := c.Response().Header()
	h.Set("Vary", "Accept")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "public, max-age=60")
	return c.Blob(http.StatusOK, activitypub.ContentType+"; charset=utf-8", body)
}

// plainJSON writes a document served as application/json (NodeInfo).
func plainJSON(c echo.Context, v any) error {
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	return c.JSON(http.StatusOK, v)
}

func wantsJSON(c echo.Context) bool { return prefersActivityJSON(c.Request().Header.Get("Accept")) }

func (s *Server) handleActor(c echo.Context) error {
	if !wantsJSON(c) {
		return s.handleProfilePage(c) // a browser gets the page (rel=canonical points at /@user)
	}
	body, err := s.svc.ActorDocument(c.Request().Context(), c.Param("username"))
	if err != nil {
		return err
	}
	return activityJSON(c, body)
}

func pageRequest(c echo.Context) (activitypub.PageRequest, error) {
	return activitypub.ParsePageRequest(c.QueryParam("page"), c.QueryParam("max_id"), c.QueryParam("min_id"))
}

// collection serves a paged collection (outbox, followers, following).
func (s *Server) collection(doc func(ctx context.Context, username string, r activitypub.PageRequest) ([]byte, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		r, err := pageRequest(c)
		if err != nil {
			return err
		}
		body, err := doc(c.Request().Context(), c.Param("username"), r)
		if err != nil {
			return err
		}
		return activityJSON(c, body)
	}
}

func (s *Server) handleFeatured(c echo.Context) error {
	body, err := s.svc.FeaturedDocument(c.Request().Context(), c.Param("username"))
	if err != nil {
		return err
	}
	return activityJSON(c, body)
}

// note serves a note or its Create as JSON, and the note's page to a browser.
func (s *Server) note(doc func(ctx context.Context, username, id string) ([]byte, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !wantsJSON(c) {
			return s.handleNotePage(c)
		}
		body, err := doc(c.Request().Context(), c.Param("username"), c.Param("id"))
		if err != nil {
			return err
		}
		return activityJSON(c, body)
	}
}

// handleInbox reads the raw body (at most MaxInboxBody) and hands it to the
// federation core; 202 when accepted (INTEROP D2: never 204).
func (s *Server) handleInbox(c echo.Context) error {
	req := c.Request()
	if req.ContentLength > activitypub.MaxInboxBody {
		return activitypub.ErrTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, activitypub.MaxInboxBody+1))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "cannot read the body")
	}
	if len(body) > activitypub.MaxInboxBody {
		return activitypub.ErrTooLarge
	}
	err = s.svc.HandleInbox(req.Context(), c.Param("username"), activitypub.InboundRequest{
		Method:     req.Method,
		RequestURI: req.RequestURI,
		Header:     req.Header,
		Body:       body,
	})
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusAccepted)
}

func (s *Server) newWebFinger() *webfinger.Server {
	u := s.svc.URLs()
	hosts := []string{strings.ToLower(u.Host())}
	if u.Hostname() != u.Host() {
		hosts = append(hosts, strings.ToLower(u.Hostname()))
	}
	return &webfinger.Server{
		Hosts:  hosts,
		Domain: u.Hostname(),
		Lookup: func(ctx context.Context, name string) (string, bool, error) {
			a, err := s.svc.Actor(ctx, name)
			if errors.Is(err, activitypub.ErrNotFound) {
				return "", false, nil
			}
			if err != nil {
				return "", false, err
			}
			return a.Username, true, nil
		},
		ActorURL:   u.Actor,
		ProfileURL: u.Profile,
		AvatarURL:  u.Avatar(),
	}
}

func (s *Server) handleWebFinger(c echo.Context) error {
	resource := c.QueryParam("resource")
	if resource == "" {
		return echo.NewHTTPError(http.StatusBadRequest, "the resource parameter is required")
	}
	jrd, err := s.finger.Resolve(c.Request().Context(), resource)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "public, max-age=3600")
	body, err := json.Marshal(jrd)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, webfinger.ContentType+"; charset=utf-8", body)
}
