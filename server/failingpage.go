package server

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/natsort"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/web"
)

// A page of /targets lists at most failingPageRows targets, fewer when
// their rows (without error excerpts: each target's page has them) would
// pass failingPageBudget bytes, so that a page stays well under 100 KB
// however long the names and links (TestFailingPageWorstCase).
const (
	failingPageRows   = 100
	failingPageBudget = 80_000
	failingRowMarkup  = 500 // a row's bytes beyond its names and links, an upper bound
)

// handleFailingPage serves /targets?page=N: every target failing now, a
// hundred a page, in natural order (board2 before board10) as the
// profile's table lists them: its first rows are the profile's, and a
// board's configs stay together. Each row links the target's page, which
// has its errors.
func (s *Server) handleFailingPage(c echo.Context) error {
	num, err := parsePageNumber(c.QueryParam("page"))
	if err != nil {
		return err
	}
	a, err := s.svc.Actor(c.Request().Context(), s.cfg.Username)
	if err != nil {
		return err
	}
	data := web.FailingPage{PageNum: num, Status: s.feedStatus(s.now())}
	err = s.view(c, func(tx *store.Tx) error {
		if data.Profile, err = s.profileView(tx, a); err != nil {
			return err
		}
		targets, err := failingSorted(tx)
		if err != nil {
			return err
		}
		logs, err := tx.LastFailureURLs(targetNames(targets))
		if err != nil {
			return err
		}
		rows := s.failingRowsOf(targets, logs)
		starts := failingPages(rows)
		data.Now, data.Count, data.PageLast = tx.Now, len(rows), len(starts)
		if num > len(starts) {
			return fmt.Errorf("%w: no page %d of failing targets: %d fail, on %d pages", activitypub.ErrNotFound, num, len(rows), len(starts))
		}
		end := len(rows)
		if num < len(starts) {
			end = starts[num]
		}
		data.Rows, data.First = rows[starts[num-1]:end], starts[num-1]+1
		return nil
	})
	if err != nil {
		return err
	}
	data.PrevURL, data.NextURL = s.failingPageURL(num-1, data.PageLast), s.failingPageURL(num+1, data.PageLast)
	data.Page = s.page(fmt.Sprintf("Failing now (%d)", data.Count), "The NuttX build targets failing now, with their build hosts and links to their logs, history and threads",
		"", s.failingPageURL(num, data.PageLast))
	data.Page.Image = data.Profile.AvatarURL
	data.Page.Feed = s.site.ProfileFeed(s.cfg.Username) // the bot's posts: its failures and recoveries
	return s.renderPage(c, http.StatusOK, "failing", data)
}

// failingPages splits rows into the pages of /targets, in order, and
// returns where each page starts: at most failingPageRows rows a page and,
// past the first row, at most failingPageBudget bytes. There is always
// one page, empty when rows is.
func failingPages(rows []web.FailingRow) []int {
	starts := []int{0}
	n, cost := 0, 0
	for i, r := range rows {
		c := failingRowCost(r)
		if n > 0 && (n == failingPageRows || cost+c > failingPageBudget) {
			starts, n, cost = append(starts, i), 0, 0
		}
		n, cost = n+1, cost+c
	}
	return starts
}

// failingRowCost is an upper bound of the bytes of r's row on /targets:
// its content and the markup.
func failingRowCost(r web.FailingRow) int { return failingRowMarkup + failingRowContent(r) }

// failingRowContent is an upper bound of the bytes of r's target (twice),
// arch, hosts and links as a page writes them, without markup.
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

// failingPageURL is the URL of page n of /targets, "" when there is no
// such page (before the first or after last).
func (s *Server) failingPageURL(n, last int) string {
	switch {
	case n < 1 || n > last:
		return ""
	case n == 1:
		return s.site.Failing()
	}
	return s.site.Failing() + "?page=" + strconv.Itoa(n)
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

// failingRowsOf describes failing targets as rows, without excerpts, with
// the build log of each one's latest failure (logs, by target).
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
