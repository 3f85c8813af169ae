package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
	"github.com/nuttx-feed/nuttx-feed/web"
)

// maxSearchBytes bounds the search text: the page shows it back, and a
// page stays small. Longer text is refused with 400, not cut, so that
// nobody reads results for a query they did not type.
const maxSearchBytes = 2048

// Searches are the costliest pages (a word in every post ranks every
// post): at most searchSlots run at once, so that the others (and the
// inbox) keep database readers, and a search that has not got a slot and
// finished within searchTimeout is answered 503.
const (
	searchSlots   = 2
	searchTimeout = 3 * time.Second
)

// errSearchBusy answers a search that found no slot, or ran out of time.
var errSearchBusy = echo.NewHTTPError(http.StatusServiceUnavailable, "Search is busy or took too long: try again in a moment, or add words to narrow it.")

// searchSlot waits for one of the searchSlots (until ctx ends:
// errSearchBusy) and returns what gives it back. The directory's pages
// take one too: each reads its whole selection.
func (s *Server) searchSlot(ctx context.Context) (release func(), err error) {
	select {
	case s.searches <- struct{}{}:
		return func() { <-s.searches }, nil
	case <-ctx.Done():
		return nil, errSearchBusy
	}
}

// handleSearchPage serves /search?q=[&page=N]: the notes whose text (or
// stored build error) holds every word of q, best first, 50 a page, with
// the matching words marked; without q, the form alone (it is in every
// page's header).
func (s *Server) handleSearchPage(c echo.Context) error {
	q := c.QueryParam("q")
	if len(q) > maxSearchBytes {
		return fmt.Errorf("%w: search text too long (%d bytes, at most %d)", activitypub.ErrInvalid, len(q), maxSearchBytes)
	}
	page := 1
	if p := c.QueryParam("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > store.MaxSearchPages {
			return fmt.Errorf("%w: page must be a number from 1 to %d", activitypub.ErrInvalid, store.MaxSearchPages)
		}
		page = n
	}
	a, err := s.svc.Actor(c.Request().Context(), s.cfg.Username)
	if err != nil {
		return err
	}
	u := s.site
	data := web.SearchPage{Max: store.MaxSearchResults, MaxWords: store.MaxSearchTerms, MaxTokens: store.MaxSearchTokens, Number: page}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.searchWait)
	defer cancel()
	if q != "" {
		release, err := s.searchSlot(ctx)
		if err != nil {
			return err
		}
		defer release()
	}
	err = s.store.View(ctx, func(tx *store.Tx) error {
		var err error
		if data.Profile, err = s.profileView(tx, a); err != nil {
			return err
		}
		if q == "" {
			return nil
		}
		found, err := tx.SearchNotes(q, page)
		data.Results = web.SearchResultViews(u, found.Results)
		data.Words, data.Cut, data.Newest = found.Words, found.Cut, found.Newest
		pageURL := func(n int) string {
			return u.URL(urls.Search) + "?" + url.Values{"q": {q}, "page": {strconv.Itoa(n)}}.Encode()
		}
		if found.More && page < store.MaxSearchPages {
			data.NextURL = pageURL(page + 1)
		}
		if page > 1 {
			data.PrevURL = pageURL(page - 1)
		}
		return err
	})
	if ctx.Err() != nil && c.Request().Context().Err() == nil { // our deadline, not the visitor leaving
		return errSearchBusy
	}
	if err != nil {
		return err
	}
	title := "Search"
	if q != "" {
		title = "Search: " + firstLine(q)
	}
	data.Page = s.page(title, "Search the posts of "+data.Profile.Handle, "", u.URL(urls.Search))
	data.Page.Query = q
	return s.renderPage(c, http.StatusOK, "search", data)
}
