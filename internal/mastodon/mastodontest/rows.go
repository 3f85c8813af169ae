package mastodontest

import (
	"testing"
	"time"
)

// Local is a local Mastodon account (domain NULL) with its users row.
type Local struct {
	ID          int64
	Username    string
	DisplayName string
	Note        string
	Fields      string // the jsonb text; "" stores NULL
	ActorType   string // "" stores NULL
	IDScheme    int    // 0: /users/USERNAME, 1: /ap/users/ID
	Key         KeyPair
	Disabled    bool // users.disabled
}

// AddLocal inserts a local account and the users row Mastodon gives it.
func (p *Postgres) AddLocal(tb testing.TB, db string, a Local) {
	tb.Helper()
	p.Exec(tb, db, `INSERT INTO accounts (id, username, private_key, public_key, display_name, note, fields,
			actor_type, id_scheme, discoverable, indexable, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, true, true, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')`,
		a.ID, a.Username, a.Key.PrivatePEM, a.Key.PublicPEM, a.DisplayName, a.Note, orNull(a.Fields),
		orNull(a.ActorType), a.IDScheme)
	p.Exec(tb, db, `INSERT INTO users (email, account_id, disabled, confirmed_at, created_at, updated_at)
		VALUES ($1 || '@mastodon.example', $2, $3, now(), now(), now())`, a.Username, a.ID, a.Disabled)
}

// Remote is an account of another server, as Mastodon caches it.
type Remote struct {
	ID          int64
	Username    string
	Domain      string
	URI         string // the actor id
	Inbox       string
	SharedInbox string // "" when the server has none
	OStatus     bool   // protocol 0, a dead OStatus peer
	Suspended   bool
}

// AddRemote inserts a remote account (protocol activitypub unless OStatus).
func (p *Postgres) AddRemote(tb testing.TB, db string, a Remote) {
	tb.Helper()
	protocol := 1
	if a.OStatus {
		protocol = 0
	}
	p.Exec(tb, db, `INSERT INTO accounts (id, username, domain, public_key, uri, url, inbox_url, shared_inbox_url,
			protocol, actor_type, suspended_at, created_at, updated_at)
		VALUES ($1, $2, $3, '-----BEGIN PUBLIC KEY-----', $4, $4, $5, $6, $7, 'Person',
			CASE WHEN $8 THEN now() AT TIME ZONE 'UTC' END, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')`,
		a.ID, a.Username, a.Domain, a.URI, a.Inbox, a.SharedInbox, protocol, a.Suspended)
}

// Follow is a row of follows: Account follows Target.
type Follow struct {
	ID        int64
	Account   int64  // the follower
	Target    int64  // the followed
	URI       string // the Follow activity id; "" stores NULL (very old rows)
	CreatedAt time.Time
}

// AddFollow inserts a follow.
func (p *Postgres) AddFollow(tb testing.TB, db string, f Follow) {
	tb.Helper()
	p.Exec(tb, db, `INSERT INTO follows (id, account_id, target_account_id, uri, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5)`, f.ID, f.Account, f.Target, orNull(f.URI), f.CreatedAt.UTC())
}

// Status is a row of statuses.
type Status struct {
	ID          int64
	Account     int64
	URI         string // "" stores NULL
	Text        string
	CreatedAt   time.Time
	Visibility  int   // 0 public, 1 unlisted, 2 private, 3 direct
	InReplyTo   int64 // the parent status; 0 for none
	ReblogOf    int64 // the boosted status; 0 for none
	SpoilerText string
	Sensitive   bool
	Deleted     bool
}

// AddStatus inserts a status; local, reply and in_reply_to_account_id
// follow from the account and the parent as Mastodon sets them.
func (p *Postgres) AddStatus(tb testing.TB, db string, s Status) {
	tb.Helper()
	p.Exec(tb, db, `INSERT INTO statuses (id, account_id, uri, text, created_at, updated_at, visibility,
			in_reply_to_id, in_reply_to_account_id, reply, reblog_of_id, spoiler_text, sensitive, deleted_at, local)
		VALUES ($1, $2, $3, $4, $5, $5, $6,
			$7, (SELECT account_id FROM statuses WHERE id = $7), $7::bigint IS NOT NULL, $8, $9, $10,
			CASE WHEN $11 THEN now() AT TIME ZONE 'UTC' END,
			(SELECT domain IS NULL FROM accounts WHERE id = $2))`,
		s.ID, s.Account, orNull(s.URI), s.Text, s.CreatedAt.UTC(), s.Visibility,
		orZero(s.InReplyTo), orZero(s.ReblogOf), s.SpoilerText, s.Sensitive, s.Deleted)
}

// orNull stores "" as NULL.
func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// orZero stores 0 as NULL.
func orZero(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
