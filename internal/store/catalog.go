package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/nuttx-feed/nuttx-feed/internal/handles"
)

// The feed's catalog (migrations/0020_feed_accounts.sql): every target the
// feed has seen, and through it the accounts of boards, targets and
// architectures (internal/handles).

// Kinds of local actor: the bot (the operator's accounts, the firehose)
// and the feed's accounts.
const (
	KindBot    = "bot"
	KindBoard  = handles.Board
	KindTarget = handles.Target
	KindArch   = handles.Arch
)

// IsFeedKind reports whether kind is one of the feed's account kinds.
func IsFeedKind(kind string) bool {
	return kind == KindBoard || kind == KindTarget || kind == KindArch
}

// CatalogTarget is a board:config target as Prometheus labels name it.
type CatalogTarget struct {
	Target, Board, Config, Arch string
}

// SeeTargets records targets in the catalog: new ones are added, and a
// known one whose architecture changed (or was unknown) takes the new one;
// an empty Arch leaves the stored one. It returns how many rows changed.
func (tx *Tx) SeeTargets(targets []CatalogTarget) (int, error) {
	changed := 0
	for _, t := range targets {
		archHandle := ""
		if t.Arch != "" {
			archHandle = handles.OfArch(t.Arch)
		}
		res, err := tx.exec(`INSERT INTO feed_catalog (target, board, config, arch, target_handle, board_handle, arch_handle, first_seen)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (target) DO UPDATE SET arch = excluded.arch, arch_handle = excluded.arch_handle
			WHERE excluded.arch <> '' AND excluded.arch <> feed_catalog.arch`,
			t.Target, t.Board, t.Config, t.Arch, handles.OfTarget(t.Board, t.Config), handles.OfBoard(t.Board), archHandle, ms(tx.Now))
		if err != nil {
			return changed, fmt.Errorf("catalog %s: %w", t.Target, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return changed, err
		}
		changed += int(n)
	}
	return changed, nil
}

// CatalogTargets returns every target of the catalog with its arch, by
// target.
func (tx *Tx) CatalogTargets() (map[string]CatalogTarget, error) {
	rows, err := tx.query(`SELECT target, board, config, arch FROM feed_catalog`)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	list, err := scanAll(rows, func(r *sql.Rows) (t CatalogTarget, err error) {
		return t, r.Scan(&t.Target, &t.Board, &t.Config, &t.Arch)
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	out := make(map[string]CatalogTarget, len(list))
	for _, t := range list {
		out[t.Target] = t
	}
	return out, nil
}

// FeedAccount is an account of the feed as the catalog knows it, whether or
// not its actor exists yet.
type FeedAccount struct {
	Username string // its handle
	Kind     string // KindBoard, KindTarget or KindArch
	// The labels it stands for, as Prometheus has them (the first in
	// order when several map to one handle): a target's Target, Board and
	// Config; a board's Board; an architecture's Arch.
	Target, Board, Config, Arch string
}

// FeedAccountNamed returns the feed account whose handle is username (any
// case), or an error wrapping ErrNotFound: no catalog entry maps to it, or
// it is not a valid handle. It reads only (three indexed lookups) and
// creates nothing.
func (tx *Tx) FeedAccountNamed(username string) (*FeedAccount, error) {
	h := strings.ToLower(username)
	if !handles.Valid(h) {
		return nil, fmt.Errorf("%w: no account %q", ErrNotFound, username)
	}
	a := &FeedAccount{Username: h}
	err := tx.queryRow(`SELECT kind, target, board, config, arch FROM (
			SELECT 1 AS o, 'target' AS kind, MIN(target) AS target, board, config, arch FROM feed_catalog WHERE target_handle = ?1 HAVING COUNT(*) > 0
			UNION ALL
			SELECT 2, 'board', '', MIN(board), '', '' FROM feed_catalog WHERE board_handle = ?1 HAVING COUNT(*) > 0
			UNION ALL
			SELECT 3, 'arch', '', '', '', MIN(arch) FROM feed_catalog WHERE arch_handle = ?1 AND arch_handle <> '' HAVING COUNT(*) > 0
		) ORDER BY o LIMIT 1`, h).Scan(&a.Kind, &a.Target, &a.Board, &a.Config, &a.Arch)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no account %q", ErrNotFound, username)
	}
	if err != nil {
		return nil, fmt.Errorf("feed account %q: %w", username, err)
	}
	return a, nil
}

// FollowedFeedAccount is a feed account's actor with at least one follower.
type FollowedFeedAccount struct {
	ActorID  int64
	Username string
	Kind     string
}

// FollowedFeedAccounts returns the feed accounts that have at least one
// follower, by username: those, and only those, publish their own notes.
func (tx *Tx) FollowedFeedAccounts() (map[string]FollowedFeedAccount, error) {
	rows, err := tx.query(`SELECT a.id, a.username, a.kind FROM actors a
		WHERE a.kind IN ('board', 'target', 'arch') AND EXISTS (SELECT 1 FROM followers f WHERE f.actor_id = a.id)`)
	if err != nil {
		return nil, fmt.Errorf("followed feed accounts: %w", err)
	}
	list, err := scanAll(rows, func(r *sql.Rows) (a FollowedFeedAccount, err error) {
		return a, r.Scan(&a.ActorID, &a.Username, &a.Kind)
	})
	if err != nil {
		return nil, fmt.Errorf("followed feed accounts: %w", err)
	}
	out := make(map[string]FollowedFeedAccount, len(list))
	for _, a := range list {
		out[a.Username] = a
	}
	return out, nil
}
