package mastodon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nuttx-feed/nuttx-feed/internal/mastodon/mastodontest"
)

// base is the Mastodon server's https://WEB_DOMAIN in these tests.
const base = "https://mastodon.example"

// Account ids of the fixture.
const (
	botID   = 1001 // nuttx_build, the account taken over
	aliceID = 1002 // another local user
)

// dbCount names each test's database.
var dbCount atomic.Int64

// newMastodon creates a database with Mastodon's schema and returns its
// name.
func newMastodon(t *testing.T, pg *mastodontest.Postgres) string {
	t.Helper()
	name := fmt.Sprintf("mastodon_%d", dbCount.Add(1))
	pg.CreateDatabase(t, name)
	pg.LoadSchema(t, name)
	return name
}

// open opens db read-only, closed when the test ends.
func open(t *testing.T, pg *mastodontest.Postgres, db string) *DB {
	t.Helper()
	m, err := Open(context.Background(), pg.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// read reads username from db on base.
func read(t *testing.T, pg *mastodontest.Postgres, db, username string, statuses bool) (*Export, error) {
	t.Helper()
	return open(t, pg, db).Read(context.Background(), Request{Username: username, BaseURL: base, Statuses: statuses})
}

// bot is the account to take over, as the fixture stores it.
func bot(key mastodontest.KeyPair) mastodontest.Local {
	return mastodontest.Local{
		ID: botID, Username: "nuttx_build", DisplayName: "NuttX builds", Note: "Build results of Apache NuttX.\nBot.",
		Fields:    `[{"name": "Dashboard", "value": "https://nuttx.example/dash", "verified_at": null}, {"name": "Code", "value": "https://github.com/apache/nuttx"}]`,
		ActorType: "Service", Key: key,
	}
}

// at is a fixed time of the fixture.
func at(minute int) time.Time { return time.Date(2025, 3, 1, 12, minute, 0, 0, time.UTC) }

func TestRead(t *testing.T) {
	pg := mastodontest.Start(t)
	key := mastodontest.NewKeyPair(t)

	t.Run("account, remote followers and public statuses", func(t *testing.T) {
		db := newMastodon(t, pg)
		seed(t, pg, db, key)
		got, err := read(t, pg, db, "NuttX_Build", true)
		if err != nil {
			t.Fatal(err)
		}
		wantAccount := Account{
			ID: botID, Username: "nuttx_build", DisplayName: "NuttX builds", Note: "Build results of Apache NuttX.\nBot.",
			Fields:    []Field{{"Dashboard", "https://nuttx.example/dash"}, {"Code", "https://github.com/apache/nuttx"}},
			ActorType: "Service", PrivateKeyPEM: key.PrivatePEM, PublicKeyPEM: key.PublicPEM,
		}
		if !reflect.DeepEqual(got.Account, wantAccount) {
			t.Errorf("account\n got %+v\nwant %+v", got.Account, wantAccount)
		}
		// The key read back signs what followers' servers verify with the
		// public key they hold.
		priv, pub, err := got.Account.KeyPair()
		if err != nil {
			t.Fatal(err)
		}
		checkSigns(t, priv, key.PublicPEM)
		sameDER(t, pub, key.PublicPEM)
		wantFollowers := []Follower{
			{"https://social.example/users/bob", "https://social.example/users/bob/inbox", "https://social.example/inbox",
				"https://social.example/0a1b2c3d", at(1)},
			{"https://social.example/users/carol", "https://social.example/users/carol/inbox", "https://social.example/inbox",
				"https://social.example/users/carol#follow-imported-12", at(2)},
			{"https://gts.example/users/dave", "https://gts.example/users/dave/inbox", "",
				"https://gts.example/users/dave/follow/01HZX", at(3)},
		}
		if !reflect.DeepEqual(got.Followers, wantFollowers) {
			t.Errorf("followers\n got %+v\nwant %+v", got.Followers, wantFollowers)
		}
		if want := (Skipped{Local: 1, Suspended: 1, OStatus: 1, Incomplete: 1}); got.Skipped != want {
			t.Errorf("skipped %+v, want %+v", got.Skipped, want)
		}
		wantStatuses := []Status{
			{ID: 2001, Text: "First build report", CreatedAt: at(10), Visibility: Public, SpoilerText: "CI", Sensitive: true},
			{ID: 2002, Text: "@bob@social.example thanks", CreatedAt: at(11), Visibility: Unlisted,
				InReplyTo: "https://social.example/users/bob/statuses/99"},
			{ID: 2003, Text: "replying to alice", CreatedAt: at(12), Visibility: Public,
				InReplyTo: base + "/users/alice/statuses/2500"},
			{ID: 2004, Text: "replying to a numeric account", CreatedAt: at(13), Visibility: Public,
				InReplyTo: base + "/ap/users/1003/statuses/2600"},
			{ID: 2005, Text: "replying to myself", CreatedAt: at(14), Visibility: Public,
				InReplyTo: base + "/users/nuttx_build/statuses/2001"},
		}
		if !reflect.DeepEqual(got.Statuses, wantStatuses) {
			t.Errorf("statuses\n got %+v\nwant %+v", got.Statuses, wantStatuses)
		}
		if got.SchemaVersion != "20251217091936" {
			t.Errorf("schema version %q", got.SchemaVersion)
		}

		without, err := read(t, pg, db, "nuttx_build", false)
		if err != nil {
			t.Fatal(err)
		}
		if without.Statuses != nil || len(without.Followers) != 3 {
			t.Errorf("without statuses: %d statuses, %d followers", len(without.Statuses), len(without.Followers))
		}
	})

	t.Run("profile fields NULL or {} are none", func(t *testing.T) {
		db := newMastodon(t, pg)
		for i, fields := range []string{"", "{}"} {
			a := bot(key)
			a.ID, a.Username, a.Fields = int64(botID+i), fmt.Sprintf("bot%d", i), fields
			pg.AddLocal(t, db, a)
			got, err := read(t, pg, db, a.Username, false)
			if err != nil {
				t.Fatal(err)
			}
			if got.Account.Fields != nil {
				t.Errorf("fields %q: got %+v", fields, got.Account.Fields)
			}
		}
	})

	t.Run("an account from before id_scheme is /users/USERNAME", func(t *testing.T) {
		db := newMastodon(t, pg)
		pg.AddLocal(t, db, bot(key))
		pg.AddStatus(t, db, mastodontest.Status{ID: 2500, Account: botID, Text: "old", CreatedAt: at(1)})
		pg.AddStatus(t, db, mastodontest.Status{ID: 2501, Account: botID, Text: "reply", CreatedAt: at(2), InReplyTo: 2500})
		pg.Exec(t, db, `ALTER TABLE accounts DROP COLUMN id_scheme`)
		got, err := read(t, pg, db, "nuttx_build", true)
		if err != nil {
			t.Fatal(err)
		}
		if want := base + "/users/nuttx_build/statuses/2500"; len(got.Statuses) != 2 || got.Statuses[1].InReplyTo != want {
			t.Errorf("statuses %+v, want the reply to %s", got.Statuses, want)
		}
	})

	t.Run("refusals", func(t *testing.T) { testRefusals(t, pg, key) })
}

// seed fills db with the bot, its followers on two simulated servers and
// the followers that cannot be carried, and statuses of every kind.
func seed(t *testing.T, pg *mastodontest.Postgres, db string, key mastodontest.KeyPair) {
	pg.AddLocal(t, db, bot(key))
	pg.AddLocal(t, db, mastodontest.Local{ID: aliceID, Username: "alice", Key: mastodontest.NewKeyPair(t)})
	pg.AddLocal(t, db, mastodontest.Local{ID: 1003, Username: "numeric", IDScheme: 1, Key: key})
	remotes := []mastodontest.Remote{
		{ID: 5001, Username: "bob", Domain: "social.example", URI: "https://social.example/users/bob",
			Inbox: "https://social.example/users/bob/inbox", SharedInbox: "https://social.example/inbox"},
		{ID: 5002, Username: "carol", Domain: "social.example", URI: "https://social.example/users/carol",
			Inbox: "https://social.example/users/carol/inbox", SharedInbox: "https://social.example/inbox"},
		{ID: 5003, Username: "dave", Domain: "gts.example", URI: "https://gts.example/users/dave",
			Inbox: "https://gts.example/users/dave/inbox"}, // GoToSocial: no shared inbox
		{ID: 5004, Username: "eve", Domain: "bad.example", URI: "https://bad.example/users/eve",
			Inbox: "https://bad.example/users/eve/inbox", Suspended: true},
		{ID: 5005, Username: "old", Domain: "ostatus.example", URI: "https://ostatus.example/users/old",
			Inbox: "https://ostatus.example/users/old/inbox", OStatus: true},
		{ID: 5006, Username: "ghost", Domain: "social.example", URI: "https://social.example/users/ghost"},
	}
	for _, r := range remotes {
		pg.AddRemote(t, db, r)
	}
	for _, f := range []mastodontest.Follow{
		{ID: 11, Account: 5001, Target: botID, URI: "https://social.example/0a1b2c3d", CreatedAt: at(1)},
		{ID: 12, Account: 5002, Target: botID, CreatedAt: at(2)}, // a very old row: no uri
		{ID: 13, Account: 5003, Target: botID, URI: "https://gts.example/users/dave/follow/01HZX", CreatedAt: at(3)},
		{ID: 14, Account: 5004, Target: botID, URI: "https://bad.example/f/1", CreatedAt: at(4)},
		{ID: 15, Account: 5005, Target: botID, CreatedAt: at(5)},
		{ID: 16, Account: aliceID, Target: botID, URI: base + "/2f6e1c9a", CreatedAt: at(6)},
		{ID: 17, Account: 5006, Target: botID, CreatedAt: at(7)},
		{ID: 18, Account: botID, Target: 5001, URI: base + "/9b8c", CreatedAt: at(8)},                // whom the bot follows
		{ID: 19, Account: 5001, Target: aliceID, URI: "https://social.example/ff", CreatedAt: at(9)}, // alice's follower
	} {
		pg.AddFollow(t, db, f)
	}
	own := func(id int64) string { return fmt.Sprintf("%s/users/nuttx_build/statuses/%d", base, id) }
	for _, s := range []mastodontest.Status{
		{ID: 3001, Account: 5001, URI: "https://social.example/users/bob/statuses/99", Text: "<p>hi</p>", CreatedAt: at(9)},
		{ID: 2500, Account: aliceID, Text: "alice, uri never set", CreatedAt: at(9)},
		{ID: 2600, Account: 1003, Text: "numeric, uri never set", CreatedAt: at(9)},
		// The bot's, inserted out of order.
		{ID: 2003, Account: botID, URI: own(2003), Text: "replying to alice", CreatedAt: at(12), InReplyTo: 2500},
		{ID: 2001, Account: botID, Text: "First build report", CreatedAt: at(10), SpoilerText: "CI", Sensitive: true},
		{ID: 2002, Account: botID, URI: own(2002), Text: "@bob@social.example thanks", CreatedAt: at(11), Visibility: 1, InReplyTo: 3001},
		{ID: 2004, Account: botID, URI: own(2004), Text: "replying to a numeric account", CreatedAt: at(13), InReplyTo: 2600},
		{ID: 2005, Account: botID, URI: own(2005), Text: "replying to myself", CreatedAt: at(14), InReplyTo: 2001},
		{ID: 2006, Account: botID, URI: own(2006), Text: "followers only", CreatedAt: at(15), Visibility: 2},
		{ID: 2007, Account: botID, URI: own(2007), Text: "direct", CreatedAt: at(16), Visibility: 3},
		{ID: 2008, Account: botID, URI: own(2008) + "/activity", CreatedAt: at(17), ReblogOf: 3001},
		{ID: 2009, Account: botID, URI: own(2009), Text: "deleted", CreatedAt: at(18), Deleted: true},
		{ID: 2601, Account: aliceID, URI: base + "/users/alice/statuses/2601", Text: "alice's", CreatedAt: at(19)},
	} {
		pg.AddStatus(t, db, s)
	}
}

// testRefusals checks each account or database Read refuses, and that the
// error says why.
func testRefusals(t *testing.T, pg *mastodontest.Postgres, key mastodontest.KeyPair) {
	for _, tc := range []struct {
		name     string
		username string
		setup    func(t *testing.T, db string)
		want     error
		says     []string
		notSays  []string
	}{
		{"not found lists the local accounts", "nobody", nil, ErrNotFound,
			[]string{`"nobody"`, "local accounts: alice, nuttx_build"}, []string{"mastodon.example"}},
		{"the instance actor is not an account to take", "mastodon.example", nil, ErrNotFound, []string{"alice"}, nil},
		{"numeric ActivityPub ids", "nuttx_build", func(t *testing.T, db string) {
			pg.Exec(t, db, `UPDATE accounts SET id_scheme = 1 WHERE id = $1`, botID)
		}, ErrNumericIDs, []string{base + "/ap/users/1001", base + "/users/nuttx_build"}, nil},
		{"keys moved to the keypairs table", "nuttx_build", func(t *testing.T, db string) {
			pg.MoveKeysToKeypairs(t, db)
		}, ErrEncryptedKeys, []string{"the database has a keypairs table", "ACTIVE_RECORD_ENCRYPTION"}, nil},
		{"a keypairs table, accounts.private_key still set", "nuttx_build", func(t *testing.T, db string) {
			// Mastodon may hold a newer key there than the one left behind.
			pg.Exec(t, db, `CREATE TABLE keypairs (id bigserial PRIMARY KEY)`)
		}, ErrEncryptedKeys, []string{"the database has a keypairs table"}, nil},
		{"no private_key column", "nuttx_build", func(t *testing.T, db string) {
			pg.Exec(t, db, `ALTER TABLE accounts DROP COLUMN private_key`)
		}, ErrEncryptedKeys, []string{"no private_key column"}, nil},
		{"no private key", "nuttx_build", func(t *testing.T, db string) {
			pg.Exec(t, db, `UPDATE accounts SET private_key = NULL WHERE id = $1`, botID)
		}, ErrEncryptedKeys, []string{"the key of @nuttx_build is not in accounts"}, nil},
		{"empty public key", "nuttx_build", func(t *testing.T, db string) {
			pg.Exec(t, db, `UPDATE accounts SET public_key = '' WHERE id = $1`, botID)
		}, ErrEncryptedKeys, []string{"the key of @nuttx_build is not in accounts"}, nil},
		{"suspended", "nuttx_build", func(t *testing.T, db string) {
			pg.Exec(t, db, `UPDATE accounts SET suspended_at = now() WHERE id = $1`, botID)
		}, ErrSuspended, []string{"@nuttx_build"}, nil},
		{"moved", "nuttx_build", func(t *testing.T, db string) {
			pg.AddRemote(t, db, mastodontest.Remote{ID: 5100, Username: "nuttx", Domain: "new.example",
				URI: "https://new.example/users/nuttx", Inbox: "https://new.example/users/nuttx/inbox"})
			pg.Exec(t, db, `UPDATE accounts SET moved_to_account_id = 5100 WHERE id = $1`, botID)
		}, ErrMoved, []string{"@nuttx@new.example"}, nil},
		{"disabled", "nuttx_build", func(t *testing.T, db string) {
			pg.Exec(t, db, `UPDATE users SET disabled = true WHERE account_id = $1`, botID)
		}, ErrDisabled, []string{"@nuttx_build"}, nil},
		{"memorial", "nuttx_build", func(t *testing.T, db string) {
			pg.Exec(t, db, `UPDATE accounts SET memorial = true WHERE id = $1`, botID)
		}, ErrMemorial, []string{"@nuttx_build"}, nil},
		{"statuses on another host", "nuttx_build", func(t *testing.T, db string) {
			pg.AddStatus(t, db, mastodontest.Status{ID: 2001, Account: botID, CreatedAt: at(1),
				URI: "https://toot.example/users/nuttx_build/statuses/2001"})
		}, ErrWrongBaseURL, []string{"https://toot.example/users/nuttx_build/statuses/2001", base}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := newMastodon(t, pg)
			pg.AddLocal(t, db, bot(key))
			pg.AddLocal(t, db, mastodontest.Local{ID: aliceID, Username: "alice", Key: key})
			if tc.setup != nil {
				tc.setup(t, db)
			}
			_, err := read(t, pg, db, tc.username, true)
			checkErr(t, err, tc.want, tc.says, tc.notSays)
		})
	}

	t.Run("no local accounts", func(t *testing.T) {
		_, err := read(t, pg, newMastodon(t, pg), "nuttx_build", false)
		checkErr(t, err, ErrNotFound, []string{"there are none"}, nil)
	})
	t.Run("not a Mastodon database", func(t *testing.T) {
		db := fmt.Sprintf("empty_%d", dbCount.Add(1))
		pg.CreateDatabase(t, db)
		_, err := read(t, pg, db, "nuttx_build", false)
		checkErr(t, err, ErrNotMastodon, []string{"no accounts table"}, nil)
	})
	t.Run("a base URL that is not one", func(t *testing.T) {
		_, err := open(t, pg, newMastodon(t, pg)).Read(context.Background(), Request{Username: "nuttx_build", BaseURL: "mastodon.example"})
		checkErr(t, err, nil, []string{`"mastodon.example"`}, nil)
	})
}

// checkErr checks err wraps want (unless nil), is one line, and says and
// does not say the given parts.
func checkErr(t *testing.T, err, want error, says, notSays []string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if want != nil && !errors.Is(err, want) {
		t.Errorf("error %q, want %q", err, want)
	}
	msg := err.Error()
	t.Log(msg)
	if strings.Contains(msg, "\n") {
		t.Errorf("error has several lines: %q", msg)
	}
	for _, s := range says {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q does not say %q", msg, s)
		}
	}
	for _, s := range notSays {
		if strings.Contains(msg, s) {
			t.Errorf("error %q says %q", msg, s)
		}
	}
}

// TestReadOnly checks nothing can be written through the connection: not
// outside Read's transactions (default_transaction_read_only), and not
// inside them even when the session default is turned off (READ ONLY).
func TestReadOnly(t *testing.T) {
	pg := mastodontest.Start(t)
	db := newMastodon(t, pg)
	m := open(t, pg, db)
	ctx := context.Background()
	insert := `INSERT INTO schema_migrations (version) VALUES ('1')`

	_, err := m.conn.Exec(ctx, insert)
	checkReadOnly(t, err)

	if _, err := m.conn.Exec(ctx, `SET default_transaction_read_only = off`); err != nil {
		t.Fatal(err)
	}
	err = m.read(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, insert)
		return err
	})
	checkReadOnly(t, err)
}

// checkReadOnly checks err is PostgreSQL's refusal to write in a read-only
// transaction.
func checkReadOnly(t *testing.T, err error) {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "25006" {
		t.Errorf("write: %v, want read_only_sql_transaction (25006)", err)
	}
}

func TestOpenErrors(t *testing.T) {
	pg := mastodontest.Start(t)
	const password = "s3cr3t-pw"
	for _, tc := range []struct {
		name, url string
		says      []string
	}{
		{"nothing listening", fmt.Sprintf("postgres://mastodon:%s@127.0.0.1:%d/mastodon_production", password, closedPort(t)),
			[]string{"cannot connect", "postgres://mastodon:xxxxx@127.0.0.1:"}},
		{"no such database", strings.Replace(pg.URL("nosuchdb"), "postgres@", "postgres:"+password+"@", 1),
			[]string{"cannot connect", `"nosuchdb" does not exist`}},
		{"not a URL", "postgres://mastodon:" + password + "@db:notaport/mastodon", []string{"database URL"}},
		{"key=value form", "host=127.0.0.1 port=" + fmt.Sprint(closedPort(t)) + " password=" + password + " dbname=mastodon",
			[]string{"cannot connect"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Open(context.Background(), tc.url)
			if err == nil {
				m.Close()
			}
			checkErr(t, err, nil, tc.says, []string{password})
		})
	}
}

// closedPort returns a port of 127.0.0.1 nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
