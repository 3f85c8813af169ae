package activitypub

import (
	"strconv"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// Collections are served as a front page (the size and links to the first
// and last pages) and pages (docs/FEDERATION.md, "Collections"). These
// functions render what the caller read from the store.

// OutboxDocument is the front page of username's outbox: total Creates.
func OutboxDocument(u urls.Site, username string, total int) []byte {
	id := u.Outbox(username)
	return marshal(orderedCollection(id, total, id+"?page=true", id+"?min_id=0&page=true"))
}

// OutboxPageDocument is one page of username's outbox, newest first: the
// Create of each note of p, which the store read for the cursor asked.
func OutboxPageDocument(u urls.Site, username string, total int, asked store.Page, p store.NotePage) []byte {
	id := u.Outbox(username)
	pageID := id + "?page=true"
	switch {
	case asked.MinID > 0 || asked.FromOldest:
		pageID = id + "?min_id=" + strconv.FormatInt(asked.MinID, 10) + "&page=true"
	case asked.MaxID > 0:
		pageID = id + "?max_id=" + strconv.FormatInt(asked.MaxID, 10) + "&page=true"
	}
	items := make([]any, len(p.Notes))
	for i, n := range p.Notes {
		items[i] = createObject(u, n)
	}
	var next, prev string
	if p.Older {
		next = id + "?max_id=" + strconv.FormatInt(p.Notes[len(p.Notes)-1].Seq, 10) + "&page=true"
	}
	if p.Newer {
		prev = id + "?min_id=" + strconv.FormatInt(p.Notes[0].Seq, 10) + "&page=true"
	}
	return marshal(orderedCollectionPage(pageID, id, total, items, next, prev))
}

// FollowersDocument is the front page of username's followers.
func FollowersDocument(u urls.Site, username string, total int) []byte {
	id := u.Followers(username)
	return marshal(orderedCollection(id, total, id+"?page=1", ""))
}

// FollowersPageDocument is page number (from 1) of username's followers,
// listing their ids oldest first; store.PageSize to a page.
func FollowersPageDocument(u urls.Site, username string, total, number int, followers []store.Follower) []byte {
	id := u.Followers(username)
	items := make([]any, len(followers))
	for i, f := range followers {
		items[i] = f.IRI
	}
	return numberedPage(id, total, number, items)
}

// numberedPage is page number (from 1) of the collection id, numbered by
// ?page=N with store.PageSize items to a page.
func numberedPage(id string, total, number int, items []any) []byte {
	var next, prev string
	if number*store.PageSize < total {
		next = id + "?page=" + strconv.Itoa(number+1)
	}
	if number > 1 {
		prev = id + "?page=" + strconv.Itoa(number-1)
	}
	return marshal(orderedCollectionPage(id+"?page="+strconv.Itoa(number), id, total, items, next, prev))
}

// FollowingDocument is the (always empty) following collection, or page
// number of it (number 0 for the front page): the bot follows no one.
func FollowingDocument(u urls.Site, username string, number int) []byte {
	id := u.Following(username)
	if number == 0 {
		return marshal(orderedCollection(id, 0, id+"?page=1", ""))
	}
	return marshal(orderedCollectionPage(id+"?page="+strconv.Itoa(number), id, 0, nil, "", ""))
}

// RepliesIRI is the id of note n's replies collection.
func RepliesIRI(u urls.Site, n *store.Note) string { return u.Replies(n.Username, n.PublicID) }

// RepliesDocument is the front page of note n's replies collection: total
// replies, the count its thread page shows (store.ThreadReplyTotal).
func RepliesDocument(u urls.Site, n *store.Note, total int) []byte {
	id := RepliesIRI(u, n)
	return marshal(orderedCollection(id, total, id+"?page=1", ""))
}

// RepliesPageDocument is page number (from 1) of note n's replies
// collection: the ids of its local and remote replies, oldest first,
// store.PageSize to a page.
func RepliesPageDocument(u urls.Site, n *store.Note, total, number int, replies []store.ReplyItem) []byte {
	id := RepliesIRI(u, n)
	items := make([]any, len(replies))
	for i, r := range replies {
		items[i] = r.NoteID
		if r.NoteID == "" {
			items[i] = u.Note(r.Username, r.PublicID)
		}
	}
	return numberedPage(id, total, number, items)
}

// FeaturedDocument is the pinned-posts collection: an empty
// OrderedCollection until pinning exists.
func FeaturedDocument(u urls.Site, username string) []byte {
	m := orderedCollection(u.Featured(username), 0, "", "")
	m["orderedItems"] = []any{}
	return marshal(m)
}

// ActorDocument is the actor's JSON document.
func ActorDocument(u urls.Site, a *store.Actor) []byte { return marshal(actorDocument(u, a)) }

// NoteDocument is the JSON of a note.
func NoteDocument(u urls.Site, n *store.Note) []byte { return marshal(noteDocument(u, n)) }

// CreateDocument is the JSON of a note's Create activity, as delivered.
func CreateDocument(u urls.Site, n *store.Note) []byte { return marshal(createDocument(u, n)) }
