package server

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/natsort"
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
	return s.renderPageCSP(c, status, name, data, contentSecurityPolicy)
}

// renderPageCSP is renderPage with the Content-Security-Policy csp: the
// OAuth authorize page lets its form lead to the app's redirect URI.
func (s *Server) renderPageCSP(c echo.Context, status int, name string, data any, csp string) error {
	var buf bytes.Buffer
	if err := s.pages.Render(&buf, name, data); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Vary", "Accept")
	return c.HTMLBlob(status, buf.Bytes())
}

// profileView gathers what the page header shows of an actor. A feed
// account without a row yet (ID 0) has posted nothing (actorNoteCount)
// and has no follower.
func (s *Server) profileView(tx *store.Tx, a *store.Actor) (web.ProfileView, error) {
	posts, err := actorNoteCount(tx, a)
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
// which echo routes here (urls.ProfileFeed). The firehose's profile shows
// the targets failing now and links the directory; a board's, target's
// or architecture's, what it follows (feedAccountView). A feed account
// without a row yet (ID 0) shows no posts, and nothing is written.
func (s *Server) handleProfilePage(c echo.Context) error {
	if username, ok := strings.CutSuffix(c.Param("username"), urls.FeedSuffix); ok {
		return s.handleProfileFeed(c, username)
	}
	return s.profile(c)
}

// profile serves the profile page of the actor :username, or its actor
// document to an ActivityPub client. A browser at /users/NAME gets it
// too, even when NAME ends in .atom (a target of config atom), whose
// /@NAME is the feed of another account.
func (s *Server) profile(c echo.Context) error {
	a, err := s.actor(c)
	if err != nil {
		return err
	}
	if wantsJSON(c) {
		return s.actorJSON(c, a)
	}
	page, err := parsePage(c)
	if err != nil {
		return err
	}
	var data web.ProfilePage
	err = s.view(c, func(tx *store.Tx) (err error) {
		data, err = s.profilePage(tx, a, page)
		return err
	})
	if err != nil {
		return err
	}
	return s.renderPage(c, http.StatusOK, "profile", data)
}

// profilePage describes page of actor a's profile. It only reads.
func (s *Server) profilePage(tx *store.Tx, a *store.Actor, page store.Page) (web.ProfilePage, error) {
	u := s.site
	var data web.ProfilePage
	var err error
	if data.Profile, err = s.profileView(tx, a); err != nil {
		return data, err
	}
	data.Page = s.page(a.DisplayName+" ("+data.Profile.Handle+")", a.Summary, u.Actor(a.Username), u.Profile(a.Username))
	data.Page.Image = data.Profile.AvatarURL
	data.Page.Feed = u.ProfileFeed(a.Username)
	for _, f := range a.Fields {
		data.Me = append(data.Me, f.URL)
	}
	if a.Username == s.cfg.Username { // the firehose leads to the accounts of what it posts about
		data.DirectoryURL = u.Failing()
	}
	if err := s.profileNotes(tx, a, page, &data); err != nil {
		return data, err
	}
	if data.NewerURL != "" { // what follows goes with the latest posts
		return data, nil
	}
	switch {
	case a.Username == s.cfg.Username: // the bot that runs the feed
		if data.Failing, err = s.failingTable(tx); err != nil {
			return data, err
		}
	case store.IsFeedKind(a.Kind):
		if data.Account, err = s.feedAccountView(tx, a.Username, tx.Now); err != nil {
			return data, err
		}
	}
	mentions, err := tx.Mentions(u.Actor(a.Username))
	data.Mentions = fitMentions(web.MentionViews(mentions), mentionsBudget)
	return data, err
}

// profileNotes fills the page of a's posts that page asks for, and the
// links to the pages older and newer (actorNotes: none for a feed account
// without a row yet).
func (s *Server) profileNotes(tx *store.Tx, a *store.Actor, page store.Page, data *web.ProfilePage) error {
	notes, err := actorNotes(tx, a, page)
	if err != nil {
		return err
	}
	notes = fitNotes(notes, page, profileNotesBudget)
	if data.Notes, err = s.noteViews(tx, notes.Notes); err != nil {
		return err
	}
	data.OlderURL, data.NewerURL = pageLinks(s.site.Profile(a.Username), notes)
	return nil
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
	after, err := parseRepliesCursor(c)
	if err != nil {
		return err
	}
	data := web.NotePage{}
	err = s.view(c, func(tx *store.Tx) error {
		var err error
		if data.Profile, err = s.profileView(tx, a); err != nil {
			return err
		}
		if err := s.threadHead(tx, n, &data); err != nil {
			return err
		}
		return s.threadReplies(tx, n, after, &data)
	})
	if err != nil {
		return err
	}
	data.Page = s.page(a.DisplayName+": "+firstLine(n.Source), ellipsis(n.Source, maxDescription), s.svc.NoteIRI(n), u.NoteURL(n.Username, n.PublicID))
	data.Note.Focus = true
	if deleted {
		data.Page = s.page(a.DisplayName+": a deleted post", "", "", u.NoteURL(n.Username, n.PublicID))
	}
	data.Page.Image = data.Profile.AvatarURL
	if deleted {
		return s.renderPage(c, http.StatusGone, "note", data)
	}
	return s.renderPage(c, http.StatusOK, "note", data)
}

// threadHead fills what a thread page shows above the replies: the note
// with its reply count, its parent when it is ours, and the build target
// whose thread they are in.
func (s *Server) threadHead(tx *store.Tx, n *store.Note, data *web.NotePage) error {
	u := s.site
	views, err := s.noteViews(tx, []*store.Note{n})
	if err != nil {
		return err
	}
	data.Note = views[0]
	thread := []string{s.svc.NoteIRI(n), n.InReplyTo}
	if user, id, ok := u.ParseLocalNote(n.InReplyTo); ok {
		if parent, err := tx.Note(user, id); err == nil {
			v := web.NewNoteView(u, parent)
			data.Parent = &v
			thread = append(thread, parent.InReplyTo)
		}
	}
	targets, own, err := s.shownTargets(tx, n, thread)
	if err != nil {
		return err
	}
	data.OwnTargets = own
	slices.SortFunc(targets, func(a, b *store.FeedTarget) int { // failing first, then by name
		if a.Failing != b.Failing {
			if a.Failing {
				return -1
			}
			return 1
		}
		return natsort.Compare(a.Target, b.Target)
	})
	if len(targets) > threadTargetRows {
		for _, t := range targets[threadTargetRows:] {
			if t.Failing {
				data.MoreFailing++
			} else {
				data.MoreBuilding++
			}
		}
		targets = targets[:threadTargetRows]
	}
	for _, t := range targets {
		data.Targets = append(data.Targets, web.TargetStatus{Target: t.Target, URL: u.Target(t.Target),
			Failing: t.Failing, Since: t.FailingSince, Hosts: t.FailingUsers})
	}
	return nil
}

// shownTargets reads the targets a thread page shows of note n in thread
// (its IRI and its ancestors'): those the post itself announced (one, or
// a digest's burst); for any other post (a reply by hand), those of its
// thread; own tells which. A feed account's note shows those of the
// firehose note it repeats (and of that note's thread), as the
// firehose's page does.
func (s *Server) shownTargets(tx *store.Tx, n *store.Note, thread []string) (targets []*store.FeedTarget, own bool, err error) {
	if n.EchoOf != 0 {
		src, err := tx.EchoSource(n)
		switch {
		case err == nil:
			n, thread = src, []string{s.svc.NoteIRI(src), src.InReplyTo}
		case !errors.Is(err, store.ErrNotFound):
			return nil, false, err
		}
	}
	if targets, err = tx.NoteTargets(n.Seq, s.svc.NoteIRI(n)); err != nil || len(targets) > 0 {
		return targets, len(targets) > 0, err
	}
	targets, err = tx.ThreadTargets(thread)
	return targets, false, err
}

// threadTargetRows bounds the targets a thread page lists (a digest's
// thread holds every target of its burst).
const threadTargetRows = 20

// targetsCost is what a thread page's list of targets costs of its byte
// budget: names (twice), links and the hosts shown, as the page writes
// them, and markup.
func targetsCost(targets []web.TargetStatus) int {
	cost := 0
	for _, t := range targets {
		cost += 2*web.TextBytes(t.Target) + web.URLBytes(t.URL) + 200
		for _, h := range t.ShownHosts() {
			cost += web.TextBytes(h) + 2
		}
	}
	return cost
}

// threadPageBudget bounds the bytes of the notes a thread page shows (the
// note, its parent and its replies, at least one), so that with its
// markup the page stays under 100 KB.
const threadPageBudget = 80_000

// threadReplies fills the page of replies that starts after cursor after:
// as many as fit what the note and its parent left of threadPageBudget,
// with links to the next page and back to the first.
func (s *Server) threadReplies(tx *store.Tx, n *store.Note, after store.ThreadCursor, data *web.NotePage) error {
	budget := threadPageBudget - noteCost(n) - targetsCost(data.Targets)
	if p := data.Parent; p != nil {
		budget -= len(p.Content) + len(p.Warning) + store.ReplyOverhead
	}
	replies, err := tx.ThreadRepliesPage(s.svc.NoteIRI(n), after, budget)
	if err != nil {
		return err
	}
	data.Replies = web.ReplyViews(s.site, replies.Items)
	page := s.site.NoteURL(n.Username, n.PublicID)
	if replies.Next != nil {
		data.MoreRepliesURL = page + "?" + repliesAfterParam + "=" + formatRepliesCursor(*replies.Next) + "#replies"
	}
	if after != (store.ThreadCursor{}) {
		data.FirstRepliesURL = page + "#replies"
	}
	return nil
}

// repliesAfterParam names the query parameter of a thread page that holds
// where its replies start: "TIME-l-ID" after our reply ID published at
// TIME (Unix milliseconds), "TIME-r-ID" after a remote one.
const repliesAfterParam = "replies_after"

// formatRepliesCursor writes c as repliesAfterParam holds it.
func formatRepliesCursor(c store.ThreadCursor) string {
	kind := "l"
	if c.Remote {
		kind = "r"
	}
	return strconv.FormatInt(c.At, 10) + "-" + kind + "-" + strconv.FormatInt(c.ID, 10)
}

// parseRepliesCursor reads repliesAfterParam; none is the first page, and
// anything but TIME-l-ID or TIME-r-ID is refused (400).
func parseRepliesCursor(c echo.Context) (store.ThreadCursor, error) {
	v := c.QueryParam(repliesAfterParam)
	if v == "" {
		return store.ThreadCursor{}, nil
	}
	bad := fmt.Errorf("%w: %s must be TIME-l-ID or TIME-r-ID", activitypub.ErrInvalid, repliesAfterParam)
	parts := strings.Split(v, "-")
	if len(parts) != 3 || (parts[1] != "l" && parts[1] != "r") {
		return store.ThreadCursor{}, bad
	}
	at, err1 := strconv.ParseInt(parts[0], 10, 64)
	id, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || at < 0 || id < 0 {
		return store.ThreadCursor{}, bad
	}
	return store.ThreadCursor{At: at, Remote: parts[1] == "r", ID: id}, nil
}

// The bytes of the notes a profile or tag page lists at most (at least
// one, and one post is 30 KB at most): with the profile's table of failing
// targets (failingTableBudget, 55 KB), its mentions (mentionsBudget, 8 KB)
// and the rest of the page (6 KB), the page stays under 100 KB.
const (
	profileNotesBudget = 22_000
	tagNotesBudget     = 80_000
)

// fitNotes keeps of page p, asked for as asked, the notes that fit budget
// bytes (noteCost), at least one. A page reached going newer (min_id)
// keeps its oldest notes, any other its newest; the notes left out are
// then the next page that way.
func fitNotes(p store.NotePage, asked store.Page, budget int) store.NotePage {
	towardNewer := asked.FromOldest || asked.MinID > 0
	kept, used := 0, 0
	for ; kept < len(p.Notes); kept++ {
		i := kept
		if towardNewer {
			i = len(p.Notes) - 1 - kept
		}
		if used += noteCost(p.Notes[i]); kept > 0 && used > budget {
			break
		}
	}
	switch {
	case kept == len(p.Notes):
	case towardNewer:
		p.Notes, p.Newer = p.Notes[len(p.Notes)-kept:], true
	default:
		p.Notes, p.Older = p.Notes[:kept], true
	}
	return p
}

// mentionsBudget bounds the bytes of the mentions a profile lists: an
// excerpt of each, and its author's name and links in full (2 KB each at
// most). About nine ordinary mentions fit; one at the limits does not.
const mentionsBudget = 8_000

// mentionMarkup is a mention's bytes on the profile beyond its text and
// links, an upper bound.
const mentionMarkup = 450

// fitMentions keeps, newest first, the mentions that fit budget bytes: each
// costs its excerpt, its author's name, handle and links as the page
// writes them (web.TextBytes, web.URLBytes), and its markup.
func fitMentions(mentions []web.MentionView, budget int) []web.MentionView {
	var kept []web.MentionView
	for _, m := range mentions {
		cost := web.TextBytes(m.Excerpt) + 2*web.TextBytes(m.AuthorName) + web.TextBytes(m.AuthorHandle) +
			web.URLBytes(m.AuthorURL) + web.URLBytes(m.URL) + mentionMarkup
		if cost <= budget { // one too long for the budget is left out, not the others after it
			kept, budget = append(kept, m), budget-cost
		}
	}
	return kept
}

// noteCost is what note n costs of a page's byte budget: its HTML, its
// content warning, its parent's link and the markup around it.
func noteCost(n *store.Note) int {
	return len(n.Content) + len(n.Summary) + len(n.InReplyTo) + store.ReplyOverhead
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
		notes = fitNotes(notes, page, tagNotesBudget)
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

// firstLine is the first line of s, cut to 80 characters: a title.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return ellipsis(line, 80)
}

// maxDescription bounds a page's description (and its og:description), in
// characters: a long post is on the page already.
const maxDescription = 300

// ellipsis returns s, or its first max-1 characters and "…" when it is
// longer.
func ellipsis(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	c, _ := cut(s, max-1)
	return c + "…"
}
