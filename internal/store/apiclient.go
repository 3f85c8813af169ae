package store

import (
	"database/sql"
	"fmt"
	"time"
)

// What Mastodon apps read beyond the first API endpoints (issue 10).

// LastNoteAt returns when the actor actorID last published a note that
// stands (not deleted), and false when it has none: the newest row's time
// (index notes_actor), as an account is described on every status.
func (tx *Tx) LastNoteAt(actorID int64) (time.Time, bool, error) {
	var last sql.NullInt64
	err := tx.queryRow(`SELECT (SELECT published_at FROM notes WHERE actor_id = ? AND deleted_at IS NULL ORDER BY id DESC LIMIT 1)`, actorID).Scan(&last)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("last note of actor %d: %w", actorID, err)
	}
	if !last.Valid {
		return time.Time{}, false, nil
	}
	return fromMS(last.Int64), true, nil
}

// NoteSeqsAround places the time t among the notes' rows (deleted or not),
// for a paging cursor that names no note: before is the first row
// published at or after t (one past the last row when none), so rows
// below it are older; after is the last row published at or before t (0
// when none), so rows above it are newer.
func (tx *Tx) NoteSeqsAround(t time.Time) (before, after int64, err error) {
	err = tx.queryRow(`SELECT COALESCE((SELECT MIN(id) FROM notes WHERE published_at >= ?1), (SELECT COALESCE(MAX(id), 0) + 1 FROM notes)),
		COALESCE((SELECT MAX(id) FROM notes WHERE published_at <= ?1), 0)`, ms(t)).Scan(&before, &after)
	if err != nil {
		return 0, 0, fmt.Errorf("place a cursor in time: %w", err)
	}
	return before, after, nil
}

// RemoteAccountByHandle returns the remote account whose handle
// (@user@host, any case) a stored reply or a mention of ours showed;
// ErrNotFound when none did.
func (tx *Tx) RemoteAccountByHandle(handle string) (*RemoteAccount, error) {
	return tx.remoteAccount(`i.iri = (SELECT iri FROM (
		SELECT author AS iri FROM remote_replies WHERE lower(author_handle) = lower(?1)
		UNION ALL SELECT href FROM note_mentions WHERE lower(name) = lower(?1) AND inbox <> '') LIMIT 1)`, handle)
}
