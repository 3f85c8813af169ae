package server

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// The bot's notifications (a token is required): follows, and the stored
// replies to its notes and mentions of it, both of type "mention" as
// Mastodon reports a reply (a reply mentions its parent's author). Their
// ids increase with the time they came (migrations/0016_api_reads.sql).

// Page size of the notifications: Mastodon's default and maximum.
const apiNotificationsLimit, apiNotificationsMax = 40, 80

// apiNotificationTypes are the notification types nuttx-feed makes.
var apiNotificationTypes = []string{store.NotifyFollow, store.NotifyMention}

// apiNotification is a Mastodon Notification; Status is absent from a
// follow.
type apiNotification struct {
	ID        string     `json:"id"`
	Type      string     `json:"type"`
	CreatedAt string     `json:"created_at"`
	GroupKey  string     `json:"group_key"`
	Account   apiAccount `json:"account"`
	Status    *apiStatus `json:"status,omitempty"`
}

// notificationFilter selects the notifications of the local account
// username (the token's) of the given types.
func (s *Server) notificationFilter(tx *store.Tx, username string, types []string) (store.NotificationFilter, error) {
	a, err := tx.Actor(username)
	if err != nil {
		return store.NotificationFilter{}, err
	}
	iri := s.site.Actor(a.Username)
	return store.NotificationFilter{ActorID: a.ID, ActorIRI: iri, NotePrefix: iri + "/statuses/", Types: types}, nil
}

// apiNotificationTypesOf returns the types a request asks for: types[]
// (all when absent; a type nuttx-feed never makes matches nothing) less
// exclude_types[].
func apiNotificationTypesOf(c echo.Context) []string {
	params := c.QueryParams()
	asked := slices.Concat(params["types[]"], params["types"])
	excluded := slices.Concat(params["exclude_types[]"], params["exclude_types"])
	var out []string
	for _, t := range apiNotificationTypes {
		if (len(asked) == 0 || slices.Contains(asked, t)) && !slices.Contains(excluded, t) {
			out = append(out, t)
		}
	}
	return out
}

// handleAPINotifications is GET /api/v1/notifications: the bot's
// notifications, newest first, by pages (limit 40, at most 80), of the
// types asked for.
func (s *Server) handleAPINotifications(c echo.Context) error {
	q, out, err := s.apiNotificationPage(c)
	if err != nil {
		return apiReadError(c, err)
	}
	s.setNotificationLink(c, q, out)
	return c.JSON(http.StatusOK, out)
}

// apiNotificationPage reads the page of notifications a request asks
// for, with its query; never a nil list.
func (s *Server) apiNotificationPage(c echo.Context) (apiListQuery, []apiNotification, error) {
	q := apiList(c, apiNotificationsLimit, apiNotificationsMax, "types[]", "types", "exclude_types[]", "exclude_types")
	types := apiNotificationTypesOf(c)
	out := []apiNotification{}
	if len(types) == 0 {
		return q, out, nil
	}
	err := s.store.View(c.Request().Context(), func(tx *store.Tx) error {
		p, err := q.page(apiNumber)
		if err != nil {
			return err
		}
		f, err := s.notificationFilter(tx, tokenAccountOf(c), types)
		if err != nil {
			return err
		}
		list, err := tx.Notifications(f, p)
		if err != nil {
			return err
		}
		for _, n := range list {
			v, err := s.apiNotificationOf(tx, n)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	return q, out, err
}

// setNotificationLink sets the Link header of a page of notifications.
func (s *Server) setNotificationLink(c echo.Context, q apiListQuery, list []apiNotification) {
	if len(list) > 0 {
		s.setLink(c, q, len(list), list[0].ID, list[len(list)-1].ID)
	}
}

// handleAPINotification is GET /api/v1/notifications/:id: one of the
// bot's notifications.
func (s *Server) handleAPINotification(c echo.Context) error {
	return apiRead(s, c, func(tx *store.Tx) (apiNotification, error) {
		seq, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil {
			return apiNotification{}, fmt.Errorf("%w: no notification %q", store.ErrNotFound, c.Param("id"))
		}
		f, err := s.notificationFilter(tx, tokenAccountOf(c), nil)
		if err != nil {
			return apiNotification{}, err
		}
		n, err := tx.Notification(f, seq)
		if err != nil {
			return apiNotification{}, err
		}
		return s.apiNotificationOf(tx, n)
	})
}

// apiNotificationOf describes a notification: the follower's account, or
// the reply as a Status with its author's account.
func (s *Server) apiNotificationOf(tx *store.Tx, n *store.Notification) (apiNotification, error) {
	id := strconv.FormatInt(n.Seq, 10)
	out := apiNotification{ID: id, Type: n.Type, CreatedAt: apiTime(n.CreatedAt), GroupKey: "ungrouped-" + id}
	if n.Reply == nil {
		a, err := tx.RemoteAccountByIRI(n.Follower)
		if err != nil {
			return out, err
		}
		out.Account = s.apiRemoteAccount(a)
		return out, nil
	}
	st, err := s.apiRemoteStatus(tx, n.Reply)
	if err != nil {
		return out, err
	}
	out.Account, out.Status = st.Account, st
	return out, nil
}
