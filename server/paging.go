package server

import (
	"fmt"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// Lists of notes page with Mastodon's cursors, the one dialect of the
// outbox, the web pages and the API to come: ?max_id=N (older than N) and
// ?min_id=N (newer than N, the oldest of them; min_id=0 is the oldest page).

// parsePage reads max_id and min_id; a value that is not a number is
// refused (400).
func parsePage(c echo.Context) (store.Page, error) {
	var p store.Page
	if v := c.QueryParam("max_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return p, fmt.Errorf("%w: max_id must be a number", activitypub.ErrInvalid)
		}
		p.MaxID = n
	}
	if v := c.QueryParam("min_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return p, fmt.Errorf("%w: min_id must be a number", activitypub.ErrInvalid)
		}
		p.MinID, p.FromOldest = n, true
	}
	return p, nil
}

// pageLinks returns the links to the pages older and newer than p, under
// base ("" where there is none).
func pageLinks(base string, p store.NotePage) (older, newer string) {
	if p.Older {
		older = base + "?max_id=" + strconv.FormatInt(p.Notes[len(p.Notes)-1].Seq, 10)
	}
	if p.Newer {
		newer = base + "?min_id=" + strconv.FormatInt(p.Notes[0].Seq, 10)
	}
	return older, newer
}
