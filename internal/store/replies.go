package store

import (
	"database/sql"
	"fmt"
	"time"
)

// RemoteReply is a note of a remote actor answering one of our notes, or
// a reply already stored in one of our threads (table remote_replies).
type RemoteReply struct {
	Seq       int64  // row id
	NoteID    string // the reply's ActivityPub id
	InReplyTo string // the note it answers
	Thread    string // the IRI of the local note whose page shows it
	Author    string // the author's actor id
	// AuthorName, AuthorHandle (@user@host), AuthorAvatar ("" for none)
	// and AuthorURL (its profile page) are what the page shows of the
	// author.
	AuthorName   string
	AuthorHandle string
	AuthorAvatar string
	AuthorURL    string
	Content      string // sanitized HTML
	URL          string // the reply's own page
	Published    time.Time
	Updated      time.Time // when it was stored or last replaced
}

// maxThreadReplies bounds the replies one thread page lists.
const maxThreadReplies = 200

// RemoteReply returns the stored reply noteID.
func (tx *Tx) RemoteReply(noteID string) (*RemoteReply, error) {
	return tx.remoteReply(`note_id = ?`, noteID)
}

// SaveRemoteReply stores r, or replaces the stored reply with its note id
// (an Update): everything but its place (in_reply_to, thread) and its
// author, which the caller checked. It sets r.Seq and r.Updated.
func (tx *Tx) SaveRemoteReply(r *RemoteReply) error {
	r.Updated = tx.Now
	err := tx.queryRow(`INSERT INTO remote_replies (note_id, in_reply_to, thread, author, author_name, author_handle, author_avatar,
			author_url, content, url, published_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (note_id) DO UPDATE SET author_name = excluded.author_name, author_handle = excluded.author_handle,
			author_avatar = excluded.author_avatar, author_url = excluded.author_url, content = excluded.content,
			url = excluded.url, published_at = excluded.published_at, updated_at = excluded.updated_at
		RETURNING id`,
		r.NoteID, r.InReplyTo, r.Thread, r.Author, r.AuthorName, r.AuthorHandle, r.AuthorAvatar, r.AuthorURL,
		r.Content, r.URL, ms(r.Published), ms(r.Updated)).Scan(&r.Seq)
	if err != nil {
		return fmt.Errorf("save remote reply: %w", err)
	}
	return nil
}

// DeleteRemoteReply removes the reply noteID if author wrote it, and
// reports whether it did.
func (tx *Tx) DeleteRemoteReply(noteID, author string) (bool, error) {
	res, err := tx.exec(`DELETE FROM remote_replies WHERE note_id = ? AND author = ?`, noteID, author)
	if err != nil {
		return false, fmt.Errorf("delete remote reply: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("delete remote reply: %w", err)
	}
	return n > 0, nil
}

// DeleteRemoteRepliesBy removes every reply of author (a deleted actor)
// and returns how many there were.
func (tx *Tx) DeleteRemoteRepliesBy(author string) (int, error) {
	res, err := tx.exec(`DELETE FROM remote_replies WHERE author = ?`, author)
	if err != nil {
		return 0, fmt.Errorf("delete remote replies: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete remote replies: %w", err)
	}
	return int(n), nil
}

// ThreadReplies returns the remote replies shown on the page of the local
// note thread, oldest first, at most maxThreadReplies.
func (tx *Tx) ThreadReplies(thread string) ([]*RemoteReply, error) {
	replies, err := queryList(tx, func(rows *sql.Rows) (*RemoteReply, error) { return scanRemoteReply(rows) },
		`SELECT `+remoteReplyColumns+` FROM remote_replies WHERE thread = ? ORDER BY published_at, id LIMIT ?`, thread, maxThreadReplies)
	if err != nil {
		return nil, fmt.Errorf("list remote replies: %w", err)
	}
	return replies, nil
}

// RemoteReplyCounts returns how many remote replies the page of each of
// the given local notes shows.
func (tx *Tx) RemoteReplyCounts(threads []string) (map[string]int, error) {
	return countByKey(tx, "remote replies", `SELECT thread, COUNT(*) FROM remote_replies WHERE thread IN (%s) GROUP BY thread`, threads)
}

// remoteReplyColumns selects a RemoteReply; scanRemoteReply reads them.
const remoteReplyColumns = `id, note_id, in_reply_to, thread, author, author_name, author_handle, author_avatar, author_url,
	content, url, published_at, updated_at`

func scanRemoteReply(row rowScanner) (*RemoteReply, error) {
	r := &RemoteReply{}
	var published, updated int64
	if err := row.Scan(&r.Seq, &r.NoteID, &r.InReplyTo, &r.Thread, &r.Author, &r.AuthorName, &r.AuthorHandle, &r.AuthorAvatar,
		&r.AuthorURL, &r.Content, &r.URL, &published, &updated); err != nil {
		return nil, err
	}
	r.Published, r.Updated = fromMS(published), fromMS(updated)
	return r, nil
}

// MaxMentions bounds the mentions a profile page lists.
const MaxMentions = 10

// Mentions returns the latest public notes that mention the local actor
// actorIRI without answering one of its threads (stored with that IRI as
// their thread), newest first, at most 20.
func (tx *Tx) Mentions(actorIRI string) ([]*RemoteReply, error) {
	replies, err := queryList(tx, func(rows *sql.Rows) (*RemoteReply, error) { return scanRemoteReply(rows) },
		`SELECT `+remoteReplyColumns+` FROM remote_replies WHERE thread = ? ORDER BY published_at DESC, id DESC LIMIT ?`, actorIRI, MaxMentions)
	if err != nil {
		return nil, fmt.Errorf("list mentions: %w", err)
	}
	return replies, nil
}

// ReplyItem is one entry of a note's replies collection: a local note
// (Username and PublicID set) or a stored remote reply (NoteID set).
type ReplyItem struct {
	Username, PublicID string
	NoteID             string
	Published          time.Time
}

// threadItems selects the replies a thread page shows of the local note
// iri (both arguments): its local replies (deleted ones left out) and the
// remote replies stored in its thread, as (username, public_id, note_id,
// published_at, kind, id).
const threadItems = `SELECT a.username, n.public_id, '' AS note_id, n.published_at, 0 AS kind, n.id FROM notes n
		JOIN actors a ON a.id = n.actor_id WHERE n.in_reply_to = ? AND n.deleted_at IS NULL
	UNION ALL
	SELECT '', '', note_id, published_at, 1, id FROM remote_replies WHERE thread = ?`

// ThreadReplyTotal returns how many replies the page of the local note
// iri shows: its local replies and the remote replies in its thread, the
// count of ReplyCounts and RemoteReplyCounts together.
func (tx *Tx) ThreadReplyTotal(iri string) (int, error) {
	var n int
	if err := tx.queryRow(`SELECT COUNT(*) FROM (`+threadItems+`)`, iri, iri).Scan(&n); err != nil {
		return 0, fmt.Errorf("count thread replies: %w", err)
	}
	return n, nil
}

// ThreadReplyItems returns limit replies of the local note iri from
// offset on, oldest first (the items ThreadReplyTotal counts).
func (tx *Tx) ThreadReplyItems(iri string, offset, limit int) ([]ReplyItem, error) {
	items, err := queryList(tx, func(rows *sql.Rows) (ReplyItem, error) {
		var it ReplyItem
		var published, kind, id int64
		err := rows.Scan(&it.Username, &it.PublicID, &it.NoteID, &published, &kind, &id)
		it.Published = fromMS(published)
		return it, err
	}, threadItems+` ORDER BY published_at, kind, id LIMIT ? OFFSET ?`, iri, iri, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("list thread replies: %w", err)
	}
	return items, nil
}
