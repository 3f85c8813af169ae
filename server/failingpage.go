package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/handles"
	"github.com/nuttx-feed/nuttx-feed/internal/natsort"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
	"github.com/nuttx-feed/nuttx-feed/web"
)

// The directory (/targets): the accounts of architectures, boards and
// targets, searched and filtered on the server, a page at a time.

// A page of /targets lists at most directoryPageRows accounts, fewer when
// their rows would pass directoryPageBudget bytes, so that a page stays
// well under 100 KB however long the names and links
// (TestFailingPageWorstCase).
const (
	directoryPageRows   = 100
	directoryPageBudget = 80_000
	// directoryRowMarkup is a row's bytes beyond its names, numbers and
	// links, an upper bound (TestDirectoryRowCostBounds).
	directoryRowMarkup = 650
	// maxDirectorySearch bounds the words of a search, in characters.
	maxDirectorySearch = 100
)

// stateFailing is the value of ?state= that keeps what fails now.
const stateFailing = "failing"

// directoryQuery is a search of the directory as a request asks it: the
// store's filter and the page, from 1.
type directoryQuery struct {
	store.DirectoryFilter
	Page int
}

// parseDirectoryQuery reads ?q=, ?kind=, ?state=, ?of= and ?page=; a
// value it cannot take is refused (400) saying what it takes.
// q and of may be handles as the directory shows them to copy:
// "@rv-virt@nuttx-feed.org" asks for "rv-virt" (ourHandle).
func (s *Server) parseDirectoryQuery(c echo.Context) (directoryQuery, error) {
	var q directoryQuery
	q.Query = s.ourHandle(c.QueryParam("q"))
	if utf8.RuneCountInString(q.Query) > maxDirectorySearch {
		return q, fmt.Errorf("%w: q must be at most %d characters", activitypub.ErrInvalid, maxDirectorySearch)
	}
	switch q.Kind = c.QueryParam("kind"); q.Kind {
	case "", store.KindArch, store.KindBoard, store.KindTarget:
	default:
		return q, fmt.Errorf("%w: kind must be arch, board or target", activitypub.ErrInvalid)
	}
	switch state := c.QueryParam("state"); state {
	case "", stateFailing:
		q.Failing = state == stateFailing
	default:
		return q, fmt.Errorf("%w: state must be failing (or left out)", activitypub.ErrInvalid)
	}
	if q.Of = strings.ToLower(s.ourHandle(c.QueryParam("of"))); q.Of != "" && (!handles.Valid(q.Of) || !strings.HasPrefix(q.Of, "arch.") && strings.Contains(q.Of, ".")) {
		return q, fmt.Errorf("%w: of must be the handle of a board or an architecture", activitypub.ErrInvalid)
	}
	var err error
	q.Page, err = parsePageNumber(c.QueryParam("page"))
	return q, err
}

// ourHandle is v without spaces around it, a leading "@" and a trailing
// "@" and our host (with or without its port, any case): the username of
// a handle of ours, or v as it was otherwise.
func (s *Server) ourHandle(v string) string {
	v = strings.TrimPrefix(strings.TrimSpace(v), "@")
	for _, host := range []string{s.site.Host(), s.site.Hostname()} {
		if at := len(v) - len(host) - 1; at >= 0 && v[at] == '@' && strings.EqualFold(v[at+1:], host) {
			return v[:at]
		}
	}
	return v
}

// inDirectory reports whether path is the directory's or a target's
// page under it: their error pages lead back to the directory.
func inDirectory(path string) bool {
	dir := urls.Failing.Path()
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// directoryURL is the URL of page n of the directory searched as q asks.
func (s *Server) directoryURL(q store.DirectoryFilter, n int) string {
	v := url.Values{}
	for name, value := range map[string]string{"q": q.Query, "kind": q.Kind, "of": q.Of} {
		if value != "" {
			v.Set(name, value)
		}
	}
	if q.Failing {
		v.Set("state", stateFailing)
	}
	if n > 1 {
		v.Set("page", strconv.Itoa(n))
	}
	if len(v) == 0 {
		return s.site.Failing()
	}
	return s.site.Failing() + "?" + v.Encode()
}

// failingTargetsURL is the directory of the targets failing now.
func (s *Server) failingTargetsURL() string {
	return s.directoryURL(store.DirectoryFilter{Kind: store.KindTarget, Failing: true}, 1)
}

// handleDirectoryPage serves /targets: the page of the directory the
// query asks for. Each target's row links its page, which has its errors;
// a failing one's its latest build log, history and thread.
func (s *Server) handleDirectoryPage(c echo.Context) error {
	q, err := s.parseDirectoryQuery(c)
	if err != nil {
		return err
	}
	a, err := s.svc.Actor(c.Request().Context(), s.cfg.Username)
	if err != nil {
		return err
	}
	state := ""
	if q.Failing {
		state = stateFailing
	}
	data := web.DirectoryPage{PageNum: q.Page, Status: s.feedStatus(s.now()), Search: q.Query, Kind: q.Kind, Of: q.Of, FailingOnly: q.Failing,
		Kinds:  directoryChoices(q.Kind, "", "All kinds", store.KindArch, "Architectures", store.KindBoard, "Boards", store.KindTarget, "Targets"),
		States: directoryChoices(state, "", "Any state", stateFailing, "Failing now"),
		AllURL: s.site.Failing(), FormURL: urls.Failing.Path()}
	if q.Of != "" {
		data.OfHandle = "@" + s.site.Handle(q.Of)
	}
	// At most searchSlots directory pages and searches run at once (its
	// cost grows with the catalog); a page waits searchWait for a slot.
	wait, cancel := context.WithTimeout(c.Request().Context(), s.searchWait)
	defer cancel()
	release, err := s.searchSlot(wait)
	if err != nil {
		return err
	}
	defer release()
	err = s.view(c, func(tx *store.Tx) error {
		if err := s.checkDirectoryOf(tx, q.Of); err != nil {
			return err
		}
		if data.Profile, err = s.profileView(tx, a); err != nil {
			return err
		}
		rows, err := s.directoryRows(tx, q.DirectoryFilter, tx.Now)
		if err != nil {
			return err
		}
		starts := directoryPages(rows)
		data.Count, data.PageLast = len(rows), len(starts)
		if q.Page > len(starts) {
			return fmt.Errorf("%w: no page %d of the directory: %d %s found, on %d %s", activitypub.ErrNotFound, q.Page,
				len(rows), web.Plural(len(rows), "account", "accounts"), len(starts), web.Plural(len(starts), "page", "pages"))
		}
		end := len(rows)
		if q.Page < len(starts) {
			end = starts[q.Page]
		}
		data.Rows, data.First = rows[starts[q.Page-1]:end], starts[q.Page-1]+1
		return nil
	})
	if err != nil {
		return err
	}
	if q.Page > 1 {
		data.PrevURL = s.directoryURL(q.DirectoryFilter, q.Page-1)
	}
	if q.Page < data.PageLast {
		data.NextURL = s.directoryURL(q.DirectoryFilter, q.Page+1)
	}
	data.Page = s.page(data.Heading()+" in the directory of NuttX architectures, boards and targets",
		"Follow only what you care about: every NuttX architecture, board and board:config target is an account of its own, with its build state",
		"", s.directoryURL(q.DirectoryFilter, q.Page))
	data.Page.Image = data.Profile.AvatarURL
	data.Page.Feed = s.site.ProfileFeed(s.cfg.Username) // the bot's posts: its failures and recoveries
	return s.renderPage(c, http.StatusOK, "directory", data)
}

// checkDirectoryOf refuses (404) of, the handle of a board or an
// architecture whose targets alone are asked for, when it names no such
// account; "" asks for no such restriction.
func (s *Server) checkDirectoryOf(tx *store.Tx, of string) error {
	if of == "" {
		return nil
	}
	fa, err := tx.FeedAccountNamed(of)
	if errors.Is(err, store.ErrNotFound) || err == nil && fa.Kind == store.KindTarget {
		return fmt.Errorf("%w: no board or architecture has the handle @%s: see the whole directory", activitypub.ErrNotFound, s.site.Handle(of))
	}
	return err
}

// directoryChoices makes a select's options from value, label pairs,
// selecting the one whose value is asked.
func directoryChoices(asked string, pairs ...string) []web.DirectoryChoice {
	var out []web.DirectoryChoice
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, web.DirectoryChoice{Value: pairs[i], Label: pairs[i+1], Selected: pairs[i] == asked})
	}
	return out
}

// kindRank orders the directory: architectures, then boards, then targets.
var kindRank = map[string]int{store.KindArch: 0, store.KindBoard: 1, store.KindTarget: 2}

// directoryRows reads the entries f selects, in the directory's order
// (kindRank, then natural order of their labels: board2 before board10),
// as rows of a page as of now: two statements, the entries and the
// build logs of the failing targets among them.
func (s *Server) directoryRows(tx *store.Tx, f store.DirectoryFilter, now time.Time) ([]web.DirectoryRow, error) {
	entries, err := tx.Directory(f)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b store.DirectoryEntry) int {
		return cmp.Or(cmp.Compare(kindRank[a.Kind], kindRank[b.Kind]), natsort.Compare(a.Label, b.Label), strings.Compare(a.Handle, b.Handle))
	})
	var failing []string
	for _, e := range entries {
		if e.Kind == store.KindTarget && e.Failing > 0 {
			failing = append(failing, e.Label)
		}
	}
	logs, err := tx.LastFailureURLs(failing)
	if err != nil {
		return nil, err
	}
	operators, err := tx.Usernames() // the bot's name is not a board's
	if err != nil {
		return nil, err
	}
	rows := make([]web.DirectoryRow, len(entries))
	for i, e := range entries {
		rows[i] = s.directoryRow(e, logs[e.Label], now, slices.Contains(operators, e.Handle))
	}
	return rows, nil
}

// directoryRow describes entry e as of now, its latest build log logURL
// when it is a failing target. An entry whose handle names no account
// (too long, or taken by an account of the operator: taken) shows no
// handle and links no profile.
func (s *Server) directoryRow(e store.DirectoryEntry, logURL string, now time.Time, taken bool) web.DirectoryRow {
	r := web.DirectoryRow{Kind: e.Kind, KindName: web.KindNames[e.Kind], Label: e.Label, Arch: e.Arch, Followers: e.Followers,
		Targets: e.Targets, Failing: e.Failing, Since: e.Since, Hosts: web.ShownHosts(e.Hosts)}
	if handles.Valid(e.Handle) && !taken {
		r.Handle, r.ProfileURL = "@"+s.site.Handle(e.Handle), s.site.Profile(e.Handle)
	}
	if e.Kind != store.KindTarget {
		if r.Handle != "" {
			r.TargetsURL = s.directoryURL(store.DirectoryFilter{Of: e.Handle}, 1)
		}
		return r
	}
	board, config, _ := strings.Cut(e.Label, ":")
	r.HistoryURL = s.historyURL(&store.FeedTarget{Board: board, Config: config})
	if e.Thread != "" {
		r.PageURL, r.ThreadURL = s.site.Target(e.Label), s.notePageURL(e.Thread)
	}
	if e.Failing > 0 {
		r.LogURL, r.FailingFor = logURL, web.HumanDuration(now.Sub(e.Since))
	}
	return r
}

// directoryPages splits rows into the pages of /targets, in order, and
// returns where each page starts: at most directoryPageRows rows a page
// and, past the first row, at most directoryPageBudget bytes. There is
// always one page, empty when rows is.
func directoryPages(rows []web.DirectoryRow) []int {
	starts := []int{0}
	n, cost := 0, 0
	for i, r := range rows {
		c := directoryRowCost(r)
		if n > 0 && (n == directoryPageRows || cost+c > directoryPageBudget) {
			starts, n, cost = append(starts, i), 0, 0
		}
		n, cost = n+1, cost+c
	}
	return starts
}

// directoryRowCost is an upper bound of the bytes of r's row as a page
// writes it: its texts, its links and the markup.
func directoryRowCost(r web.DirectoryRow) int {
	cost := directoryRowMarkup + web.TextBytes(r.Label) + web.TextBytes(r.Arch) + len(web.BreakableHandle(r.Handle)) + web.TextBytes(r.FailingFor)
	for _, u := range []string{r.ProfileURL, r.PageURL, r.TargetsURL, r.LogURL, r.HistoryURL, r.ThreadURL} {
		cost += web.URLBytes(u)
	}
	for _, h := range r.Hosts {
		cost += web.TextBytes(h) + 2
	}
	return cost
}

// failingRowContent is an upper bound of the bytes of r's target (twice),
// arch, hosts and links as the profile's failing table writes them,
// without markup.
func failingRowContent(r web.FailingRow) int {
	cost := 2*web.TextBytes(r.Target) + web.TextBytes(r.Arch)
	for _, u := range []string{r.PageURL, r.LogURL, r.HistoryURL, r.ThreadURL} {
		cost += web.URLBytes(u)
	}
	for _, h := range r.Hosts {
		cost += web.TextBytes(h) + 2
	}
	return cost
}

// parsePageNumber reads ?page=N, 1 when absent.
func parsePageNumber(v string) (int, error) {
	if v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%w: page must be a number from 1", activitypub.ErrInvalid)
	}
	return n, nil
}

// failingSorted returns the targets failing now in natural order (board2
// before board10).
func failingSorted(tx *store.Tx) ([]*store.FeedTarget, error) {
	now, err := tx.FailingNow()
	if err != nil {
		return nil, err
	}
	slices.SortFunc(now, func(a, b *store.FeedTarget) int { return natsort.Compare(a.Target, b.Target) })
	return now, nil
}

// targetNames lists the names of targets.
func targetNames(targets []*store.FeedTarget) []string {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Target
	}
	return names
}

// failingRowsOf describes failing targets as rows of the profile's table,
// without excerpts, with the build log of each one's latest failure
// (logs, by target).
func (s *Server) failingRowsOf(targets []*store.FeedTarget, logs map[string]string) []web.FailingRow {
	rows := make([]web.FailingRow, len(targets))
	for i, t := range targets {
		rows[i] = web.FailingRow{
			Target: t.Target, Arch: t.Arch, Since: t.FailingSince, Hosts: web.ShownHosts(t.FailingUsers),
			PageURL:    s.site.Target(t.Target),
			LogURL:     logs[t.Target],
			HistoryURL: s.historyURL(t),
			ThreadURL:  s.notePageURL(t.Thread),
		}
	}
	return rows
}

// feedStatus is what the server knows of the build feed as of now:
// whether it runs, its last successful poll in this process (the time is
// not stored: after a restart it counts from the start), and whether that
// is longer ago than the feed allows (feed.Feed.StaleAfter, as /health).
func (s *Server) feedStatus(now time.Time) web.FeedStatus {
	last := s.feed.LastSuccess()
	since := last
	if since.IsZero() {
		since = s.started
	}
	return web.FeedStatus{Enabled: s.feed.Enabled(), LastPoll: last, Started: s.started,
		Stale: now.Sub(since) > s.feed.StaleAfter()}
}
