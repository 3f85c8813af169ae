package server

import (
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// handleAPIPublicTimeline is GET /api/v1/timelines/public: the public
// statuses of all our actors (unlisted ones left out), newest first, by
// pages (limit 20, at most 40); no token needed, as on a Mastodon server
// whose public timeline is open. The Fediverse's stored replies are not on
// it: nuttx-feed keeps no federated timeline, only replies to its own
// threads, which GET /api/v1/statuses/:id/context and the notifications
// show. So remote=true lists nothing, local=true changes nothing, and
// only_media lists nothing (nuttx-feed posts no media).
func (s *Server) handleAPIPublicTimeline(c echo.Context) error {
	return s.apiPublicStatuses(c, "")
}

// handleAPITagTimeline is GET /api/v1/timelines/tag/:hashtag: the public
// timeline's statuses with the hashtag (any case, with or without '#'),
// paged and filtered as it is.
func (s *Server) handleAPITagTimeline(c echo.Context) error {
	return s.apiPublicStatuses(c, strings.TrimPrefix(c.Param("hashtag"), "#"))
}

// apiPublicStatuses answers a page of the public timeline, of the statuses
// with the hashtag tag only when it is not "".
func (s *Server) apiPublicStatuses(c echo.Context, tag string) error {
	q := apiList(c, apiStatusesLimit, apiStatusesMax, "local", "remote", "only_media")
	var out []*apiStatus
	if !apiBool(c.QueryParam("remote")) && !apiBool(c.QueryParam("only_media")) {
		err := s.store.View(c.Request().Context(), func(tx *store.Tx) (err error) {
			out, err = s.apiNotes(tx, store.NoteFilter{PublicOnly: true, Tag: tag}, q)
			return err
		})
		if err != nil {
			return apiReadError(c, err)
		}
	}
	return s.apiStatusList(c, q, out)
}
