package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// The API's lists page as Mastodon's do: ?limit=N, ?max_id= (older than),
// ?since_id= (newer than, the newest of them) and ?min_id= (newer than,
// the oldest of them), newest first, and a Link header with rel="next"
// (max_id of the last item) when the page is full and rel="prev" (min_id
// of the first) when it is not empty, carrying the request's filters.
//
// A cursor is an id the list handed out: a status id (a note's public id,
// which does not sort, so it is looked up and the list pages on the note's
// row), a notification id or a follow's number (both numbers that sort).
// A status id that names no note is placed by its time when it has the
// form of a note id (apiStatusCursor); any other cursor that names nothing
// is a 400 saying which ids work.

// apiListQuery is what a list request asks for: its cursors and limit,
// and the parameters its Link header carries on.
type apiListQuery struct {
	maxID, sinceID, minID string
	limit                 int
	keep                  url.Values
}

// apiList reads a list request's paging: its limit (def when absent, 0 or
// not a number; else its absolute value, at most most, as Mastodon's
// limit_param) and cursors; keep names the other parameters the Link
// header carries on (limit always).
func apiList(c echo.Context, def, most int, keep ...string) apiListQuery {
	q := apiListQuery{maxID: c.QueryParam("max_id"), sinceID: c.QueryParam("since_id"), minID: c.QueryParam("min_id"), limit: def, keep: url.Values{}}
	params := c.QueryParams()
	for _, k := range append(keep, "limit") {
		if v, ok := params[k]; ok {
			q.keep[k] = v
		}
	}
	if n, err := strconv.Atoi(c.QueryParam("limit")); err == nil {
		if n < 0 {
			n = -n // the smallest int stays negative: the default
		}
		if n > 0 {
			q.limit = min(n, most)
		}
	}
	return q
}

// page resolves the cursors with resolve, which returns an id's row
// number.
func (q apiListQuery) page(resolve func(id string) (int64, error)) (store.Page, error) {
	return q.pageBy(func(_, id string) (int64, error) { return resolve(id) })
}

// pageBy resolves the cursors with resolve, which returns the row number
// of the cursor (max_id, since_id or min_id) id.
func (q apiListQuery) pageBy(resolve func(cursor, id string) (int64, error)) (store.Page, error) {
	p := store.Page{Limit: q.limit}
	for _, c := range []struct {
		name, id string
		to       *int64
	}{{"max_id", q.maxID, &p.MaxID}, {"since_id", q.sinceID, &p.SinceID}, {"min_id", q.minID, &p.MinID}} {
		if c.id == "" {
			continue
		}
		n, err := resolve(c.name, c.id)
		if err != nil {
			return p, fmt.Errorf("%w: %s: %v", errMalformed, c.name, err)
		}
		*c.to = n
	}
	return p, nil
}

// apiNumber resolves a cursor that is a number (a notification's id, a
// follow's number).
func apiNumber(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not an id of this list", id)
	}
	return n, nil
}

// apiStatusCursor resolves a status id to its note's row: any local note,
// deleted or not, so that a client paging past a deleted status goes on.
// An id that names no note but has the form of a note id (32 hex digits,
// the first 12 its time in Unix milliseconds, as activitypub makes them) is
// placed by its time, as Mastodon pages on any id: max_id lists the
// notes published before it, since_id and min_id those after. Any other
// is refused, saying which ids work.
func apiStatusCursor(tx *store.Tx) func(cursor, id string) (int64, error) {
	return func(cursor, id string) (int64, error) {
		n, err := tx.NoteByPublicID(id)
		if err == nil {
			return n.Seq, nil
		}
		at, ok := noteIDTime(id)
		if !ok {
			return 0, fmt.Errorf("no status %q: use the id of a status this list gave, or a 32-hex-digit id whose first 12 digits are a time in Unix milliseconds", id)
		}
		before, after, err := tx.NoteSeqsAround(at)
		if cursor == "max_id" {
			return before, err
		}
		return after, err
	}
}

// noteIDTime returns the time a note id of 32 lower-case hex digits
// carries in its first 12, and whether id is one.
func noteIDTime(id string) (time.Time, bool) {
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return time.Time{}, false
	}
	msec, err := strconv.ParseInt(id[:12], 16, 64)
	return time.UnixMilli(msec).UTC(), err == nil
}

// setLink sets the Link header of a list of count items whose first and
// last ids are first and last, as Mastodon builds it: the request's URL
// with the carried parameters and max_id (next) or min_id (prev).
func (s *Server) setLink(c echo.Context, q apiListQuery, count int, first, last string) {
	var links []string
	link := func(cursor, id, rel string) {
		v := url.Values{}
		for k, vs := range q.keep {
			v[k] = vs
		}
		v.Set(cursor, id)
		links = append(links, fmt.Sprintf(`<%s%s?%s>; rel="%s"`, s.site.Base(), c.Request().URL.EscapedPath(), v.Encode(), rel))
	}
	if count > 0 && count == q.limit {
		link("max_id", last, "next")
	}
	if count > 0 {
		link("min_id", first, "prev")
	}
	if len(links) > 0 {
		c.Response().Header().Set("Link", strings.Join(links, ", "))
	}
}

// apiBool reads a boolean parameter as Rails does: anything but absent,
// "", "0", "f", "false", "off" (any case) is true.
func apiBool(v string) bool {
	switch strings.ToLower(v) {
	case "", "0", "f", "false", "off":
		return false
	}
	return true
}

// apiReadError answers a read that cannot be done: 404 {"error": "Record
// not found"} for a missing record (store.ErrNotFound), 400 for a bad
// parameter; other errors go to the server's error handler.
func apiReadError(c echo.Context, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apiError(c, http.StatusNotFound, apiErrNotFound)
	}
	return apiRequestError(c, err)
}

// apiRead answers with what read returns from the database, or with
// apiReadError.
func apiRead[T any](s *Server, c echo.Context, read func(tx *store.Tx) (T, error)) error {
	var out T
	err := s.store.View(c.Request().Context(), func(tx *store.Tx) (err error) {
		out, err = read(tx)
		return err
	})
	if err != nil {
		return apiReadError(c, err)
	}
	return c.JSON(http.StatusOK, out)
}
