package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// What the Mastodon API's read endpoints need beyond notes
// (migrations/0016_api_reads.sql): the numbers of remote accounts, the
// followers and the notifications by page.

// RemoteAccount is a remote actor the API shows (a follower, the author of
// a stored reply, an actor a note mentions: migration 0018), with what is known of its profile: from its actor
// document when its key was fetched, else from its latest stored reply.
type RemoteAccount struct {
	Seq       int64 // its number in remote_account_ids: never changes
	IRI       string
	FirstSeen time.Time
	Username  string // preferredUsername; "" when unknown
	Handle    string // @user@host as a reply (or else a mention) showed it; "" when unknown
	Name      string
	Avatar    string
	URL       string // its profile page; "" when unknown
}

// remoteAccountSQL selects a RemoteAccount by a condition on i (the row of
// remote_account_ids).
const remoteAccountSQL = `SELECT i.id, i.iri, i.created_at, COALESCE(ra.username, ''),
	COALESCE(NULLIF(ra.name, ''), rr.author_name, ''), COALESCE(NULLIF(ra.avatar, ''), rr.author_avatar, ''),
	COALESCE(NULLIF(ra.profile_url, ''), rr.author_url, ''),
	COALESCE(rr.author_handle, (SELECT name FROM note_mentions WHERE href = i.iri AND inbox <> '' LIMIT 1), '')
	FROM remote_account_ids i
	LEFT JOIN remote_actors ra ON ra.iri = i.iri
	LEFT JOIN remote_replies rr ON rr.id = (SELECT id FROM remote_replies WHERE author = i.iri ORDER BY updated_at DESC, id DESC LIMIT 1)
	WHERE `

// RemoteAccount returns the remote account numbered seq.
func (tx *Tx) RemoteAccount(seq int64) (*RemoteAccount, error) {
	return tx.remoteAccount(`i.id = ?`, seq)
}

// RemoteAccountByIRI returns the remote account iri.
func (tx *Tx) RemoteAccountByIRI(iri string) (*RemoteAccount, error) {
	return tx.remoteAccount(`i.iri = ?`, iri)
}

// remoteAccount loads the remote account that cond (on key) selects.
func (tx *Tx) remoteAccount(cond string, key any) (*RemoteAccount, error) {
	a := &RemoteAccount{}
	var first int64
	err := tx.queryRow(remoteAccountSQL+cond, key).Scan(&a.Seq, &a.IRI, &first, &a.Username, &a.Name, &a.Avatar, &a.URL, &a.Handle)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no remote account %v", ErrNotFound, key)
	}
	if err != nil {
		return nil, fmt.Errorf("load remote account: %w", err)
	}
	a.FirstSeen = fromMS(first)
	return a, nil
}

// FollowerEntry is a follow of a local actor, numbered by its row: the
// paging cursor of the followers list.
type FollowerEntry struct {
	Seq       int64
	IRI       string
	CreatedAt time.Time
}

// FollowersPage returns a page of the followers of the actor, the latest
// follows first.
func (tx *Tx) FollowersPage(actorID int64, p Page) ([]FollowerEntry, error) {
	bounds, ascending, args := p.clause("id")
	out, err := queryList(tx, func(rows *sql.Rows) (FollowerEntry, error) {
		var f FollowerEntry
		var created int64
		err := rows.Scan(&f.Seq, &f.IRI, &created)
		f.CreatedAt = fromMS(created)
		return f, err
	}, `SELECT id, follower, created_at FROM followers WHERE actor_id = ?`+bounds, append([]any{actorID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("list followers: %w", err)
	}
	if ascending {
		slices.Reverse(out)
	}
	return out, nil
}

// Notification types, as Mastodon names them.
const (
	NotifyFollow  = "follow"
	NotifyMention = "mention"
)

// Notification is a follow of a local actor or a stored reply to it (an
// answer to one of its notes or a mention of it).
type Notification struct {
	Seq       int64 // increases with time: the id and paging cursor
	Type      string
	CreatedAt time.Time
	Follower  string       // the follower's IRI (NotifyFollow)
	Reply     *RemoteReply // the reply (NotifyMention)
}

// NotificationFilter selects whose notifications a page lists: those of
// the local actor ActorID whose IRI is ActorIRI (its notes' IRIs start
// with NotePrefix), of the given Types (all when empty).
type NotificationFilter struct {
	ActorID    int64
	ActorIRI   string
	NotePrefix string
	Types      []string
}

// notificationSQL selects (id, type, created_at, follower, reply_id) of
// the notifications of ?1 (actor id), ?2 (actor IRI), ?3 (its notes'
// prefix) whose type is in the JSON list ?4 (all when null): its follows,
// the mentions of it and the replies that answer one of its notes (not
// those that answer another reply in its threads).
const notificationSQL = `SELECT n.id, n.type, n.created_at, COALESCE(f.follower, ''), COALESCE(n.reply_id, 0)
	FROM api_notifications n
	LEFT JOIN followers f ON f.id = n.follower_id
	LEFT JOIN remote_replies r ON r.id = n.reply_id
	WHERE (f.actor_id = ?1 OR r.thread = ?2 OR (r.in_reply_to = r.thread AND substr(r.thread, 1, length(?3)) = ?3))
		AND (?4 IS NULL OR n.type IN (SELECT value FROM json_each(?4)))`

// Notifications returns a page of the notifications f selects, newest
// first.
func (tx *Tx) Notifications(f NotificationFilter, p Page) ([]*Notification, error) {
	bounds, ascending, args := p.clause("n.id")
	out, err := tx.notifications(notificationSQL+bounds, f, args...)
	if ascending {
		slices.Reverse(out)
	}
	return out, err
}

// Notification returns the notification seq if f selects it.
func (tx *Tx) Notification(f NotificationFilter, seq int64) (*Notification, error) {
	out, err := tx.notifications(notificationSQL+` AND n.id = ?`, f, seq)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no notification %d", ErrNotFound, seq)
	}
	return out[0], nil
}

// notifications runs query, a notificationSQL, for f with more arguments,
// and loads the replies of its rows.
func (tx *Tx) notifications(query string, f NotificationFilter, more ...any) ([]*Notification, error) {
	var types any // nil: all types
	if len(f.Types) > 0 {
		b, _ := json.Marshal(f.Types)
		types = string(b)
	}
	var replyIDs []int64
	out, err := queryList(tx, func(rows *sql.Rows) (*Notification, error) {
		n := &Notification{}
		var created, replyID int64
		if err := rows.Scan(&n.Seq, &n.Type, &created, &n.Follower, &replyID); err != nil {
			return nil, err
		}
		n.CreatedAt = fromMS(created)
		if replyID != 0 {
			n.Reply = &RemoteReply{Seq: replyID}
			replyIDs = append(replyIDs, replyID)
		}
		return n, nil
	}, query, append([]any{f.ActorID, f.ActorIRI, f.NotePrefix, types}, more...)...)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	byID, err := tx.remoteRepliesBySeq(replyIDs)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	for _, n := range out {
		if n.Reply != nil {
			n.Reply = byID[n.Reply.Seq]
		}
	}
	return out, nil
}

// RemoteReplyBySeq returns the stored reply numbered seq.
func (tx *Tx) RemoteReplyBySeq(seq int64) (*RemoteReply, error) {
	return tx.remoteReply(`id = ?`, seq)
}

// remoteRepliesBySeq loads the stored replies numbered seqs, by number.
func (tx *Tx) remoteRepliesBySeq(seqs []int64) (map[int64]*RemoteReply, error) {
	replies, err := queryList(tx, func(rows *sql.Rows) (*RemoteReply, error) { return scanRemoteReply(rows) },
		`SELECT `+remoteReplyColumns+` FROM remote_replies WHERE id IN (SELECT value FROM json_each(?))`, idList(seqs))
	byID := make(map[int64]*RemoteReply, len(replies))
	for _, r := range replies {
		byID[r.Seq] = r
	}
	return byID, err
}

// remoteReply loads the stored reply that cond (on key) selects.
func (tx *Tx) remoteReply(cond string, key any) (*RemoteReply, error) {
	r, err := scanRemoteReply(tx.queryRow(`SELECT `+remoteReplyColumns+` FROM remote_replies WHERE `+cond, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no remote reply %v", ErrNotFound, key)
	}
	if err != nil {
		return nil, fmt.Errorf("load remote reply: %w", err)
	}
	return r, nil
}
