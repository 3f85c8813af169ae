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

// failingPageRows is how many targets a page of /targets lists. Its rows
// carry no error excerpt, so that a page of the longest names and links
// stays under 100 KB (TestFailingPageWorstCase).
const failingPageRows = 100

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
	data := web.FailingPage{PageNum: num, Feed: s.feedStatus(s.now())}
	err = s.view(c, func(tx *store.Tx) error {
		if data.Profile, err = s.profileView(tx, a); err != nil {
			return err
		}
		targets, err := failingSorted(tx)
		if err != nil {
			return err
		}
		data.Now, data.Count = tx.Now, len(targets)
		data.PageLast = max(1, (len(targets)+failingPageRows-1)/failingPageRows)
		if num > data.PageLast {
			return fmt.Errorf("%w: no page %d of failing targets: %d fail, on %d pages", activitypub.ErrNotFound, num, len(targets), data.PageLast)
		}
		start := (num - 1) * failingPageRows
		targets = targets[start:min(start+failingPageRows, len(targets))]
		data.First = start + 1
		data.Rows, _, err = s.failingRowsOf(tx, targets)
		return err
	})
	if err != nil {
		return err
	}
	data.PrevURL, data.NextURL = s.failingPageURL(num-1, data.PageLast), s.failingPageURL(num+1, data.PageLast)
	title := fmt.Sprintf("Failing now (%d)", data.Count)
	canonical := s.failingPageURL(num, data.PageLast)
	data.Page = s.page(title, "The NuttX build targets failing now, with their build hosts and links to their logs, history and threads", "", canonical)
	data.Page.Image = data.Profile.AvatarURL
	return s.renderPage(c, http.StatusOK, "failing", data)
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

// failingRowsOf describes failing targets as rows, without excerpts, and
// returns the latest failure of each, by target, for those who want them.
func (s *Server) failingRowsOf(tx *store.Tx, targets []*store.FeedTarget) ([]web.FailingRow, map[string]store.TargetFailure, error) {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Target
	}
	last, err := tx.LastFailures(names)
	if err != nil {
		return nil, nil, err
	}
	rows := make([]web.FailingRow, len(targets))
	for i, t := range targets {
		rows[i] = web.FailingRow{
			Target: t.Target, Arch: t.Arch, Since: t.FailingSince, Hosts: t.FailingUsers,
			PageURL:    s.site.Target(t.Target),
			LogURL:     last[t.Target].URL,
			HistoryURL: s.historyURL(t),
			ThreadURL:  s.notePageURL(t.Thread),
		}
	}
	return rows, last, nil
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
