package server

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// What Mastodon apps call on start and after signing in, answered so that
// they do not fail: the home timeline (the token's account's own
// statuses: nuttx-feed follows nobody), its relationships with the
// accounts shown, and the lists of what nuttx-feed has none of (custom
// emojis, filters, lists, announcements, followed tags, conversations,
// markers).

// maxRelationships is how many ids GET /api/v1/accounts/relationships
// answers at most.
const maxRelationships = 100

// apiEmpty answers an empty list ([]), of what nuttx-feed has none of.
func apiEmpty(c echo.Context) error { return c.JSON(http.StatusOK, []struct{}{}) }

// apiEmptyObject answers an empty object ({}): markers, which nuttx-feed
// does not keep.
func apiEmptyObject(c echo.Context) error { return c.JSON(http.StatusOK, map[string]any{}) }

// handleAPIHomeTimeline is GET /api/v1/timelines/home: the statuses of
// the token's account, paged as GET /api/v1/accounts/:id/statuses.
func (s *Server) handleAPIHomeTimeline(c echo.Context) error {
	var id int64
	err := s.store.View(c.Request().Context(), func(tx *store.Tx) error {
		a, err := tx.Actor(c.Get(apiAccountKey).(string))
		if err == nil {
			id = a.ID
		}
		return err
	})
	if err != nil {
		return apiReadError(c, err)
	}
	c.SetParamNames("id")
	c.SetParamValues(strconv.FormatInt(id, 10))
	return s.handleAPIAccountStatuses(c)
}

// handleAPIPreferences is GET /api/v1/preferences: public posts, no
// content warnings or media hidden.
func (s *Server) handleAPIPreferences(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{
		"posting:default:visibility": store.Public,
		"posting:default:sensitive":  false,
		"posting:default:language":   nil,
		"reading:expand:media":       "default",
		"reading:expand:spoilers":    false,
	})
}

// apiRelationship is Mastodon's Relationship.
type apiRelationship struct {
	ID                  string   `json:"id"`
	Following           bool     `json:"following"`
	ShowingReblogs      bool     `json:"showing_reblogs"`
	Notifying           bool     `json:"notifying"`
	Languages           []string `json:"languages"`
	FollowedBy          bool     `json:"followed_by"`
	Blocking            bool     `json:"blocking"`
	BlockedBy           bool     `json:"blocked_by"`
	Muting              bool     `json:"muting"`
	MutingNotifications bool     `json:"muting_notifications"`
	Requested           bool     `json:"requested"`
	RequestedBy         bool     `json:"requested_by"`
	DomainBlocking      bool     `json:"domain_blocking"`
	Endorsed            bool     `json:"endorsed"`
	Note                string   `json:"note"`
}

// handleAPIRelationships is GET /api/v1/accounts/relationships?id[]=:
// the token's account's relationship with each account known (unknown ids
// are left out, as on Mastodon). It follows nobody; a remote follower
// is followed_by.
func (s *Server) handleAPIRelationships(c echo.Context) error {
	ids := append(c.QueryParams()["id[]"], c.QueryParams()["id"]...)
	if len(ids) > maxRelationships {
		ids = ids[:maxRelationships]
	}
	return apiRead(s, c, func(tx *store.Tx) ([]apiRelationship, error) {
		me, err := tx.Actor(c.Get(apiAccountKey).(string))
		if err != nil {
			return nil, err
		}
		out := []apiRelationship{}
		for _, id := range ids {
			ref, err := apiAccountByID(tx, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			r := apiRelationship{ID: id}
			if ref.remote != nil {
				if r.FollowedBy, err = tx.IsFollower(me.ID, ref.remote.IRI); err != nil {
					return nil, err
				}
			}
			out = append(out, r)
		}
		return out, nil
	})
}
