package server

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/feed"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
	"github.com/nuttx-feed/nuttx-feed/web"
)

// Bounds that keep the pages about targets under 100 KB.
const (
	failingRows     = 50 // rows of the profile's failing table
	targetPageHosts = 20 // build hosts a target page lists (by name; the rest counted)
	// failingTableBudget bounds the bytes of the profile's failing table
	// (fitFailingRows): 50 rows of long names, links and errors fit.
	failingTableBudget = 55_000
	// failingTableRowMarkup is a profile row's bytes beyond its content
	// and excerpt, an upper bound (386 measured).
	failingTableRowMarkup = 420
	targetListLimit       = 50 // failures, recoveries and breaks on a target page
)

// failingTable builds the profile's section on the targets failing now:
// how many, the feed's status, and the first of them in natural order
// (board2 before board10) with the first lines of each one's latest
// error; the directory lists them all (/targets?kind=target&state=failing).
func (s *Server) failingTable(tx *store.Tx) (*web.FailingNow, error) {
	now, err := failingSorted(tx)
	if err != nil {
		return nil, err
	}
	table := &web.FailingNow{Count: len(now), Feed: s.feedStatus(s.now()), AllURL: s.failingTargetsURL()}
	if len(now) > failingRows {
		now, table.More = now[:failingRows], len(now)-failingRows
	}
	last, err := tx.LastFailures(targetNames(now))
	if err != nil {
		return nil, err
	}
	logs := make(map[string]string, len(last))
	for target, f := range last {
		logs[target] = f.URL
	}
	rows := s.failingRowsOf(now, logs)
	contents, err := s.noteContents(tx, failureNotes(maps.Values(last)))
	if err != nil {
		return nil, err
	}
	for i := range rows {
		f := last[rows[i].Target]
		rows[i].Excerpt = web.FailureExcerpt(f.Msg, contents[f.Note], 3, 300)
	}
	table.Rows = fitFailingRows(rows, failingTableBudget)
	table.More += len(rows) - len(table.Rows)
	return table, nil
}

// fitFailingRows keeps the first of the profile's failing rows that fit
// budget bytes (at least one): each row's content (failingRowContent)
// and excerpt as the page writes them, and its markup.
func fitFailingRows(rows []web.FailingRow, budget int) []web.FailingRow {
	used := 0
	for i, r := range rows {
		if used += failingRowContent(r) + web.TextBytes(r.Excerpt) + failingTableRowMarkup; i > 0 && used > budget {
			return rows[:i]
		}
	}
	return rows
}

// noteContents returns the HTML of the local notes among iris, by IRI.
func (s *Server) noteContents(tx *store.Tx, iris []string) (map[string]string, error) {
	ids := map[string]string{} // public id: IRI
	for _, iri := range iris {
		if _, id, ok := s.site.ParseLocalNote(iri); ok {
			ids[id] = iri
		}
	}
	byID, err := tx.NoteContents(slices.Collect(maps.Keys(ids)))
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(byID))
	for id, content := range byID {
		out[ids[id]] = content
	}
	return out, nil
}

// notePageURL is the page of a local note given its IRI; "" for another.
func (s *Server) notePageURL(iri string) string {
	if user, id, ok := s.site.ParseLocalNote(iri); ok {
		return s.site.NoteURL(user, id)
	}
	return ""
}

// historyURL is t's build history page (--history-url-template), "" when
// none is configured.
func (s *Server) historyURL(t *store.FeedTarget) string {
	return s.cfg.feedConfig().Format.History(feed.Build{Board: t.Board, Config: t.Config})
}

// feedTarget loads the target named by the request's path, or fails with
// a not-found error.
func (s *Server) feedTarget(tx *store.Tx, name string) (*store.FeedTarget, error) {
	t, err := tx.FeedTarget(name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: no build target %q", activitypub.ErrNotFound, name)
	}
	return t, err
}

// handleTargetPage serves /targets/board:config: what the feed recorded of
// a target; and /targets/board:config.atom, its Atom feed, which echo
// routes here (urls.TargetFeed).
func (s *Server) handleTargetPage(c echo.Context) error {
	name, isFeed := strings.CutSuffix(c.Param("target"), urls.FeedSuffix)
	if isFeed {
		return s.handleTargetFeed(c, name)
	}
	a, err := s.svc.Actor(c.Request().Context(), s.cfg.Username)
	if err != nil {
		return err
	}
	u := s.site
	var data web.TargetPage
	err = s.view(c, func(tx *store.Tx) error {
		t, err := s.feedTarget(tx, name)
		if err != nil {
			return err
		}
		if data, err = s.targetHistoryView(tx, t, targetPageLists, tx.Now); err != nil {
			return err
		}
		data.Profile, err = s.profileView(tx, a)
		return err
	})
	if err != nil {
		return err
	}
	data.Page = s.page(data.Target+" builds", "Failures, recoveries and breaking commits of the NuttX build target "+data.Target, "", u.Target(data.Target))
	data.Page.Feed = data.FeedURL
	return s.renderPage(c, http.StatusOK, "target", data)
}

// historyLists bounds the lists of a target's history as a page shows
// them: items of each list, and the lines and bytes of each error excerpt.
type historyLists struct{ items, lines, bytes int }

// The history of a target on its page, and on its account's profile.
var (
	targetPageLists  = historyLists{items: targetListLimit, lines: 8, bytes: 800}
	accountPageLists = historyLists{items: 10, lines: 3, bytes: 300}
)

// targetHistoryView describes target t as of now with its history, as
// bounded by lists, failures with their excerpts; without the profile.
func (s *Server) targetHistoryView(tx *store.Tx, t *store.FeedTarget, lists historyLists, now time.Time) (web.TargetPage, error) {
	h, err := tx.TargetHistory(t.Target, lists.items)
	if err != nil {
		return web.TargetPage{}, err
	}
	v := s.targetView(t, h, web.ProfileView{}, now)
	contents, err := s.noteContents(tx, failureNotes(slices.Values(h.Failures)))
	for i, f := range h.Failures {
		v.Failures[i].Excerpt = web.FailureExcerpt(f.Msg, contents[f.Note], lists.lines, lists.bytes)
	}
	return v, err
}

// Bounds of what a board's or architecture's profile lists of its
// targets: rows, and their bytes (directoryRowCost), at least one.
const (
	accountTargetRows   = 50
	accountTargetBudget = 45_000
)

// feedAccountView describes what the feed account username follows, as
// of now: a target's state and latest history; a board's or an
// architecture's targets, failing first. nil for a name the catalog does
// not know (nothing to show). It only reads.
func (s *Server) feedAccountView(tx *store.Tx, username string, now time.Time) (*web.FeedAccountView, error) {
	fa, err := tx.FeedAccountNamed(username)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v := &web.FeedAccountView{Kind: fa.Kind, KindName: web.KindNames[fa.Kind], DirectoryURL: s.site.Failing()}
	switch fa.Kind {
	case store.KindTarget:
		v.Label = fa.Target
		t, err := tx.FeedTarget(fa.Target)
		if errors.Is(err, store.ErrNotFound) { // it never failed: no history, no page
			return v, nil
		}
		if err != nil {
			return nil, err
		}
		tv, err := s.targetHistoryView(tx, t, accountPageLists, now)
		v.Target, v.PageURL = &tv, s.site.Target(fa.Target)
		return v, err
	case store.KindBoard:
		v.Label = fa.Board
	default:
		v.Label = fa.Arch
	}
	of := store.DirectoryFilter{Of: fa.Username}
	v.TargetsURL = s.directoryURL(of, 1)
	rows, err := s.directoryRows(tx, of, now)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(rows, func(a, b web.DirectoryRow) int { return b.Failing - a.Failing }) // failing first, each in natural order
	v.Count = len(rows)
	for _, r := range rows {
		v.Failing += min(r.Failing, 1)
	}
	v.Targets = fitDirectoryRows(rows[:min(len(rows), accountTargetRows)], accountTargetBudget)
	v.More = v.Count - len(v.Targets)
	return v, nil
}

// fitDirectoryRows keeps the first rows that fit budget bytes
// (directoryRowCost), at least one.
func fitDirectoryRows(rows []web.DirectoryRow, budget int) []web.DirectoryRow {
	used := 0
	for i, r := range rows {
		if used += directoryRowCost(r); i > 0 && used > budget {
			return rows[:i]
		}
	}
	return rows
}

// shortHostNames is hosts with their names cut as pages show them
// (web.HostName).
func shortHostNames(hosts []store.TargetHost) []store.TargetHost {
	out := slices.Clone(hosts)
	for i := range out {
		out[i].User = web.HostName(out[i].User)
	}
	return out
}

// failureNotes lists the notes of the failures without a stored build
// message: their excerpt comes from the note (web.FailureExcerpt).
func failureNotes(fs iter.Seq[store.TargetFailure]) []string {
	var out []string
	for f := range fs {
		if f.Msg == "" {
			out = append(out, f.Note)
		}
	}
	return out
}

// targetView describes target t and its history h as of now, without the
// failures' excerpts.
func (s *Server) targetView(t *store.FeedTarget, h *store.TargetHistory, p web.ProfileView, now time.Time) web.TargetPage {
	v := web.TargetPage{
		Profile: p, Target: t.Target, Arch: t.Arch, Failing: t.Failing, Since: t.FailingSince, FailingHosts: web.ShownHosts(t.FailingUsers),
		ThreadURL: s.notePageURL(t.Thread), HistoryURL: s.historyURL(t), FeedURL: s.site.TargetFeed(t.Target),
		FailureCount: h.FailureCount, Hosts: shortHostNames(h.Hosts[:min(len(h.Hosts), targetPageHosts)]), Incidents: h.Incidents, FailedFor: h.FailedFor,
		MoreHosts: max(0, len(h.Hosts)-targetPageHosts),
	}
	if t.Failing { // the incident under way counts too
		v.Incidents++
		v.FailedFor += now.Sub(t.FailingSince)
	}
	for _, f := range h.Failures {
		v.Failures = append(v.Failures, web.FailureRow{Seen: f.Seen, User: web.HostName(f.User), Commits: web.CommitLinks(f.NuttxHash, f.AppsHash),
			Build: f.Build, LogURL: f.URL, NoteURL: s.notePageURL(f.Note)})
	}
	for _, r := range h.Recoveries {
		v.Recoveries = append(v.Recoveries, web.RecoveryRow{Seen: r.Seen, User: web.HostName(r.User), Commits: web.CommitLinks(r.NuttxHash, r.AppsHash),
			NoteURL: s.notePageURL(r.Note)})
	}
	for _, b := range h.Breaks {
		v.Breaks = append(v.Breaks, web.BreakRow{Seen: b.Seen, Bad: web.CommitLinks(b.BadNuttx, b.BadApps),
			Good: web.CommitLinks(b.GoodNuttx, b.GoodApps), NoteURL: s.notePageURL(b.Note)})
	}
	return v
}
