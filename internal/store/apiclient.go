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
