package server

import (
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/mastodon/mastodontest"
)

// mastodonServer is a Mastodon database with the account to take over,
// nuttx_build (id 1001), on base.
type mastodonServer struct {
	pg  *mastodontest.Postgres
	db  string
	url string
	key mastodontest.KeyPair
}

func newMastodonServer(t *testing.T, idScheme int) *mastodonServer {
	t.Helper()
	m := &mastodonServer{pg: mastodontest.Start(t), db: "mastodon_production", key: mastodontest.NewKeyPair(t)}
	m.url = m.pg.CreateDatabase(t, m.db)
	m.pg.LoadSchema(t, m.db)
	m.pg.AddLocal(t, m.db, mastodontest.Local{ID: 1001, Username: "nuttx_build", DisplayName: "NuttX Build",
		Note: "Failed builds of #NuttX", ActorType: "Service", IDScheme: idScheme, Key: m.key,
		Fields: `[{"name": "Dashboard", "value": "https://nuttx-dashboard.org"}, {"name": "Mail", "value": "ci at example.org"}]`})
	return m
}

// follower makes r a follower of the bot in Mastodon's database.
func (m *mastodonServer) follower(t *testing.T, id int64, r *fedtest.Remote, shared bool) {
	t.Helper()
	sharedInbox := ""
	if shared {
		sharedInbox = r.SharedInboxURL()
	}
	m.pg.AddRemote(t, m.db, mastodontest.Remote{ID: id, Username: r.Username, Domain: strings.TrimPrefix(r.Server.URL, "http://"),
		URI: r.ActorID(), Inbox: r.Inbox(), SharedInbox: sharedInbox})
	m.pg.AddFollow(t, m.db, mastodontest.Follow{ID: id, Account: id, Target: 1001, URI: r.ActorID() + "/follow/1", CreatedAt: time.Now().Add(-24 * time.Hour)})
}

// TestImportMastodon takes over the account: a dry run changes nothing,
// the import takes key, profile, followers and posts, a second one adds
// nothing, and then both followers' servers get the next post signed with
// the imported key, while the old posts answer at their old URLs.
func TestImportMastodon(t *testing.T) {
	clearSettingsEnv(t)
	ln := listen(t)
	cfg := startConfig(t, ln)
	base := cfg.BaseURL
	m := newMastodonServer(t, 0)
	oldKey := func(string) (*rsa.PublicKey, error) { return &m.key.Key.PublicKey, nil } // what followers' servers hold
	mast := fedtest.New(t, "alice", fedtest.Mastodon, oldKey)
	gts := fedtest.New(t, "bob", fedtest.GoToSocial, oldKey)
	m.follower(t, 2001, mast, true)
	m.follower(t, 2002, gts, false) // GoToSocial has no shared inbox
	old := base + "/users/nuttx_build/statuses/"
	published := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	m.pg.AddStatus(t, m.db, mastodontest.Status{ID: 114000000000000001, Account: 1001, URI: old + "114000000000000001",
		Text: "rv-virt:citest - Build Failed #NuttX", CreatedAt: published})
	m.pg.AddStatus(t, m.db, mastodontest.Status{ID: 114000000000000002, Account: 1001, URI: old + "114000000000000002",
		Text: "fixed", CreatedAt: published.Add(time.Hour), Visibility: 1, InReplyTo: 114000000000000001, SpoilerText: "a long log"})
	m.pg.AddStatus(t, m.db, mastodontest.Status{ID: 114000000000000003, Account: 1001, URI: old + "114000000000000003",
		Text: "followers only", CreatedAt: published, Visibility: 2})

	args := []string{"import", "mastodon", "--data", cfg.DataDir, "--base-url", base, "--statuses"}
	t.Setenv("NUTTX_FEED_DATABASE_URL", m.url)
	code, out, stderr := run(args...)
	if code != 0 || !strings.Contains(out, "followers:  2 on 1 servers") || !strings.Contains(out, "posts:      2 public and unlisted") ||
		!strings.Contains(out, "Would write into") || !strings.Contains(out, `left out: field "Mail"`) || !strings.Contains(out, "Dry run") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, stderr)
	}
	if databaseExists(cfg.DataDir) {
		t.Fatal("the dry run made a database")
	}
	code, out, stderr = run(append(args, "--apply")...)
	if code != 0 || !strings.Contains(out, "created with the imported key") || !strings.Contains(out, "followers:  2 added, 0 already here") ||
		!strings.Contains(out, "posts:      2 added") {
		t.Fatalf("import: exit %d\n%s%s", code, out, stderr)
	}
	before := filesOf(t, cfg.DataDir)
	if code, out, stderr := run(args...); code != 0 || !strings.Contains(out, "followers:  0 added, 2 already here") {
		t.Fatalf("dry run after the import: exit %d\n%s%s", code, out, stderr)
	}
	if after := filesOf(t, cfg.DataDir); after != before {
		t.Fatalf("a dry run changed the data folder's files:\n%s\nthen\n%s", before, after)
	}
	code, out, stderr = run(append(args, "--apply")...)
	if code != 0 || !strings.Contains(out, "already imported") || !strings.Contains(out, "followers:  0 added, 2 already here") ||
		!strings.Contains(out, "posts:      0 added, 2 already here") {
		t.Fatalf("second import: exit %d\n%s%s", code, out, stderr)
	}

	ts := startWith(t, cfg, ln)
	actor := getJSON(t, base+"/users/nuttx_build")
	if pk, _ := actor["publicKey"].(map[string]any); pk["publicKeyPem"] != m.key.PublicPEM || pk["id"] != base+"/users/nuttx_build#main-key" {
		t.Errorf("actor key %v; want Mastodon's key under #main-key", actor["publicKey"])
	}
	if actor["name"] != "NuttX Build" || !strings.Contains(actor["summary"].(string), "Failed builds of") {
		t.Errorf("actor profile: %v %v", actor["name"], actor["summary"])
	}
	ts.publish(t, "the first post after the switch-over")
	for _, r := range []*fedtest.Remote{mast, gts} {
		d := r.WaitDeliveries(t, 1, 15*time.Second)[0]
		if d.VerifyErr != nil || d.Activity["type"] != "Create" || !strings.HasPrefix(d.Header.Get("Signature"), `keyId="`+base+`/users/nuttx_build#main-key"`) {
			t.Errorf("%s got %v, signature %q: %v", r.Username, d.Activity["type"], d.Header.Get("Signature"), d.VerifyErr)
		}
		if d.Path != "/users/"+r.Username+"/inbox" && d.Path != "/inbox" {
			t.Errorf("%s: delivered to %s", r.Username, d.Path)
		}
	}
	// The old posts answer at their old URLs, as a note and as a page.
	note := getJSON(t, old+"114000000000000002")
	if note["id"] != old+"114000000000000002" || note["inReplyTo"] != old+"114000000000000001" || !sameList(note["cc"], "https://www.w3.org/ns/activitystreams#Public") ||
		note["summary"] != "a long log" || note["sensitive"] != true {
		t.Errorf("imported reply: %v", note)
	}
	if resp, body := get(t, base+"/@nuttx_build/114000000000000001", "text/html"); resp.StatusCode != 200 || !strings.Contains(string(body), "rv-virt:citest") {
		t.Errorf("page of an imported post: %d", resp.StatusCode)
	}
	if _, body := get(t, base+"/@nuttx_build/114000000000000002", "text/html"); !strings.Contains(string(body), `<details class="content"><summary>a long log</summary><p>fixed</p></details>`) {
		t.Errorf("page of an imported post behind a content warning:\n%s", body)
	}
	if resp, _ := get(t, old+"114000000000000003", "application/activity+json"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a followers-only post was imported: %d", resp.StatusCode)
	}
}

// filesOf is the names, sizes and SHA-256 of the files in dir.
func filesOf(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d %x\n", e.Name(), len(data), sha256.Sum256(data))
	}
	return b.String()
}

// TestImportMastodonRefusals: what the import cannot carry is refused
// with the reason, and leaves no database behind.
func TestImportMastodonRefusals(t *testing.T) {
	clearSettingsEnv(t)
	numeric := newMastodonServer(t, 1)
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no database URL", []string{"--base-url", "https://nuttx-feed.org"}, 2, "--database-url (or NUTTX_FEED_DATABASE_URL) is required"},
		{"no base URL", []string{"--database-url", numeric.url}, 2, "--base-url is required for a new database"},
		{"numeric ids", []string{"--database-url", numeric.url, "--base-url", "https://nuttx-feed.org", "--apply"}, 1, "/ap/users/1001"},
		{"unknown account", []string{"--database-url", numeric.url, "--base-url", "https://nuttx-feed.org", "--username", "nobody"}, 1, "nuttx_build"},
		{"nothing listening", []string{"--database-url", "postgres://mastodon:s3cret@" + closedPort(t, "127.0.0.1") + "/mastodon_production",
			"--base-url", "https://nuttx-feed.org"}, 1, "xxxxx"},
	} {
		code, _, stderr := run(append([]string{"import", "mastodon", "--data", dir}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "s3cret") {
			t.Errorf("%s: exit %d, %q; want exit %d and %q", c.name, code, stderr, c.code, c.want)
		}
	}
	// A refused --apply on a new folder leaves an empty database at most,
	// which is no database: serve starts afresh there.
	if databaseExists(dir) {
		t.Errorf("a refused import left a database in %s", dir)
	}

	// While serve runs, a dry run works (on a snapshot) and the import
	// waits for serve to stop.
	ts := startServer(t)
	m := newMastodonServer(t, 0)
	t.Setenv("NUTTX_FEED_DATABASE_URL", m.url)
	if code, out, stderr := run("import", "mastodon", "--data", ts.Dir); code != 0 || !strings.Contains(out, "its key and profile replaced by Mastodon's") {
		t.Errorf("dry run beside serve: exit %d, %q %q", code, out, stderr)
	}
	code, _, stderr := run("import", "mastodon", "--data", ts.Dir, "--apply")
	if code != 1 || !strings.Contains(stderr, "another nuttx-feed serve is using") {
		t.Errorf("import beside serve: exit %d, %q", code, stderr)
	}
}
