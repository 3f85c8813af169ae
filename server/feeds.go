package server

import (
	"net/http"

	"github.com/gorilla/feeds"
	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// atomContentType is what an Atom feed is served as.
const atomContentType = "application/atom+xml; charset=utf-8"

// handleProfileFeed serves /@user.atom: the actor's latest posts
// (store.PageSize of them, newest first, deleted ones left out) as an
// Atom feed. Each entry's id is the note's ActivityPub id, its link the
// note's page, its content the note's HTML.
func (s *Server) handleProfileFeed(c echo.Context, username string) error {
	a, err := s.svc.Actor(c.Request().Context(), username)
	if err != nil {
		return err
	}
	var notes store.NotePage
	err = s.view(c, func(tx *store.Tx) error {
		notes, err = tx.Notes(store.NoteFilter{ActorID: a.ID}, store.Page{})
		return err
	})
	if err != nil {
		return err
	}
	u := s.site
	f := &feeds.Feed{
		Title:       a.DisplayName + " (@" + u.Handle(a.Username) + ")",
		Link:        &feeds.Link{Href: u.Profile(a.Username)},
		Description: a.Summary,
		Author:      &feeds.Author{Name: a.DisplayName},
	}
	for _, n := range notes.Notes {
		f.Items = append(f.Items, s.feedItem(n))
	}
	if len(f.Items) > 0 {
		f.Updated = f.Items[0].Created // the newest post
	}
	body, err := f.ToAtom()
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Vary", "Accept")
	return c.Blob(http.StatusOK, atomContentType, []byte(body))
}

// feedItem is note n as an Atom entry: its title the content warning,
// else the first line of its text.
func (s *Server) feedItem(n *store.Note) *feeds.Item {
	title := firstLine(n.Source)
	if n.Summary != "" {
		title = n.Summary
	}
	return &feeds.Item{
		Id:      s.svc.NoteIRI(n),
		Title:   title,
		Link:    &feeds.Link{Href: s.site.NoteURL(n.Username, n.PublicID)},
		Created: n.Published,
		Content: n.Content,
	}
}
