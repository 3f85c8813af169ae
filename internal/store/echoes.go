package store

import (
	"database/sql"
	"errors"
	"fmt"
)

// Echoes (migrations/0020_feed_accounts.sql): the notes that the feed's
// accounts publish when the firehose posts news of their targets, and each
// account's thread per target.

// AccountThread is the thread of one target in one feed account's outbox:
// its root and its latest note (IRIs).
type AccountThread struct {
	Thread, LastNote string
}

// AccountThread returns the thread of target in the outbox of the actor
// actorID, or an error wrapping ErrNotFound when it has none yet.
func (tx *Tx) AccountThread(actorID int64, target string) (AccountThread, error) {
	var t AccountThread
	err := tx.queryRow(`SELECT thread, last_note FROM feed_account_threads WHERE actor_id = ? AND target = ?`, actorID, target).
		Scan(&t.Thread, &t.LastNote)
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("%w: no thread of %s for actor #%d", ErrNotFound, target, actorID)
	}
	if err != nil {
		return t, fmt.Errorf("account thread: %w", err)
	}
	return t, nil
}

// SetAccountThread records the thread of target in the outbox of the actor
// actorID: its root and latest note.
func (tx *Tx) SetAccountThread(actorID int64, target string, t AccountThread) error {
	_, err := tx.exec(`INSERT INTO feed_account_threads (actor_id, target, thread, last_note) VALUES (?, ?, ?, ?)
		ON CONFLICT (actor_id, target) DO UPDATE SET thread = excluded.thread, last_note = excluded.last_note`,
		actorID, target, t.Thread, t.LastNote)
	if err != nil {
		return fmt.Errorf("account thread: %w", err)
	}
	return nil
}

// EchoesOf returns the notes, not deleted, that repeat the note seq
// (notes.echo_of), oldest first.
func (tx *Tx) EchoesOf(seq int64) ([]*Note, error) {
	notes, err := queryList(tx, func(rows *sql.Rows) (*Note, error) { return scanNote(rows) },
		`SELECT `+noteColumns+` FROM notes n JOIN actors a ON a.id = n.actor_id WHERE n.echo_of = ? AND n.deleted_at IS NULL ORDER BY n.id`, seq)
	if err != nil {
		return nil, fmt.Errorf("echoes: %w", err)
	}
	return notes, nil
}

// FeedTargetLabels returns the labels of every target that ever failed
// (feed_targets), for the catalog.
func (tx *Tx) FeedTargetLabels() ([]CatalogTarget, error) {
	out, err := queryList(tx, func(rows *sql.Rows) (t CatalogTarget, err error) {
		return t, rows.Scan(&t.Target, &t.Board, &t.Config, &t.Arch)
	}, `SELECT target, board, config, arch FROM feed_targets ORDER BY target`)
	if err != nil {
		return nil, fmt.Errorf("feed targets: %w", err)
	}
	return out, nil
}

// FollowedFeedAccountsAmong returns, by username, the feed accounts among
// usernames (lower case) that have at least one follower: those of the
// targets of one post, looked up by name whatever the number of accounts.
func (tx *Tx) FollowedFeedAccountsAmong(usernames []string) (map[string]FollowedFeedAccount, error) {
	out := map[string]FollowedFeedAccount{}
	if len(usernames) == 0 {
		return out, nil
	}
	list, err := queryList(tx, func(r *sql.Rows) (a FollowedFeedAccount, err error) {
		return a, r.Scan(&a.ActorID, &a.Username, &a.Kind)
	}, `SELECT a.id, a.username, a.kind FROM actors a
		WHERE a.username IN (SELECT value FROM json_each(?)) AND a.kind IN ('board', 'target', 'arch')
		AND EXISTS (SELECT 1 FROM followers f WHERE f.actor_id = a.id)`, jsonList(usernames))
	if err != nil {
		return nil, fmt.Errorf("followed feed accounts: %w", err)
	}
	for _, a := range list {
		out[a.Username] = a
	}
	return out, nil
}

// FollowedFeedAccountsThreading returns, by target, the feed accounts with
// at least one follower that have a thread of one of targets: they keep
// posting its news though its labels no longer name them (an architecture
// renamed while the target fails), so that what they announced ends there.
func (tx *Tx) FollowedFeedAccountsThreading(targets []string) (map[string][]FollowedFeedAccount, error) {
	out := map[string][]FollowedFeedAccount{}
	if len(targets) == 0 {
		return out, nil
	}
	type row struct {
		target string
		FollowedFeedAccount
	}
	list, err := queryList(tx, func(r *sql.Rows) (x row, err error) {
		return x, r.Scan(&x.target, &x.ActorID, &x.Username, &x.Kind)
	}, `SELECT t.target, a.id, a.username, a.kind FROM feed_account_threads t JOIN actors a ON a.id = t.actor_id
		WHERE t.target IN (SELECT value FROM json_each(?)) AND a.kind IN ('board', 'target', 'arch')
		AND EXISTS (SELECT 1 FROM followers f WHERE f.actor_id = a.id) ORDER BY a.username`, jsonList(targets))
	if err != nil {
		return nil, fmt.Errorf("feed accounts threading: %w", err)
	}
	for _, x := range list {
		out[x.target] = append(out[x.target], x.FollowedFeedAccount)
	}
	return out, nil
}
