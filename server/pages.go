package server

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/web"
)

// contentSecurityPolicy allows our own styles and images and nothing else:
// note content is ours, but defence in depth costs nothing.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) page(title, description, alternate, canonical string) web.Page {
	u := s.svc.URLs()
	return web.Page{Title: title, Description: description, Base: u.Base(), Alternate: alternate, Canonical: canonical, Version: Version}
}

func (s *Server) renderPage(c echo.Context, status int, name string, data any) error {
	var buf bytes.Buffer
	if err := s.pages.Render(&buf, name, data); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Vary", "Accept")
	return c.HTMLBlob(status, buf.Bytes())
}

// profileView gathers what the page header shows of an actor.
func (s *Server) profileView(c echo.Context, a *activitypub.Actor) (web.ProfileView, error) {
	ctx := c.Request().Context()
	posts, err := s.svc.NoteCount(ctx, a.Username)
	if err != nil {
		return web.ProfileView{}, err
	}
	followers, err := s.svc.FollowerCount(ctx, a.Username)
	if err != nil {
		return web.ProfileView{}, err
	}
	return web.NewProfileView(s.svc.URLs(), a, posts, followers), nil
}

// withReplyCounts fills in how many local replies each note has.
func (s *Server) withReplyCounts(c echo.Context, views []web.NoteView, notes []*activitypub.Note) error {
	counts, err := s.svc.ReplyCounts(c.Request().Context(), notes)
	if err != nil {
		return err
	}
	for i, n := range notes {
		views[i].ReplyCount = counts[s.svc.NoteIRI(n)]
	}
	return nil
}

// handleProfilePage serves /@user: the profile and its latest posts, or the
// actor document to an ActivityPub client.
func (s *Server) handleProfilePage(c echo.Context) error {
	ctx := c.Request().Context()
	a, err := s.svc.Actor(ctx, c.Param("username"))
	if err != nil {
		return err
	}
	u := s.svc.URLs()
	if wantsJSON(c) {
		body, err := s.svc.ActorDocument(ctx, a.Username)
		if err != nil {
			return err
		}
		return activityJSON(c, body)
	}
	p := activitypub.Page{Limit: activitypub.PageSize}
	if v := c.QueryParam("max_id"); v != "" {
		if p.Before, err = strconv.ParseInt(v, 10, 64); err != nil {
			return activitypub.ErrInvalid
		}
	} else if v := c.QueryParam("min_id"); v != "" {
		if p.After, err = strconv.ParseInt(v, 10, 64); err != nil {
			return activitypub.ErrInvalid
		}
	}
	notes, err := s.svc.Notes(ctx, a.Username, p)
	if err != nil {
		return err
	}
	profile, err := s.profileView(c, a)
	if err != nil {
		return err
	}
	views := web.NoteViews(u, notes)
	if err := s.withReplyCounts(c, views, notes); err != nil {
		return err
	}
	data := web.ProfilePage{
		Page:    s.page(a.DisplayName+" ("+profile.Handle+")", a.Summary, u.Actor(a.Username), u.Profile(a.Username)),
		Profile: profile,
		Notes:   views,
	}
	for _, f := range a.Fields {
		data.Me = append(data.Me, f.URL)
	}
	if len(notes) > 0 {
		older, err := s.svc.Notes(ctx, a.Username, activitypub.Page{Before: notes[len(notes)-1].Seq, Limit: 1})
		if err != nil {
			return err
		}
		if len(older) > 0 {
			data.OlderURL = u.Profile(a.Username) + "?max_id=" + strconv.FormatInt(notes[len(notes)-1].Seq, 10)
		}
		newer, err := s.svc.Notes(ctx, a.Username, activitypub.Page{After: notes[0].Seq, Limit: 1})
		if err != nil {
			return err
		}
		if len(newer) > 0 {
			data.NewerURL = u.Profile(a.Username) + "?min_id=" + strconv.FormatInt(notes[0].Seq, 10)
		}
	}
	return s.renderPage(c, http.StatusOK, "profile", data)
}

// handleNotePage serves /@user/id: the note with its parent and the replies
// in its thread, or the Note document to an ActivityPub client.
func (s *Server) handleNotePage(c echo.Context) error {
	ctx := c.Request().Context()
	n, err := s.svc.Note(ctx, c.Param("username"), c.Param("id"))
	if err != nil {
		return err
	}
	if wantsJSON(c) {
		body, err := s.svc.NoteDocument(ctx, n.Username, n.PublicID)
		if err != nil {
			return err
		}
		return activityJSON(c, body)
	}
	a, err := s.svc.Actor(ctx, n.Username)
	if err != nil {
		return err
	}
	u := s.svc.URLs()
	profile, err := s.profileView(c, a)
	if err != nil {
		return err
	}
	data := web.NotePage{
		Page:    s.page(a.DisplayName+": "+firstLine(n.Source), n.Source, s.svc.NoteIRI(n), u.NoteURL(n.Username, n.PublicID)),
		Profile: profile,
		Note:    web.NewNoteView(u, n),
	}
	data.Note.Focus = true
	if user, id, ok := u.ParseLocalNote(n.InReplyTo); ok {
		if parent, err := s.svc.Note(ctx, user, id); err == nil {
			v := web.NewNoteView(u, parent)
			data.Parent = &v
		}
	}
	replies, err := s.svc.Replies(ctx, s.svc.NoteIRI(n))
	if err != nil {
		return err
	}
	data.Replies = web.NoteViews(u, replies)
	data.Note.ReplyCount = len(replies)
	return s.renderPage(c, http.StatusOK, "note", data)
}

// handleTagPage lists the notes carrying a hashtag.
func (s *Server) handleTagPage(c echo.Context) error {
	tag := c.Param("tag")
	if !activitypub.ValidHashtag(tag) {
		return activitypub.ErrNotFound
	}
	p := activitypub.Page{Limit: activitypub.PageSize}
	if v := c.QueryParam("max_id"); v != "" {
		var err error
		if p.Before, err = strconv.ParseInt(v, 10, 64); err != nil {
			return activitypub.ErrInvalid
		}
	}
	notes, err := s.svc.NotesTagged(c.Request().Context(), tag, p)
	if err != nil {
		return err
	}
	u := s.svc.URLs()
	data := web.TagPage{Page: s.page("#"+tag, "Posts tagged #"+tag, "", u.Tag(lower(tag))), Tag: tag, Notes: web.NoteViews(u, notes)}
	if len(notes) == activitypub.PageSize {
		data.OlderURL = u.Tag(tag) + "?max_id=" + strconv.FormatInt(notes[len(notes)-1].Seq, 10)
	}
	return s.renderPage(c, http.StatusOK, "tag", data)
}

func lower(s string) string { return strings.ToLower(s) }

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			s = s[:i]
			break
		}
	}
	if len([]rune(s)) > 80 {
		s = string([]rune(s)[:79]) + "…"
	}
	return s
}
