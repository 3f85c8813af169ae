package server

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// The API's writes to a status after it was posted: edit (PUT), delete
// (DELETE), and the source an edit starts from. A token edits and deletes
// the statuses of its own account only; another account's status is 404,
// as on Mastodon.

// tokenAccountOf is the username of the local actor the request's token acts
// as (set by apiAuth).
func tokenAccountOf(c echo.Context) string {
	username, _ := c.Get(apiAccountKey).(string)
	return username
}

// apiOwnNote returns the note id of the local actor username, standing;
// another actor's, a deleted or an unknown one is an error wrapping
// store.ErrNotFound.
func apiOwnNote(tx *store.Tx, username, id string) (*store.Note, error) {
	n, err := apiStandingNote(tx, id)
	if err == nil && n.Username != username {
		err = fmt.Errorf("%w: status %s is not of %s", store.ErrNotFound, id, username)
	}
	return n, err
}

// apiStandingNote returns the note id, of any local actor, unless it is
// deleted or unknown: an error wrapping store.ErrNotFound.
func apiStandingNote(tx *store.Tx, id string) (*store.Note, error) {
	n, err := tx.NoteByPublicID(id)
	if err == nil && !n.Deleted.IsZero() {
		err = fmt.Errorf("%w: status %s was deleted", store.ErrNotFound, n.PublicID)
	}
	return n, err
}

// handleAPIEditStatus is PUT /api/v1/statuses/:id: the status's text,
// spoiler_text, sensitive and language (when given; else it keeps its
// own, as on Mastodon) become the request's (media ignored), and an
// Update{Note} goes to its audience. Mentions are resolved as on POST.
func (s *Server) handleAPIEditStatus(c echo.Context) error {
	req, err := parseStatusRequest(c.Request())
	if err != nil {
		return apiRequestError(c, err)
	}
	ctx, username := c.Request().Context(), tokenAccountOf(c)
	var n *store.Note
	if err := s.store.View(ctx, func(tx *store.Tx) (err error) { n, err = apiOwnNote(tx, username, c.Param("id")); return err }); err != nil {
		return apiRequestError(c, err) // before resolving mentions: a bad request reaches no other server
	}
	post := req.post()
	post.InReplyTo = n.InReplyTo // its author stays mentioned
	if post.Language == "" {
		post.Language = n.Language
	}
	if err := s.svc.ResolveMentions(ctx, &post); err != nil {
		return s.apiMentionFailure(c, err)
	}
	var st *apiStatus
	err = s.store.Update(ctx, func(tx *store.Tx) error {
		edited, err := s.svc.EditNote(tx, username, n.PublicID, post)
		if err != nil {
			return err
		}
		st, err = s.apiStatusOf(tx, edited)
		return err
	})
	if err != nil {
		return apiRequestError(c, err)
	}
	return c.JSON(http.StatusOK, st)
}

// handleAPIDeleteStatus is DELETE /api/v1/statuses/:id: the federated
// delete of `nuttx-feed delete`. It answers the deleted status with its
// source as text, as Mastodon does.
func (s *Server) handleAPIDeleteStatus(c echo.Context) error {
	ctx := c.Request().Context()
	err := s.store.View(ctx, func(tx *store.Tx) error { _, err := apiOwnNote(tx, tokenAccountOf(c), c.Param("id")); return err })
	if err != nil {
		return apiRequestError(c, err)
	}
	d, err := s.svc.DeleteNote(ctx, c.Param("id"))
	if err != nil {
		return apiRequestError(c, err)
	}
	if d.Before { // deleted meanwhile by another request
		return apiError(c, http.StatusNotFound, apiErrNotFound)
	}
	var st *apiStatus
	if err := s.store.View(ctx, func(tx *store.Tx) (err error) { st, err = s.apiStatusOf(tx, d.Note); return err }); err != nil {
		return err
	}
	st.Text = &d.Note.Source
	return c.JSON(http.StatusOK, st)
}

// apiStatusSource is Mastodon's StatusSource: what an edit starts from.
type apiStatusSource struct {
	ID          string `json:"id"`
	Text        string `json:"text"`
	SpoilerText string `json:"spoiler_text"`
}

// handleAPIStatusSource is GET /api/v1/statuses/:id/source: the text of
// a status of the token's account, as an edit starts from it; another
// account's is 404, as on Mastodon.
func (s *Server) handleAPIStatusSource(c echo.Context) error {
	var n *store.Note
	err := s.store.View(c.Request().Context(), func(tx *store.Tx) (err error) { n, err = apiOwnNote(tx, tokenAccountOf(c), c.Param("id")); return err })
	if err != nil {
		return apiRequestError(c, err)
	}
	return c.JSON(http.StatusOK, apiStatusSource{ID: n.PublicID, Text: n.Source, SpoilerText: n.Summary})
}
