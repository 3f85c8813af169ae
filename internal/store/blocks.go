package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Blocked servers (table domain_blocks), by registrable domain: the domain
// of a URL or host is urls.Domain's, so a block covers subdomains and
// ports. activitypub refuses what comes from a blocked domain and sends
// nothing to it; this file keeps the list and clears what a new block
// makes void.

// Block is a blocked domain.
type Block struct {
	Domain           string
	Since            time.Time
	FollowersRemoved int // when the block was made
	// DeliveriesCancelled counts the pending deliveries given up when the
	// block was made (AddBlock only; not kept).
	DeliveriesCancelled int
}

// AddBlock blocks domain (a registrable domain, as urls.Domain gives it):
// in this transaction it removes every follower whose actor is on it (with
// their queued personal deliveries), gives up every pending delivery to it
// and forgets its breaker. It returns the block and whether it is new; an
// existing block is returned as it was, and nothing else changes.
func (tx *Tx) AddBlock(domain string) (Block, bool, error) {
	if b, err := tx.block(domain); err == nil {
		return b, false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return Block{}, false, err
	}
	b := Block{Domain: domain, Since: tx.Now}
	var err error
	if b.DeliveriesCancelled, err = tx.cancelPending("server blocked", `domain = ?`, domain); err != nil {
		return Block{}, false, fmt.Errorf("block %s: %w", domain, err)
	}
	if b.FollowersRemoved, err = tx.removeFollowers(tx.query(`DELETE FROM followers WHERE registrable_domain(follower) = ?
		RETURNING follower, actor_id`, domain)); err != nil {
		return Block{}, false, err
	}
	if _, err := tx.ForgetHost(domain); err != nil {
		return Block{}, false, err
	}
	if _, err := tx.exec(`INSERT INTO domain_blocks (domain, created_at, followers_removed) VALUES (?, ?, ?)`,
		domain, ms(tx.Now), b.FollowersRemoved); err != nil {
		return Block{}, false, fmt.Errorf("block %s: %w", domain, err)
	}
	return b, true, nil
}

// RemoveBlock lifts the block of domain; it reports whether there was one.
// The followers it removed stay removed: they must follow again.
func (tx *Tx) RemoveBlock(domain string) (bool, error) {
	res, err := tx.exec(`DELETE FROM domain_blocks WHERE domain = ?`, domain)
	if err != nil {
		return false, fmt.Errorf("unblock %s: %w", domain, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

const isBlockedSQL = `SELECT EXISTS (SELECT 1 FROM domain_blocks WHERE domain = ?)`

// IsBlocked reports whether domain (a registrable domain) is blocked. The
// inbox asks it for every signed request, so it is one statement, prepared
// once, outside any transaction: 9 µs, where a read transaction (View)
// costs 60.
func (s *Store) IsBlocked(ctx context.Context, domain string) (bool, error) {
	var blocked bool
	if err := s.isBlocked.QueryRowContext(ctx, domain).Scan(&blocked); err != nil {
		return false, fmt.Errorf("look up a block: %w", err)
	}
	return blocked, nil
}

// Blocks returns every block, by domain.
func (tx *Tx) Blocks() ([]Block, error) {
	out, err := queryList(tx, func(r *sql.Rows) (Block, error) { return scanBlock(r) }, `SELECT domain, created_at, followers_removed FROM domain_blocks ORDER BY domain`)
	if err != nil {
		return nil, fmt.Errorf("list blocks: %w", err)
	}
	return out, nil
}

// block returns the block of domain, or an error wrapping ErrNotFound.
func (tx *Tx) block(domain string) (Block, error) {
	b, err := scanBlock(tx.queryRow(`SELECT domain, created_at, followers_removed FROM domain_blocks WHERE domain = ?`, domain))
	if errors.Is(err, sql.ErrNoRows) {
		return Block{}, fmt.Errorf("%w: %s is not blocked", ErrNotFound, domain)
	}
	if err != nil {
		return Block{}, fmt.Errorf("look up a block: %w", err)
	}
	return b, nil
}

func scanBlock(row rowScanner) (Block, error) {
	var b Block
	var since int64
	err := row.Scan(&b.Domain, &since, &b.FollowersRemoved)
	b.Since = fromMS(since)
	return b, err
}
