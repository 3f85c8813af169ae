package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
)

// A thread page lists the replies to a local note, ours and those from the
// Fediverse together, in the order published. Replies can be long (a remote
// one keeps up to 16 KiB of HTML, a local one up to about 30 KB), so a page
// holds as many as fit a byte budget and links the next page by a cursor.

// ThreadCursor is where a page of a thread's replies starts: after the
// reply published at At (Unix milliseconds), remote or local, with row id
// ID. The zero cursor starts at the first reply.
type ThreadCursor struct {
	At     int64
	Remote bool
	ID     int64
}

// ThreadItem is one reply on a thread page: a local note or a remote
// reply, the other nil.
type ThreadItem struct {
	Note   *Note
	Remote *RemoteReply
}

// ThreadPage is a page of a thread's replies; Next is where the next page
// starts, nil on the last.
type ThreadPage struct {
	Items []ThreadItem
	Next  *ThreadCursor
}

const (
	// ReplyOverhead is what a reply costs of a page's budget beyond the
	// bytes of its text, links and names: the markup around it.
	ReplyOverhead = 700
	// maxPageReplies bounds the replies of one thread page however short.
	maxPageReplies = 100
	// EscapeFactor bounds how much longer a string of a stranger's gets
	// when a page writes it: "&" and quotes become 5 bytes ("&amp;",
	// "&#34;"), and a link's other bytes 3 at most ("%C3").
	EscapeFactor = 5
)

// threadItemsSQL lists the replies to ?1 after the cursor (?2, ?3, ?4), in
// the order published, with the bytes each one costs and the running
// total: local replies (deleted ones left out) and remote ones. A remote
// reply's content is written as stored (sanitized HTML), but its author's
// name (written twice: as text and in the avatar's alt), handle and links
// are escaped as the page writes them, up to EscapeFactor (?7) times
// longer: a name of 100 "&" is 500 bytes of "&amp;".
const threadItemsSQL = `WITH items(at, kind, id, cost) AS (
	SELECT published_at, 0, id, length(CAST(content AS BLOB)) + length(CAST(summary AS BLOB)) + ?5
		FROM notes WHERE in_reply_to = ?1 AND deleted_at IS NULL
	UNION ALL
	SELECT published_at, 1, id, length(CAST(content AS BLOB)) + ?7 * (2 * length(CAST(author_name AS BLOB)) + length(CAST(author_handle AS BLOB))
		+ length(CAST(author_avatar AS BLOB)) + length(CAST(author_url AS BLOB)) + length(CAST(url AS BLOB))) + ?5
		FROM remote_replies WHERE thread = ?1)
SELECT at, kind, id, SUM(cost) OVER (ORDER BY at, kind, id ROWS UNBOUNDED PRECEDING) FROM items
	WHERE (at, kind, id) > (?2, ?3, ?4) ORDER BY at, kind, id LIMIT ?6`

// threadEntry is a row of threadItemsSQL.
type threadEntry struct {
	cursor ThreadCursor
	used   int64 // bytes of this reply and those before it on the page
}

// ThreadRepliesPage returns the page of replies to the local note iri that
// starts after cursor: as many as fit budget bytes (ReplyOverhead each,
// plus their text, links and names), at least one, at most 100.
func (tx *Tx) ThreadRepliesPage(iri string, after ThreadCursor, budget int) (*ThreadPage, error) {
	entries, err := queryList(tx, func(rows *sql.Rows) (threadEntry, error) {
		var e threadEntry
		return e, rows.Scan(&e.cursor.At, &e.cursor.Remote, &e.cursor.ID, &e.used)
	}, threadItemsSQL, iri, after.At, after.Remote, after.ID, ReplyOverhead, maxPageReplies+1, EscapeFactor)
	if err != nil {
		return nil, fmt.Errorf("list thread replies: %w", err)
	}
	page := &ThreadPage{}
	n := 0
	for n < len(entries) && n < maxPageReplies && (n == 0 || entries[n].used <= int64(budget)) {
		n++
	}
	if n < len(entries) {
		next := entries[n-1].cursor
		page.Next = &next
	}
	page.Items, err = tx.threadItems(entries[:n])
	return page, err
}

// threadItems loads the replies entries name, in their order.
func (tx *Tx) threadItems(entries []threadEntry) ([]ThreadItem, error) {
	var local, remote []int64
	for _, e := range entries {
		if e.cursor.Remote {
			remote = append(remote, e.cursor.ID)
		} else {
			local = append(local, e.cursor.ID)
		}
	}
	notes, err := queryList(tx, func(rows *sql.Rows) (*Note, error) { return scanNote(rows) },
		`SELECT `+noteColumns+` FROM notes n JOIN actors a ON a.id = n.actor_id WHERE n.id IN (SELECT value FROM json_each(?))`, idList(local))
	if err != nil {
		return nil, fmt.Errorf("load thread replies: %w", err)
	}
	replies, err := tx.remoteRepliesBySeq(remote)
	if err != nil {
		return nil, fmt.Errorf("load thread replies: %w", err)
	}
	byID := map[ThreadCursor]ThreadItem{}
	for _, n := range notes {
		byID[ThreadCursor{ID: n.Seq}] = ThreadItem{Note: n}
	}
	for _, r := range replies {
		byID[ThreadCursor{ID: r.Seq, Remote: true}] = ThreadItem{Remote: r}
	}
	items := make([]ThreadItem, 0, len(entries))
	for _, e := range entries {
		if it, ok := byID[ThreadCursor{ID: e.cursor.ID, Remote: e.cursor.Remote}]; ok {
			items = append(items, it)
		}
	}
	return items, nil
}

// idList is ids as a JSON array, for json_each.
func idList(ids []int64) string {
	if ids == nil {
		ids = []int64{}
	}
	b, _ := json.Marshal(ids)
	return string(b)
}
