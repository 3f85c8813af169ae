package mastodon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// Request says what to read.
type Request struct {
	// Username is the local account, matched without regard to case.
	Username string
	// BaseURL is https://WEB_DOMAIN of the Mastodon server (nuttx-feed's
	// --base-url): Read checks the account's statuses live there, and builds
	// the uri of a local parent status Mastodon left NULL on it.
	BaseURL string
	// Statuses also reads the account's public and unlisted statuses.
	Statuses bool
}

// Export is what Read took from Mastodon.
type Export struct {
	SchemaVersion string // the newest of schema_migrations, "" if none
	LocalDomain   string // the server's LOCAL_DOMAIN, which handles end in; "" if unknown
	Account       Account
	Followers     []Follower // remote ActivityPub followers, in follow order
	Skipped       Skipped    // followers that cannot be carried over
	Statuses      []Status   // by id; nil unless Request.Statuses
}

// Account is the local account taken over.
type Account struct {
	ID            int64
	Username      string // as Mastodon stores it (case kept; its URLs use it so)
	DisplayName   string
	Note          string // the bio, plain text as typed
	Fields        []Field
	ActorType     string // Person, Service (a bot), ...; "" when unset
	PrivateKeyPEM string // as stored: PKCS#1, -----BEGIN RSA PRIVATE KEY-----
	PublicKeyPEM  string // as stored: SPKI, -----BEGIN PUBLIC KEY-----
}

// Field is one profile field, as typed (Mastodon keeps a local account's
// values as plain text).
type Field struct {
	Name  string
	Value string
}

// Follower is a remote account following the imported one.
type Follower struct {
	ActorURI    string // the follower's actor id
	Inbox       string
	SharedInbox string // "" when its server has none
	FollowURI   string // its Follow activity id, or ActorURI#follow-imported-ID when Mastodon has none
	CreatedAt   time.Time
}

// Skipped counts the followers Read leaves out, by reason.
type Skipped struct {
	Local      int // users of the Mastodon server itself, which goes away
	Suspended  int // suspended remote accounts (or whole servers)
	OStatus    int // pre-ActivityPub peers (protocol ostatus), long dead
	Incomplete int // remote accounts without an actor id or inbox
}

// Visibility is who may read a status; Read returns only these two.
type Visibility int

// The visibilities Read imports (Mastodon's numbers).
const (
	Public   Visibility = 0
	Unlisted Visibility = 1
)

// Status is one of the account's statuses.
type Status struct {
	ID          int64  // Mastodon's id; its URL is .../users/USERNAME/statuses/ID
	Text        string // plain source as typed (Mastodon renders it on output)
	CreatedAt   time.Time
	Visibility  Visibility
	InReplyTo   string // the parent's uri; "" when not a reply or the parent is gone
	SpoilerText string // the content warning
	Sensitive   bool
}

// Read reads the account req.Username with its followers (and statuses
// when asked) in one snapshot, or says why it cannot be taken over.
func (db *DB) Read(ctx context.Context, req Request) (*Export, error) {
	site, err := urls.New(req.BaseURL)
	if err != nil {
		return nil, err
	}
	var e Export
	err = db.read(ctx, func(tx pgx.Tx) error {
		l, err := readLayout(ctx, tx)
		if err != nil {
			return err
		}
		e.SchemaVersion = l.version
		if e.LocalDomain, err = localDomain(ctx, tx); err != nil {
			return err
		}
		a, err := findAccount(ctx, tx, l, req.Username)
		if err != nil {
			return err
		}
		if err := a.check(l, site); err != nil {
			return err
		}
		if err := checkBaseURL(ctx, tx, site, a.Username, a.ID); err != nil {
			return err
		}
		e.Account = a.Account
		if e.Followers, e.Skipped, err = readFollowers(ctx, tx, a.ID); err != nil {
			return err
		}
		if req.Statuses {
			e.Statuses, err = readStatuses(ctx, tx, l, site, a.ID)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// localDomain is the server's LOCAL_DOMAIN: the username of its instance
// actor (id -99), or "" when it has none.
func localDomain(ctx context.Context, tx pgx.Tx) (string, error) {
	var name string
	err := tx.QueryRow(ctx, `SELECT username FROM accounts WHERE id = -99`).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("the instance actor: %w", err)
	}
	return name, nil
}

// checkBaseURL refuses a base URL other than the host the account's
// statuses have their ids on: the host its followers know it by. An
// account without statuses is not checked.
func checkBaseURL(ctx context.Context, tx pgx.Tx, site urls.Site, username string, id int64) error {
	var uri string
	err := tx.QueryRow(ctx, `SELECT uri FROM statuses WHERE account_id = $1 AND uri IS NOT NULL
		ORDER BY id DESC LIMIT 1`, id).Scan(&uri)
	switch {
	case err == pgx.ErrNoRows:
		return nil
	case err != nil:
		return fmt.Errorf("the Mastodon database: read statuses: %w", err)
	}
	if strings.HasPrefix(uri, site.Base()+"/") {
		return nil
	}
	return fmt.Errorf("%w: the statuses of @%s have ids like %s, so its followers know it on that host; "+
		"give Mastodon's own https://WEB_DOMAIN as the base URL, not %s", ErrWrongBaseURL, username, uri, site.Base())
}

// readFollowers returns the remote ActivityPub followers of the account,
// and counts the others.
func readFollowers(ctx context.Context, tx pgx.Tx, id int64) ([]Follower, Skipped, error) {
	rows, err := tx.Query(ctx, `SELECT f.id, f.uri, f.created_at,
			a.domain IS NULL, a.suspended_at IS NOT NULL, a.protocol,
			COALESCE(a.uri, ''), a.inbox_url, a.shared_inbox_url
		FROM follows f JOIN accounts a ON a.id = f.account_id
		WHERE f.target_account_id = $1
		ORDER BY f.id`, id)
	if err != nil {
		return nil, Skipped{}, fmt.Errorf("the Mastodon database: read followers: %w", err)
	}
	defer rows.Close()
	var (
		followers []Follower
		skipped   Skipped
	)
	for rows.Next() {
		var (
			followID         int64
			uri              *string
			local, suspended bool
			protocol         int
			f                Follower
		)
		if err := rows.Scan(&followID, &uri, &f.CreatedAt, &local, &suspended, &protocol,
			&f.ActorURI, &f.Inbox, &f.SharedInbox); err != nil {
			return nil, Skipped{}, fmt.Errorf("the Mastodon database: read followers: %w", err)
		}
		switch {
		case local:
			skipped.Local++
		case suspended:
			skipped.Suspended++
		case protocol != protocolActivityPub:
			skipped.OStatus++
		case f.ActorURI == "" || f.Inbox == "":
			skipped.Incomplete++
		default:
			f.FollowURI = followURI(uri, f.ActorURI, followID)
			f.CreatedAt = f.CreatedAt.UTC()
			followers = append(followers, f)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, Skipped{}, fmt.Errorf("the Mastodon database: read followers: %w", err)
	}
	return followers, skipped, nil
}

// protocolActivityPub is accounts.protocol of an ActivityPub peer (0 is
// OStatus).
const protocolActivityPub = 1

// followURI is the Follow's id as Mastodon stored it or, for very old rows
// without one, a stand-in that is stable across imports.
func followURI(uri *string, actor string, followID int64) string {
	if uri != nil && *uri != "" {
		return *uri
	}
	return fmt.Sprintf("%s#follow-imported-%d", actor, followID)
}

// readStatuses returns the account's public and unlisted statuses that
// are neither boosts nor deleted, by id.
func readStatuses(ctx context.Context, tx pgx.Tx, l layout, site urls.Site, id int64) ([]Status, error) {
	rows, err := tx.Query(ctx, `SELECT s.id, s.text, s.created_at, s.visibility, s.spoiler_text, s.sensitive,
			p.id, p.uri, pa.domain IS NULL, pa.id, pa.username, COALESCE(`+l.column("pa", "id_scheme", "NULL::integer")+`, 0)
		FROM statuses s
		LEFT JOIN statuses p ON p.id = s.in_reply_to_id
		LEFT JOIN accounts pa ON pa.id = p.account_id
		WHERE s.account_id = $1 AND s.visibility IN (0, 1) AND s.reblog_of_id IS NULL AND s.deleted_at IS NULL
		ORDER BY s.id`, id)
	if err != nil {
		return nil, fmt.Errorf("the Mastodon database: read statuses: %w", err)
	}
	defer rows.Close()
	var statuses []Status
	for rows.Next() {
		var (
			s Status
			p parent
		)
		if err := rows.Scan(&s.ID, &s.Text, &s.CreatedAt, &s.Visibility, &s.SpoilerText, &s.Sensitive,
			&p.id, &p.stored, &p.local, &p.accountID, &p.username, &p.idScheme); err != nil {
			return nil, fmt.Errorf("the Mastodon database: read statuses: %w", err)
		}
		s.CreatedAt = s.CreatedAt.UTC()
		s.InReplyTo = p.uri(site)
		statuses = append(statuses, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("the Mastodon database: read statuses: %w", err)
	}
	return statuses, nil
}
