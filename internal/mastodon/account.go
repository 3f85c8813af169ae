package mastodon

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// instanceActorID is the id of the instance actor Mastodon seeds: a local
// account (named after LOCAL_DOMAIN) that is nobody's to take over.
const instanceActorID = -99

// The values of accounts.id_scheme: username_ap_id, the actor id
// https://HOST/users/USERNAME that nuttx-feed serves, and numeric_ap_id,
// https://HOST/ap/users/ID.
const (
	idSchemeUsername = 0
	idSchemeNumeric  = 1
)

// layout is what Read found of the database's schema: Mastodon's layout
// changed over its versions.
type layout struct {
	version  string          // newest schema_migrations version
	keypairs bool            // keys moved to the keypairs table (after 4.5)
	columns  map[string]bool // the columns of accounts
}

// column returns alias.name when accounts has the column name, else
// fallback (an SQL expression of the value it stands for).
func (l layout) column(alias, name, fallback string) string {
	if l.columns[name] {
		return alias + "." + name
	}
	return fallback
}

// readLayout checks the database is Mastodon's and reads its layout.
func readLayout(ctx context.Context, tx pgx.Tx) (layout, error) {
	l := layout{columns: map[string]bool{}}
	var accounts, follows, statuses, users, migrations bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass('accounts') IS NOT NULL, to_regclass('follows') IS NOT NULL,
			to_regclass('statuses') IS NOT NULL, to_regclass('users') IS NOT NULL,
			to_regclass('keypairs') IS NOT NULL, to_regclass('schema_migrations') IS NOT NULL`).
		Scan(&accounts, &follows, &statuses, &users, &l.keypairs, &migrations); err != nil {
		return l, fmt.Errorf("the Mastodon database: read its tables: %w", err)
	}
	for _, t := range []struct {
		name  string
		found bool
	}{{"accounts", accounts}, {"follows", follows}, {"statuses", statuses}, {"users", users}} {
		if !t.found {
			return l, fmt.Errorf("%w: it has no %s table (is the URL's database Mastodon's, such as mastodon_production?)", ErrNotMastodon, t.name)
		}
	}
	if migrations {
		var v *string
		if err := tx.QueryRow(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
			return l, fmt.Errorf("the Mastodon database: read schema_migrations: %w", err)
		}
		if v != nil {
			l.version = *v
		}
	}
	rows, err := tx.Query(ctx, `SELECT attname FROM pg_attribute
		WHERE attrelid = to_regclass('accounts') AND attnum > 0 AND NOT attisdropped`)
	if err != nil {
		return l, fmt.Errorf("the Mastodon database: read the columns of accounts: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return l, fmt.Errorf("the Mastodon database: read the columns of accounts: %w", err)
	}
	for _, n := range names {
		l.columns[n] = true
	}
	return l, nil
}

// account is the account row with what Read checks before taking it.
type account struct {
	Account
	privateKey   *string // NULL once moved to keypairs
	idScheme     int
	suspended    bool
	moved        bool
	movedTo      string // @user@domain of the new account, when known
	memorial     bool
	disabled     bool // its users row is disabled
	fieldsRaw    []byte
	hasKeyColumn bool
}

// findAccount looks the local account up by name, any case.
func findAccount(ctx context.Context, tx pgx.Tx, l layout, username string) (*account, error) {
	a := account{hasKeyColumn: l.columns["private_key"]}
	var movedUser, movedDomain *string
	err := tx.QueryRow(ctx, `SELECT a.id, a.username, a.display_name, a.note, a.fields, COALESCE(a.actor_type, ''),
			`+l.column("a", "private_key", "NULL::text")+`, a.public_key,
			COALESCE(`+l.column("a", "id_scheme", "NULL::integer")+`, 0),
			a.suspended_at IS NOT NULL, a.moved_to_account_id IS NOT NULL, m.username, m.domain,
			`+l.column("a", "memorial", "false")+`,
			EXISTS (SELECT 1 FROM users u WHERE u.account_id = a.id AND u.disabled)
		FROM accounts a LEFT JOIN accounts m ON m.id = a.moved_to_account_id
		WHERE lower(a.username) = lower($1) AND a.domain IS NULL AND a.id <> $2`, username, instanceActorID).
		Scan(&a.ID, &a.Username, &a.DisplayName, &a.Note, &a.fieldsRaw, &a.ActorType,
			&a.privateKey, &a.PublicKeyPEM, &a.idScheme,
			&a.suspended, &a.moved, &movedUser, &movedDomain, &a.memorial, &a.disabled)
	switch {
	case err == pgx.ErrNoRows:
		return nil, notFound(ctx, tx, username)
	case err != nil:
		return nil, fmt.Errorf("the Mastodon database: read account %q: %w", username, err)
	}
	if a.privateKey != nil {
		a.PrivateKeyPEM = *a.privateKey
	}
	if movedUser != nil {
		a.movedTo = "@" + *movedUser
		if movedDomain != nil {
			a.movedTo += "@" + *movedDomain
		}
	}
	if a.Fields, err = parseFields(a.fieldsRaw); err != nil {
		return nil, fmt.Errorf("the Mastodon database: profile fields of @%s: %w", a.Username, err)
	}
	return &a, nil
}

// maxListed bounds the account names an ErrNotFound message lists.
const maxListed = 50

// notFound is the ErrNotFound error for username, listing the local
// accounts there are.
func notFound(ctx context.Context, tx pgx.Tx, username string) error {
	rows, err := tx.Query(ctx, `SELECT username FROM accounts WHERE domain IS NULL AND id <> $1
		ORDER BY lower(username) LIMIT $2`, instanceActorID, maxListed+1)
	if err != nil {
		return fmt.Errorf("the Mastodon database: list local accounts: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("the Mastodon database: list local accounts: %w", err)
	}
	list := "there are none"
	switch {
	case len(names) > maxListed:
		list = "local accounts: " + strings.Join(names[:maxListed], ", ") + ", ..."
	case len(names) > 0:
		list = "local accounts: " + strings.Join(names, ", ")
	}
	return fmt.Errorf("%w %q in the Mastodon database (%s)", ErrNotFound, username, list)
}

// parseFields decodes accounts.fields: an array of {name, value,
// verified_at}; NULL, or an object (a stray {}), means none.
func parseFields(raw []byte) ([]Field, error) {
	if s := strings.TrimSpace(string(raw)); !strings.HasPrefix(s, "[") {
		return nil, nil
	}
	var list []map[string]any // any shape: a field that is not two strings is left out
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, err
	}
	var fields []Field
	for _, f := range list {
		name, _ := f["name"].(string)
		value, _ := f["value"].(string)
		if name != "" || value != "" {
			fields = append(fields, Field{Name: name, Value: value})
		}
	}
	return fields, nil
}

// keysLost ends every ErrEncryptedKeys message: why nuttx-feed stops.
const keysLost = "it is encrypted with the Mastodon server's Active Record encryption keys " +
	"(ACTIVE_RECORD_ENCRYPTION_* in .env.production), so nuttx-feed cannot import it, " +
	"and a new key would make every follower's server reject the bot's posts"

// check refuses an account that cannot be taken over, saying why.
func (a *account) check(l layout, site urls.Site) error {
	switch {
	case l.keypairs:
		return fmt.Errorf("%w: the database has a keypairs table (Mastodon after 4.5), and Mastodon signs with the key kept there; %s",
			ErrEncryptedKeys, keysLost)
	case !a.hasKeyColumn:
		return fmt.Errorf("%w: accounts has no private_key column (keys moved to the keypairs table); %s", ErrEncryptedKeys, keysLost)
	case a.privateKey == nil || strings.TrimSpace(*a.privateKey) == "" || strings.TrimSpace(a.PublicKeyPEM) == "":
		return fmt.Errorf("%w: the key of @%s is not in accounts.private_key and public_key (moved to the keypairs table?); %s",
			ErrEncryptedKeys, a.Username, keysLost)
	case a.idScheme != idSchemeUsername:
		return fmt.Errorf("%w: @%s has id_scheme %d, so its followers know it as %s/ap/users/%d, but nuttx-feed serves %s; "+
			"importing it would lose every follower (Mastodon 4.5 gives new accounts numeric ids; only id_scheme 0 accounts can move)",
			ErrNumericIDs, a.Username, a.idScheme, site.Base(), a.ID, site.Actor(a.Username))
	case a.suspended:
		return fmt.Errorf("%w: @%s is suspended on Mastodon; lift the suspension there first if this is the right account", ErrSuspended, a.Username)
	case a.moved:
		return fmt.Errorf("%w: @%s redirects to %s, and Mastodon moved its followers there; cancel the move in Mastodon first if this is the right account",
			ErrMoved, a.Username, orUnknown(a.movedTo))
	case a.disabled:
		return fmt.Errorf("%w: the login of @%s is disabled on Mastodon; enable it there first if this is the right account", ErrDisabled, a.Username)
	case a.memorial:
		return fmt.Errorf("%w: @%s is a memorial account on Mastodon, kept as it is", ErrMemorial, a.Username)
	}
	return nil
}

// orUnknown returns s, or "another account" when s is empty.
func orUnknown(s string) string {
	if s == "" {
		return "another account"
	}
	return s
}

// parent is the parent of a status, as the LEFT JOINs of readStatuses
// return it: all NULL when the status is not a reply.
type parent struct {
	id        *int64
	stored    *string // its uri
	local     *bool
	accountID *int64
	username  *string
	idScheme  int
}

// uri returns the parent's uri: as stored, or derived as Mastodon derives
// a local status's when it left the column NULL.
func (p parent) uri(site urls.Site) string {
	switch {
	case p.id == nil:
		return ""
	case p.stored != nil && *p.stored != "":
		return *p.stored
	case p.local == nil || !*p.local || p.username == nil || p.accountID == nil:
		return "" // a remote status always has its uri; without one it cannot be named
	case p.idScheme == idSchemeNumeric:
		return fmt.Sprintf("%s/ap/users/%d/statuses/%d", site.Base(), *p.accountID, *p.id)
	default:
		return site.Note(*p.username, strconv.FormatInt(*p.id, 10))
	}
}
