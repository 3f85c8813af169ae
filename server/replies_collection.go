package server

import (
	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// handleReplies serves a note's replies collection, by numbered pages:
// the ids of the replies its thread page shows, local and remote, oldest
// first, with the same count. A deleted note has none (404).
func (s *Server) handleReplies(c echo.Context) error {
	n, err := s.note(c)
	if err != nil {
		return err
	}
	if !n.Deleted.IsZero() {
		return activitypub.ErrNotFound
	}
	number, err := pageNumber(c)
	if err != nil {
		return err
	}
	iri := s.svc.NoteIRI(n)
	var total int
	var items []store.ReplyItem
	err = s.view(c, func(tx *store.Tx) (err error) {
		if total, err = tx.ThreadReplyTotal(iri); err != nil || number == 0 {
			return err
		}
		items, err = tx.ThreadReplyItems(iri, (number-1)*store.PageSize, store.PageSize)
		return err
	})
	if err != nil {
		return err
	}
	if number == 0 {
		return activityJSON(c, activitypub.RepliesDocument(s.site, n, total))
	}
	return activityJSON(c, activitypub.RepliesPageDocument(s.site, n, total, number, items))
}
