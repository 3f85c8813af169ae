package server

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// Accounts in the API: ours (local actors, by their row id) and the
// remote ones the server knows (followers and authors of stored replies,
// by the ids of api_remote.go).

// Page sizes of the account lists: Mastodon's defaults and maxima.
const (
	apiStatusesLimit, apiStatusesMax   = 20, 40
	apiFollowersLimit, apiFollowersMax = 40, 80
)

// apiAccountRef is an account an id names: a local actor or a remote one.
type apiAccountRef struct {
	local  *store.Actor
	remote *store.RemoteAccount
}

// apiAccountByID finds the account id; store.ErrNotFound when none.
func apiAccountByID(tx *store.Tx, id string) (apiAccountRef, error) {
	if seq, ok := parseRemoteID(id); ok {
		a, err := tx.RemoteAccount(seq)
		return apiAccountRef{remote: a}, err
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return apiAccountRef{}, fmt.Errorf("%w: no account %q", store.ErrNotFound, id)
	}
	a, err := tx.ActorByID(n)
	return apiAccountRef{local: a}, err
}

// describe describes the account as a Mastodon Account.
func (s *Server) describe(tx *store.Tx, ref apiAccountRef) (apiAccount, error) {
	if ref.remote != nil {
		return s.apiRemoteAccount(ref.remote), nil
	}
	return s.apiAccountOf(tx, ref.local)
}

// handleAPIAccount is GET /api/v1/accounts/:id: one of our actors or a
// remote account the server knows.
func (s *Server) handleAPIAccount(c echo.Context) error {
	return apiRead(s, c, func(tx *store.Tx) (apiAccount, error) {
		ref, err := apiAccountByID(tx, c.Param("id"))
		if err != nil {
			return apiAccount{}, err
		}
		return s.describe(tx, ref)
	})
}

// handleAPILookup is GET /api/v1/accounts/lookup?acct=: one of our actors
// by its handle, as user, user@host or @user@host with this server's
// host; any other is 404 (remote accounts are not looked up).
func (s *Server) handleAPILookup(c echo.Context) error {
	user, host, remote := strings.Cut(strings.TrimPrefix(c.QueryParam("acct"), "@"), "@")
	if user == "" || remote && !strings.EqualFold(host, s.site.Host()) && !strings.EqualFold(host, s.site.Hostname()) {
		return apiError(c, http.StatusNotFound, apiErrNotFound)
	}
	return apiRead(s, c, func(tx *store.Tx) (apiAccount, error) {
		a, err := tx.Actor(user)
		if err != nil {
			return apiAccount{}, err
		}
		return s.apiAccountOf(tx, a)
	})
}

// handleAPIAccountStatuses is GET /api/v1/accounts/:id/statuses: the
// account's statuses, newest first, by pages (limit 20, at most 40), with
// exclude_replies (replies to its own notes stay, as on Mastodon) and
// tagged. nuttx-feed posts no media and pins nothing, so only_media and
// pinned list nothing; a remote account's statuses are not stored here.
func (s *Server) handleAPIAccountStatuses(c echo.Context) error {
	q := apiList(c, apiStatusesLimit, apiStatusesMax, "exclude_replies", "exclude_reblogs", "only_media", "pinned", "tagged")
	empty := apiBool(c.QueryParam("only_media")) || apiBool(c.QueryParam("pinned"))
	var out []*apiStatus
	err := s.store.View(c.Request().Context(), func(tx *store.Tx) error {
		ref, err := apiAccountByID(tx, c.Param("id"))
		if err != nil || ref.local == nil || empty {
			return err
		}
		f := store.NoteFilter{ActorID: ref.local.ID, Tag: strings.TrimPrefix(c.QueryParam("tagged"), "#")}
		if apiBool(c.QueryParam("exclude_replies")) {
			f.SelfReplies = s.site.Actor(ref.local.Username) + "/"
		}
		out, err = s.apiNotes(tx, f, q)
		return err
	})
	if err != nil {
		return apiReadError(c, err)
	}
	return s.apiStatusList(c, q, out)
}

// apiNotes lists a page of the notes f selects as Statuses.
func (s *Server) apiNotes(tx *store.Tx, f store.NoteFilter, q apiListQuery) ([]*apiStatus, error) {
	p, err := q.pageBy(apiStatusCursor(tx))
	if err != nil {
		return nil, err
	}
	page, err := tx.Notes(f, p)
	if err != nil {
		return nil, err
	}
	return s.apiStatusesOf(tx, page.Notes)
}

// apiStatusList answers with a page of statuses and its Link header.
func (s *Server) apiStatusList(c echo.Context, q apiListQuery, list []*apiStatus) error {
	if len(list) > 0 {
		s.setLink(c, q, len(list), list[0].ID, list[len(list)-1].ID)
	}
	if list == nil {
		list = []*apiStatus{}
	}
	return c.JSON(http.StatusOK, list)
}

// handleAPIFollowers is GET /api/v1/accounts/:id/followers: the remote
// followers of one of our actors, the latest first, by pages (limit 40, at
// most 80) whose cursors are follows (as on Mastodon); a remote account's
// followers are not known here.
func (s *Server) handleAPIFollowers(c echo.Context) error {
	q := apiList(c, apiFollowersLimit, apiFollowersMax)
	var out []apiAccount
	var follows []store.FollowerEntry
	err := s.store.View(c.Request().Context(), func(tx *store.Tx) error {
		ref, err := apiAccountByID(tx, c.Param("id"))
		if err != nil || ref.local == nil {
			return err
		}
		p, err := q.page(apiNumber)
		if err != nil {
			return err
		}
		if follows, err = tx.FollowersPage(ref.local.ID, p); err != nil {
			return err
		}
		for _, f := range follows {
			a, err := tx.RemoteAccountByIRI(f.IRI)
			if err != nil {
				return err
			}
			out = append(out, s.apiRemoteAccount(a))
		}
		return nil
	})
	if err != nil {
		return apiReadError(c, err)
	}
	if len(follows) > 0 {
		s.setLink(c, q, len(follows), strconv.FormatInt(follows[0].Seq, 10), strconv.FormatInt(follows[len(follows)-1].Seq, 10))
	}
	if out == nil {
		out = []apiAccount{}
	}
	return c.JSON(http.StatusOK, out)
}
