package server

import (
	"errors"
	"net/http"
	"slices"

	"github.com/gorilla/feeds"
	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// feedBudget bounds the bytes of an Atom feed's entries, as pages are
// bounded (under 100 KB): the newest entries that fit, at least one.
const feedBudget = 80_000

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
		notes, err = actorNotes(tx, a, store.Page{})
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
		Updated:     a.UpdatedAt, // without posts, the profile's last change
	}
	if f.Updated.IsZero() { // an account not created yet: its firehose's age
		f.Updated = a.CreatedAt
	}
	return s.writeFeed(c, f, notes.Notes)
}

// writeFeed answers with feed f, its entries the notes (newest first).
// Its updated time is the newest post's; without posts, f's own, else the
// server's start: Atom requires one.
func (s *Server) writeFeed(c echo.Context, f *feeds.Feed, notes []*store.Note) error {
	size := 0
	for _, n := range notes {
		// XML escapes the HTML again: about one and a half times its
		// bytes. The newest post goes in whatever its size.
		if size += len(n.Content) * 3 / 2; size > feedBudget && len(f.Items) > 0 {
			break
		}
		f.Items = append(f.Items, s.feedItem(n))
	}
	switch {
	case len(f.Items) > 0:
		f.Updated = f.Items[0].Created // the newest post
	case f.Updated.IsZero():
		f.Updated = s.started
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

// handleTargetFeed serves /targets/board:config.atom: the latest posts
// about a target (its failures, recoveries and breaking commits,
// store.PageSize of them, newest first, deleted ones left out).
func (s *Server) handleTargetFeed(c echo.Context, name string) error {
	var t *store.FeedTarget
	var notes []*store.Note
	err := s.view(c, func(tx *store.Tx) error {
		var err error
		if t, err = s.feedTarget(tx, name); err != nil {
			return err
		}
		notes, err = s.targetNotes(tx, t.Target)
		return err
	})
	if err != nil {
		return err
	}
	u := s.site
	f := &feeds.Feed{
		Title:       t.Target + " builds",
		Link:        &feeds.Link{Href: u.Target(t.Target)},
		Description: "Failures, recoveries and breaking commits of the NuttX build target " + t.Target,
		Author:      &feeds.Author{Name: s.cfg.Username},
	}
	return s.writeFeed(c, f, notes)
}

// targetNotes returns the latest notes about target that stand, newest
// first: those of its latest failures, recoveries and breaks.
func (s *Server) targetNotes(tx *store.Tx, target string) ([]*store.Note, error) {
	h, err := tx.TargetHistory(target, store.PageSize)
	if err != nil {
		return nil, err
	}
	var iris []string
	for _, f := range h.Failures {
		iris = append(iris, f.Note)
	}
	for _, r := range h.Recoveries {
		iris = append(iris, r.Note)
	}
	for _, b := range h.Breaks {
		iris = append(iris, b.Note)
	}
	seen := map[string]bool{}
	var notes []*store.Note
	for _, iri := range iris {
		user, id, ok := s.site.ParseLocalNote(iri)
		if !ok || seen[id] {
			continue
		}
		seen[id] = true
		n, err := tx.Note(user, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n.Deleted.IsZero() {
			notes = append(notes, n)
		}
	}
	slices.SortFunc(notes, func(a, b *store.Note) int { return b.Published.Compare(a.Published) })
	return notes[:min(len(notes), store.PageSize)], nil
}
