package server

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// GET /api/v2/search: what the server knows, never fetched from elsewhere
// (resolve is ignored: a search does not make this server call others).

// Page bounds of a search: Mastodon's limit (20, at most 40), and an
// offset within the full-text search's pages.
const (
	apiSearchLimit, apiSearchMax = 20, 40
	apiSearchMaxOffset           = store.MaxSearchResults*store.MaxSearchPages - 1
)

// apiSearchResults is a Mastodon Search.
type apiSearchResults struct {
	Accounts []apiAccount   `json:"accounts"`
	Statuses []*apiStatus   `json:"statuses"`
	Hashtags []apiTagEntity `json:"hashtags"`
}

// apiSearchQuery is what a search asks for.
type apiSearchQuery struct {
	q             string
	kind          string // accounts, statuses, hashtags, or "" for all
	limit, offset int
	words         bool // a full-text search of statuses is allowed (a token with read:search)
}

// handleAPISearch is GET /api/v2/search?q=: our accounts by username or
// handle, and a remote account by its handle when known; our statuses by
// URL or id, or by the full-text search when q is words and the request
// has a token (with read or read:search); the hashtag q when public posts
// have it. type= picks one kind; limit (20, at most 40) and offset bound
// each list.
func (s *Server) handleAPISearch(c echo.Context) error {
	sq, err := apiSearchQueryOf(c)
	if err != nil {
		return apiRequestError(c, err)
	}
	return apiRead(s, c, func(tx *store.Tx) (apiSearchResults, error) { return s.apiSearch(tx, sq) })
}

// apiSearchQueryOf reads a search's parameters; a bad type, limit or offset
// is errMalformed.
func apiSearchQueryOf(c echo.Context) (apiSearchQuery, error) {
	sq := apiSearchQuery{q: strings.TrimSpace(c.QueryParam("q")), kind: c.QueryParam("type"), limit: apiSearchLimit, words: c.Get(apiTokenKey) != nil}
	switch sq.kind {
	case "", "accounts", "statuses", "hashtags":
	default:
		return sq, fmt.Errorf("%w: "+"type must be accounts, statuses or hashtags, not %q", errMalformed, sq.kind)
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return sq, fmt.Errorf("%w: "+"limit must be a number from 1 to %d", errMalformed, apiSearchMax)
		}
		sq.limit = min(n, apiSearchMax)
	}
	if v := c.QueryParam("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > apiSearchMaxOffset {
			return sq, fmt.Errorf("%w: "+"offset must be a number from 0 to %d", errMalformed, apiSearchMaxOffset)
		}
		sq.offset = n
	}
	return sq, nil
}

// apiSearch finds what sq asks for.
func (s *Server) apiSearch(tx *store.Tx, sq apiSearchQuery) (apiSearchResults, error) {
	out := apiSearchResults{Accounts: []apiAccount{}, Statuses: []*apiStatus{}, Hashtags: []apiTagEntity{}}
	if sq.q == "" {
		return out, nil
	}
	var err error
	if sq.kind == "" || sq.kind == "accounts" {
		if out.Accounts, err = s.apiSearchAccounts(tx, sq); err != nil {
			return out, err
		}
	}
	if sq.kind == "" || sq.kind == "statuses" {
		if out.Statuses, err = s.apiSearchStatuses(tx, sq); err != nil {
			return out, err
		}
	}
	if sq.kind == "" || sq.kind == "hashtags" {
		if out.Hashtags, err = s.apiSearchHashtags(tx, sq); err != nil {
			return out, err
		}
	}
	return out, nil
}

// apiSearchAccounts finds the account q names: one of ours by its
// username, handle or actor URL, or a remote one by its handle (as its
// replies or our mentions of it showed it). At most one: past offset 0,
// none.
func (s *Server) apiSearchAccounts(tx *store.Tx, sq apiSearchQuery) ([]apiAccount, error) {
	if sq.offset > 0 {
		return []apiAccount{}, nil
	}
	user, host, remote := strings.Cut(strings.TrimPrefix(sq.q, "@"), "@")
	if username, ok := s.site.ParseLocalActor(sq.q); ok {
		user, remote = username, false
	} else if r, v, ok := s.site.Parse(sq.q); ok && r == urls.Profile {
		user, remote = v[0], false
	}
	if remote && !strings.EqualFold(host, s.site.Host()) && !strings.EqualFold(host, s.site.Hostname()) {
		a, err := tx.RemoteAccountByHandle("@" + user + "@" + host)
		return found(err, func() apiAccount { return s.apiRemoteAccount(a) })
	}
	a, err := tx.Actor(user)
	if err != nil {
		return found(err, func() apiAccount { return apiAccount{} })
	}
	account, err := s.apiAccountOf(tx, a)
	return found(err, func() apiAccount { return account })
}

// found returns the one result make makes when err is nil, none when err
// is store.ErrNotFound, and err otherwise.
func found[T any](err error, make func() T) ([]T, error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return []T{}, nil
	case err != nil:
		return nil, err
	}
	return []T{make()}, nil
}

// apiSearchStatuses finds our status whose URL, IRI or id q is, or else,
// when allowed, the public statuses the full-text search finds for q (the
// page of offset, limit of them).
func (s *Server) apiSearchStatuses(tx *store.Tx, sq apiSearchQuery) ([]*apiStatus, error) {
	id := sq.q
	if _, local, ok := s.site.ParseLocalNote(sq.q); ok {
		id = local
	}
	n, err := tx.NoteByPublicID(id)
	if err == nil && n.Deleted.IsZero() {
		if sq.offset > 0 {
			return []*apiStatus{}, nil
		}
		st, err := s.apiStatusOf(tx, n)
		return []*apiStatus{st}, err
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	out := []*apiStatus{}
	if !sq.words || strings.Contains(sq.q, "://") {
		return out, nil
	}
	res, err := tx.SearchNotes(sq.q, sq.offset/store.MaxSearchResults+1)
	if err != nil {
		return nil, err
	}
	for _, r := range res.Results[min(len(res.Results), sq.offset%store.MaxSearchResults):] {
		if len(out) == sq.limit {
			break
		}
		st, err := s.apiStatusOf(tx, r.Note)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// apiSearchHashtags finds the hashtag q (with or without '#') when public
// posts have it.
func (s *Server) apiSearchHashtags(tx *store.Tx, sq apiSearchQuery) ([]apiTagEntity, error) {
	name := strings.ToLower(strings.TrimPrefix(sq.q, "#"))
	if sq.offset > 0 || !isHashtag(name) {
		return []apiTagEntity{}, nil
	}
	page, err := tx.Notes(store.NoteFilter{PublicOnly: true, Tag: name}, store.Page{Limit: 1})
	if err != nil || len(page.Notes) == 0 {
		return []apiTagEntity{}, err
	}
	return []apiTagEntity{s.apiTagEntity(name)}, nil
}
