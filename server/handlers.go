package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/webfinger"
)

// activityJSON writes an ActivityPub document (docs/FEDERATION.md, "Media types and content negotiation").
func activityJSON(c echo.Context, body []byte) error {
	return activityJSONStatus(c, http.StatusOK, body)
}

// activityJSONStatus writes an ActivityPub document with status.
func activityJSONStatus(c echo.Context, status int, body []byte) error {
	h := c.Response().Header()
	h.Set("Vary", "Accept")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "public, max-age=60")
	return c.Blob(status, activitypub.ContentType+"; charset=utf-8", body)
}

// plainJSON writes a document served as application/json (NodeInfo).
func plainJSON(c echo.Context, v any) error {
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	return c.JSON(http.StatusOK, v)
}

func wantsJSON(c echo.Context) bool { return prefersActivityJSON(c.Request().Header.Get("Accept")) }

func (s *Server) handleActor(c echo.Context) error {
	if !wantsJSON(c) {
		return s.limited(s.profile)(c) // a browser gets the page (rel=canonical points at /@user)
	}
	a, err := s.actor(c)
	if err != nil {
		return err
	}
	return s.actorJSON(c, a)
}

// actorJSON writes a's actor document. A feed account not created yet (ID
// 0) is created first: its document carries its public key.
func (s *Server) actorJSON(c echo.Context, a *store.Actor) error {
	if a.ID == 0 {
		var err error
		if a, err = s.svc.MaterializeActor(c.Request().Context(), a.Username); err != nil {
			return err
		}
	}
	return activityJSON(c, activitypub.ActorDocument(s.site, a))
}

// actor returns the local actor the request's :username names.
func (s *Server) actor(c echo.Context) (*store.Actor, error) {
	return s.svc.Actor(c.Request().Context(), c.Param("username"))
}

// view reads from the store for a handler.
func (s *Server) view(c echo.Context, fn func(*store.Tx) error) error {
	return s.store.View(c.Request().Context(), fn)
}

// handleOutbox serves the outbox: its front page, or a page of Creates
// chosen by max_id or min_id (?page=true&min_id=0 is the oldest page).
func (s *Server) handleOutbox(c echo.Context) error {
	a, err := s.actor(c)
	if err != nil {
		return err
	}
	page, err := parsePage(c)
	if err != nil {
		return err
	}
	if _, err := pageNumber(c); err != nil { // page=true or a number, as for followers
		return err
	}
	var total int
	var notes store.NotePage
	asPage := c.QueryParam("page") != ""
	err = s.view(c, func(tx *store.Tx) (err error) {
		if total, err = actorNoteCount(tx, a); err != nil || !asPage {
			return err
		}
		notes, err = actorNotes(tx, a, page)
		return err
	})
	if err != nil {
		return err
	}
	u := s.site
	if !asPage {
		return activityJSON(c, activitypub.OutboxDocument(u, a.Username, total))
	}
	return activityJSON(c, activitypub.OutboxPageDocument(u, a.Username, total, page, notes))
}

// actorNoteCount returns how many notes a has published: none for a feed
// account not created yet (ID 0, which the store reads as every actor).
func actorNoteCount(tx *store.Tx, a *store.Actor) (int, error) {
	if a.ID == 0 {
		return 0, nil
	}
	return tx.NoteCount(a.ID)
}

// actorNotes returns a page of a's notes, newest first: none for a feed
// account not created yet (ID 0, which the store reads as every actor).
func actorNotes(tx *store.Tx, a *store.Actor, page store.Page) (store.NotePage, error) {
	if a.ID == 0 {
		return store.NotePage{}, nil
	}
	return tx.Notes(store.NoteFilter{ActorID: a.ID}, page)
}

// pageNumber reads ?page=N of a numbered collection: 0 for the front page,
// 1 for "true".
func pageNumber(c echo.Context) (int, error) {
	switch v := c.QueryParam("page"); v {
	case "":
		return 0, nil
	case "true":
		return 1, nil
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			return 0, fmt.Errorf("%w: page must be true or a positive number", activitypub.ErrInvalid)
		}
		return n, nil
	}
}

// handleFollowers serves the followers collection, by numbered pages.
func (s *Server) handleFollowers(c echo.Context) error {
	a, err := s.actor(c)
	if err != nil {
		return err
	}
	number, err := pageNumber(c)
	if err != nil {
		return err
	}
	var total int
	var followers []store.Follower
	err = s.view(c, func(tx *store.Tx) (err error) {
		if total, err = tx.FollowerCount(a.ID); err != nil || number == 0 {
			return err
		}
		followers, err = tx.Followers(a.ID, (number-1)*store.PageSize, store.PageSize)
		return err
	})
	if err != nil {
		return err
	}
	u := s.site
	if number == 0 {
		return activityJSON(c, activitypub.FollowersDocument(u, a.Username, total))
	}
	return activityJSON(c, activitypub.FollowersPageDocument(u, a.Username, total, number, followers))
}

func (s *Server) handleFollowing(c echo.Context) error {
	a, err := s.actor(c)
	if err != nil {
		return err
	}
	number, err := pageNumber(c)
	if err != nil {
		return err
	}
	return activityJSON(c, activitypub.FollowingDocument(s.site, a.Username, number))
}

func (s *Server) handleFeatured(c echo.Context) error {
	a, err := s.actor(c)
	if err != nil {
		return err
	}
	return activityJSON(c, activitypub.FeaturedDocument(s.site, a.Username))
}

// note reads the note a request names.
func (s *Server) note(c echo.Context) (n *store.Note, err error) {
	err = s.view(c, func(tx *store.Tx) error {
		n, err = tx.Note(c.Param("username"), c.Param("id"))
		return err
	})
	return n, err
}

// handleNote serves a note (or, with create, its Create) as JSON, and the
// note's page to a browser. A deleted note answers 410 Gone with its
// Tombstone.
func (s *Server) handleNote(create bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !wantsJSON(c) {
			return s.handleNotePage(c)
		}
		n, err := s.note(c)
		if err != nil {
			return err
		}
		if !n.Deleted.IsZero() {
			return activityJSONStatus(c, http.StatusGone, activitypub.TombstoneDocument(s.site, n, create))
		}
		if create {
			return activityJSON(c, activitypub.CreateDocument(s.site, n))
		}
		return activityJSON(c, activitypub.NoteDocument(s.site, n))
	}
}

// handleImage serves an actor's avatar or header. Its URL carries the
// image's version (?v=), so it may be cached for long.
func (s *Server) handleImage(c echo.Context) error {
	kind := c.Param("kind")
	if kind != store.Avatar && kind != store.Header {
		return echo.ErrNotFound
	}
	var img *store.Image
	err := s.view(c, func(tx *store.Tx) (err error) {
		img, err = tx.Image(c.Param("username"), kind)
		return err
	})
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "public, max-age=604800")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, img.ContentType, img.Data)
}

// handleInbox reads the raw body (at most MaxInboxBody) and hands it to the
// federation core; 202 when accepted (docs/FEDERATION.md, "Incoming activities": never 204).
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
		ClientAddr: c.RealIP(),
	})
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusAccepted)
}

func (s *Server) newWebFinger() *webfinger.Server {
	return &webfinger.Server{
		Site: s.site,
		Lookup: func(ctx context.Context, name string) (webfinger.Account, bool, error) {
			a, err := s.svc.Actor(ctx, name)
			if errors.Is(err, activitypub.ErrNotFound) {
				return webfinger.Account{}, false, nil
			}
			if err != nil {
				return webfinger.Account{}, false, err
			}
			avatar, avatarType := activitypub.Avatar(s.site, a)
			return webfinger.Account{Username: a.Username, Avatar: avatar, AvatarType: avatarType}, true, nil
		},
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
