package server

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
	"github.com/nuttx-feed/nuttx-feed/web"
)

// contentSecurityPolicy allows our own styles and images, and https images
// (the avatars of those who reply), and nothing else: replies are
// sanitized on the way in, but defence in depth costs nothing. Forms
// (search, remote follow) submit to us only, and the redirects they lead
// to (remote follow) go to https.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' https:; base-uri 'none'; form-action 'self' https:; frame-ancestors 'none'"

func (s *Server) page(title, description, alternate, canonical string) web.Page {
	u := s.site
	return web.Page{Title: title, Description: description, Site: u, Alternate: alternate, Canonical: canonical, Version: Version}
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
func (s *Server) profileView(tx *store.Tx, a *store.Actor) (web.ProfileView, error) {
	posts, err := tx.NoteCount(a.ID)
	if err != nil {
		return web.ProfileView{}, err
	}
	followers, err := tx.FollowerCount(a.ID)
	if err != nil {
		return web.ProfileView{}, err
	}
	return web.NewProfileView(s.site, a, posts, followers), nil
}

// noteViews describes notes with how many replies each thread page shows:
// local ones and those from the Fediverse.
func (s *Server) noteViews(tx *store.Tx, notes []*store.Note) ([]web.NoteView, error) {
	iris := make([]string, len(notes))
	for i, n := range notes {
		iris[i] = s.svc.NoteIRI(n)
	}
	counts, err := tx.ReplyCounts(iris)
	if err != nil {
		return nil, err
	}
	remote, err := tx.RemoteReplyCounts(iris)
	if err != nil {
		return nil, err
	}
	views := web.NoteViews(s.site, notes)
	for i := range views {
		views[i].ReplyCount = counts[iris[i]] + remote[iris[i]]
	}
	return views, nil
}

// handleProfilePage serves /@user: the profile and its latest posts, or the
// actor document to an ActivityPub client; and /@user.atom, its Atom feed,
// which echo routes here (urls.ProfileFeed).
func (s *Server) handleProfilePage(c echo.Context) error {
	if username, ok := strings.CutSuffix(c.Param("username"), urls.FeedSuffix); ok {
		return s.handleProfileFeed(c, username)
	}
	a, err := s.actor(c)
	if err != nil {
		return err
	}
	u := s.site
	if wantsJSON(c) {
		return activityJSON(c, activitypub.ActorDocument(u, a))
	}
	page, err := parsePage(c)
	if err != nil {
		return err
	}
	data := web.ProfilePage{}
	err = s.view(c, func(tx *store.Tx) error {
		notes, err := tx.Notes(store.NoteFilter{ActorID: a.ID}, page)
		if err != nil {
			return err
		}
		if data.Profile, err = s.profileView(tx, a); err != nil {
			return err
		}
		if data.Notes, err = s.noteViews(tx, notes.Notes); err != nil {
			return err
		}
		data.OlderURL, data.NewerURL = pageLinks(u.Profile(a.Username), notes)
		if a.Username == s.cfg.Username { // the bot that runs the feed
			if data.Failing, err = s.failingTable(tx); err != nil {
				return err
			}
		}
		mentions, err := tx.Mentions(u.Actor(a.Username))
		data.Mentions = web.RemoteReplyViews(mentions)
		return err
	})
	if err != nil {
		return err
	}
	data.Page = s.page(a.DisplayName+" ("+data.Profile.Handle+")", a.Summary, u.Actor(a.Username), u.Profile(a.Username))
	data.Page.Image = data.Profile.AvatarURL
	data.Page.Feed = u.ProfileFeed(a.Username)
	for _, f := range a.Fields {
		data.Me = append(data.Me, f.URL)
	}
	return s.renderPage(c, http.StatusOK, "profile", data)
}

// handleNotePage serves /@user/id: the note with its parent and the replies
// in its thread, or the Note document to an ActivityPub client. A deleted
// note's page says so, with 410 Gone (its Tombstone to a client), and
// keeps its thread.
func (s *Server) handleNotePage(c echo.Context) error {
	n, err := s.note(c)
	if err != nil {
		return err
	}
	u := s.site
	deleted := !n.Deleted.IsZero()
	switch {
	case wantsJSON(c) && deleted:
		return activityJSONStatus(c, http.StatusGone, activitypub.TombstoneDocument(u, n, false))
	case wantsJSON(c):
		return activityJSON(c, activitypub.NoteDocument(u, n))
	}
	a, err := s.svc.Actor(c.Request().Context(), n.Username)
	if err != nil {
		return err
	}
	data := web.NotePage{Note: web.NewNoteView(u, n)}
	err = s.view(c, func(tx *store.Tx) error {
		var err error
		if data.Profile, err = s.profileView(tx, a); err != nil {
			return err
		}
		thread := []string{s.svc.NoteIRI(n), n.InReplyTo}
		if user, id, ok := u.ParseLocalNote(n.InReplyTo); ok {
			if parent, err := tx.Note(user, id); err == nil {
				v := web.NewNoteView(u, parent)
				data.Parent = &v
				thread = append(thread, parent.InReplyTo)
			}
		}
		if data.Target, err = tx.ThreadTarget(thread); err != nil {
			return err
		}
		replies, err := tx.Replies(s.svc.NoteIRI(n))
		if err != nil {
			return err
		}
		data.Replies = web.NoteViews(u, replies)
		remote, err := tx.ThreadReplies(s.svc.NoteIRI(n))
		if err != nil {
			return err
		}
		data.RemoteReplies = web.RemoteReplyViews(remote)
		// All of them, as the replies collection counts them, even past
		// the ones the page lists.
		data.Note.ReplyCount, err = tx.ThreadReplyTotal(s.svc.NoteIRI(n))
		return err
	})
	if err != nil {
		return err
	}
	data.Page = s.page(a.DisplayName+": "+firstLine(n.Source), n.Source, s.svc.NoteIRI(n), u.NoteURL(n.Username, n.PublicID))
	data.Note.Focus = true
	if data.Target != "" {
		data.TargetURL = u.Target(data.Target)
	}
	if deleted {
		data.Page = s.page(a.DisplayName+": a deleted post", "", "", u.NoteURL(n.Username, n.PublicID))
	}
	data.Page.Image = data.Profile.AvatarURL
	if deleted {
		return s.renderPage(c, http.StatusGone, "note", data)
	}
	return s.renderPage(c, http.StatusOK, "note", data)
}

// handleTagPage lists the notes carrying a hashtag, under the header of
// the profile the home page leads to.
func (s *Server) handleTagPage(c echo.Context) error {
	tag := c.Param("tag")
	if !richtext.ValidHashtag(tag) {
		return activitypub.ErrNotFound
	}
	page, err := parsePage(c)
	if err != nil {
		return err
	}
	a, err := s.svc.Actor(c.Request().Context(), s.cfg.Username)
	if err != nil {
		return err
	}
	u := s.site
	data := web.TagPage{Page: s.page("#"+tag, "Posts tagged #"+tag, "", u.Tag(lower(tag))), Tag: tag}
	err = s.view(c, func(tx *store.Tx) error {
		notes, err := tx.Notes(store.NoteFilter{Tag: tag}, page)
		if err != nil {
			return err
		}
		if data.Profile, err = s.profileView(tx, a); err != nil {
			return err
		}
		data.Notes = web.NoteViews(u, notes.Notes)
		data.OlderURL, data.NewerURL = pageLinks(u.Tag(tag), notes)
		return nil
	})
	if err != nil {
		return err
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
