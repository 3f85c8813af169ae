package activitypub

import (
	"context"
	"fmt"
	"strconv"
)

// PageSize is the number of items on a collection page (Mastodon's too).
const PageSize = 20

// PageRequest describes a collection request, from its query string.
type PageRequest struct {
	Page   bool  // a page was asked for (?page=...); else the collection itself
	Number int   // ?page=N for numbered collections (followers); 1 for "true"
	MaxID  int64 // ?max_id: outbox items older than this
	MinID  int64 // ?min_id: outbox items newer than this
	HasMin bool  // min_id was given (min_id=0 is the last page)
}

// ParsePageRequest reads page, max_id and min_id query values. It returns
// ErrInvalid for values that are not numbers.
func ParsePageRequest(page, maxID, minID string) (PageRequest, error) {
	var r PageRequest
	var err error
	if page != "" {
		r.Page, r.Number = true, 1
		if page != "true" {
			if r.Number, err = strconv.Atoi(page); err != nil || r.Number < 1 || r.Number > 1_000_000 {
				return r, fmt.Errorf("%w: page must be true or a positive number", ErrInvalid)
			}
		}
	}
	if maxID != "" {
		if r.MaxID, err = strconv.ParseInt(maxID, 10, 64); err != nil || r.MaxID < 0 {
			return r, fmt.Errorf("%w: max_id must be a number", ErrInvalid)
		}
	}
	if minID != "" {
		if r.MinID, err = strconv.ParseInt(minID, 10, 64); err != nil || r.MinID < 0 {
			return r, fmt.Errorf("%w: min_id must be a number", ErrInvalid)
		}
		r.HasMin = true
	}
	return r, nil
}

// OutboxDocument returns the outbox of username: an OrderedCollection of
// its Create activities, newest first, or one page of it (INTEROP L1).
func (s *Service) OutboxDocument(ctx context.Context, username string, r PageRequest) ([]byte, error) {
	a, err := s.Actor(ctx, username)
	if err != nil {
		return nil, err
	}
	id := s.urls.Outbox(a.Username)
	total, err := s.NoteCount(ctx, a.Username)
	if err != nil {
		return nil, err
	}
	if !r.Page {
		return marshal(orderedCollection(id, total, id+"?page=true", id+"?min_id=0&page=true")), nil
	}
	p := Page{Before: r.MaxID, Limit: PageSize + 1}
	pageID := id + "?page=true"
	switch {
	case r.HasMin:
		p = Page{After: r.MinID, Oldest: true, Limit: PageSize + 1}
		pageID = id + "?min_id=" + strconv.FormatInt(r.MinID, 10) + "&page=true"
	case r.MaxID > 0:
		pageID = id + "?max_id=" + strconv.FormatInt(r.MaxID, 10) + "&page=true"
	}
	notes, err := s.Notes(ctx, a.Username, p)
	if err != nil {
		return nil, err
	}
	// One extra note was fetched to learn whether another page follows in
	// the direction of travel; drop it from the page.
	more := len(notes) > PageSize
	if more && r.HasMin {
		notes = notes[1:] // ascending fetch: the extra one is the newest
	} else if more {
		notes = notes[:PageSize]
	}
	items := make([]any, len(notes))
	for i, n := range notes {
		items[i] = createObject(s.urls, n)
	}
	older, newer := more, r.MaxID > 0 // a max_id page has newer notes above it
	if r.HasMin {
		older, newer = r.MinID > 0, more
	}
	var next, prev string
	if len(notes) > 0 && older {
		next = id + "?max_id=" + strconv.FormatInt(notes[len(notes)-1].Seq, 10) + "&page=true"
	}
	if len(notes) > 0 && newer {
		prev = id + "?min_id=" + strconv.FormatInt(notes[0].Seq, 10) + "&page=true"
	}
	return marshal(orderedCollectionPage(pageID, id, total, items, next, prev)), nil
}

// FollowersDocument returns the followers collection of username, or page
// r.Number of it, listing follower ids oldest first (INTEROP L3).
func (s *Service) FollowersDocument(ctx context.Context, username string, r PageRequest) ([]byte, error) {
	a, err := s.Actor(ctx, username)
	if err != nil {
		return nil, err
	}
	id := s.urls.Followers(a.Username)
	total, err := s.FollowerCount(ctx, a.Username)
	if err != nil {
		return nil, err
	}
	if !r.Page {
		return marshal(orderedCollection(id, total, id+"?page=1", "")), nil
	}
	followers, err := s.Followers(ctx, a.Username, (r.Number-1)*PageSize, PageSize)
	if err != nil {
		return nil, err
	}
	items := make([]any, len(followers))
	for i, f := range followers {
		items[i] = f.IRI
	}
	var next, prev string
	if r.Number*PageSize < total {
		next = id + "?page=" + strconv.Itoa(r.Number+1)
	}
	if r.Number > 1 {
		prev = id + "?page=" + strconv.Itoa(r.Number-1)
	}
	return marshal(orderedCollectionPage(id+"?page="+strconv.Itoa(r.Number), id, total, items, next, prev)), nil
}

// FollowingDocument returns the (always empty) following collection: the
// bot follows no one.
func (s *Service) FollowingDocument(ctx context.Context, username string, r PageRequest) ([]byte, error) {
	a, err := s.Actor(ctx, username)
	if err != nil {
		return nil, err
	}
	id := s.urls.Following(a.Username)
	if !r.Page {
		return marshal(orderedCollection(id, 0, id+"?page=1", "")), nil
	}
	return marshal(orderedCollectionPage(id+"?page="+strconv.Itoa(r.Number), id, 0, nil, "", "")), nil
}

// FeaturedDocument returns the pinned-posts collection: an empty
// OrderedCollection until pinning exists (INTEROP L5).
func (s *Service) FeaturedDocument(ctx context.Context, username string) ([]byte, error) {
	a, err := s.Actor(ctx, username)
	if err != nil {
		return nil, err
	}
	m := orderedCollection(s.urls.Featured(a.Username), 0, "", "")
	m["orderedItems"] = []any{}
	return marshal(m), nil
}
