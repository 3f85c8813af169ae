package server

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"image/color"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// startFeedServer runs a server whose catalog holds rv-virt:citest
// (risc-v), rv-virt:python (risc-v) and sim:nsh (sim).
func startFeedServer(t *testing.T) *testServer {
	t.Helper()
	ts := startServer(t, func(c *Config) { c.HistoryURLTemplate = "https://history.example/{board}/{config}" })
	err := ts.store.Update(t.Context(), func(tx *store.Tx) error {
		_, err := tx.SeeTargets([]store.CatalogTarget{
			{Target: "rv-virt:citest", Board: "rv-virt", Config: "citest", Arch: "risc-v"},
			{Target: "rv-virt:python", Board: "rv-virt", Config: "python", Arch: "risc-v"},
			{Target: "sim:nsh", Board: "sim", Config: "nsh", Arch: "sim"},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// hostOf is the host name (without port) of a test server, as handles
// carry it.
func hostOf(ts *testServer) string {
	return strings.Split(strings.TrimPrefix(ts.URL, "http://"), ":")[0]
}

// webFinger asks ts for acct:name@host and returns the status and JRD.
func webFinger(t *testing.T, ts *testServer, name string) (int, map[string]any) {
	t.Helper()
	resp, body := get(t, ts.URL+"/.well-known/webfinger?resource="+url.QueryEscape("acct:"+name+"@"+hostOf(ts)), "application/jrd+json")
	var jrd map[string]any
	json.Unmarshal(body, &jrd)
	return resp.StatusCode, jrd
}

// actorRows counts the actors rows named name.
func actorRows(t *testing.T, ts *testServer, name string) int {
	var n int
	if err := ts.sql(t).QueryRow(`SELECT COUNT(*) FROM actors WHERE username = ?`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFeedAccountsFollowFlow is the bot's follow story for each kind of
// feed account, on loopback: WebFinger finds it; its outbox, followers,
// following and profile page answer without creating it; its actor
// document creates it, with its own key; a Follow is Accepted, signed with
// that key (the remote verifies it with the key from the actor document);
// the follower is stored, and an Undo removes it.
func TestFeedAccountsFollowFlow(t *testing.T) {
	t.Parallel()
	ts := startFeedServer(t)
	for _, c := range []struct{ name, kind, display string }{
		{"rv-virt", store.KindBoard, "rv-virt builds"},
		{"rv-virt.citest", store.KindTarget, "rv-virt:citest builds"},
		{"arch.risc-v", store.KindArch, "risc-v builds"},
	} {
		t.Run(c.kind, func(t *testing.T) {
			actorURL := ts.URL + "/users/" + c.name
			status, jrd := webFinger(t, ts, c.name)
			links, _ := jrd["links"].([]any)
			if status != http.StatusOK || jrd["subject"] != "acct:"+c.name+"@"+hostOf(ts) || len(links) != 3 {
				t.Fatalf("webfinger: %d %v", status, jrd)
			}
			if self, _ := links[0].(map[string]any); self["href"] != actorURL {
				t.Fatalf("self link %v, want %s", self, actorURL)
			}
			if avatar, _ := links[2].(map[string]any); avatar["href"] != ts.URL+"/static/avatar.png" {
				t.Errorf("avatar link %v, want the firehose's (the default)", avatar)
			}

			for _, path := range []string{"/outbox", "/outbox?page=true", "/followers", "/followers?page=1", "/following"} {
				if doc := getJSON(t, actorURL+path); doc["totalItems"] != 0.0 {
					t.Errorf("%s: totalItems %v, want 0", path, doc["totalItems"])
				}
			}
			if resp, page := get(t, ts.URL+"/@"+c.name, "text/html"); resp.StatusCode != http.StatusOK || !strings.Contains(string(page), c.display) {
				t.Errorf("profile page: %d, want 200 naming %q", resp.StatusCode, c.display)
			}
			if n := actorRows(t, ts, c.name); n != 0 {
				t.Fatalf("%d actors rows after WebFinger, collections and the page; want 0", n)
			}

			actor := getJSON(t, actorURL)
			key, _ := actor["publicKey"].(map[string]any)
			endpoints, _ := actor["endpoints"].(map[string]any)
			summary, _ := actor["summary"].(string)
			if actor["type"] != "Service" || actor["id"] != actorURL || actor["name"] != c.display || actor["preferredUsername"] != c.name ||
				actor["inbox"] != actorURL+"/inbox" || actor["outbox"] != actorURL+"/outbox" || actor["followers"] != actorURL+"/followers" ||
				endpoints["sharedInbox"] != ts.URL+"/inbox" || key["id"] != actorURL+"#main-key" || key["owner"] != actorURL ||
				!strings.Contains(summary, "nuttx_build@"+hostOf(ts)) {
				t.Fatalf("actor document = %v", actor)
			}
			pub, err := fedtest.ParsePublicKey(key["publicKeyPem"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if n := actorRows(t, ts, c.name); n != 1 {
				t.Fatalf("%d actors rows after the actor document, want 1", n)
			}
			if bot := getJSON(t, ts.URL+"/users/nuttx_build")["publicKey"].(map[string]any); bot["publicKeyPem"] == key["publicKeyPem"] {
				t.Fatal("the feed account has the bot's key")
			}

			// A remote that verifies this account's requests with the key
			// of its actor document, as read above (and the bot's signed
			// fetches with the bot's).
			r := fedtest.New(t, "alice", fedtest.Mastodon, func(keyID string) (*rsa.PublicKey, error) {
				if keyID == actorURL+"#main-key" {
					return pub, nil
				}
				return fedtest.FetchKeys(keyID)
			})
			follow := r.FollowActivity(actorURL)
			if resp, err := r.Post(endpoints["sharedInbox"].(string), follow); err != nil || resp.StatusCode != http.StatusAccepted {
				t.Fatalf("Follow: %v %v", resp, err)
			}
			d := r.WaitDeliveries(t, 1, 10*time.Second)[0]
			if obj, _ := d.Activity["object"].(map[string]any); d.VerifyErr != nil || d.Activity["type"] != "Accept" || d.Activity["actor"] != actorURL || obj["id"] != follow["id"] {
				t.Fatalf("delivery: %v %v; want an Accept by %s signed with its key", d.VerifyErr, d.Activity, c.name)
			}
			if sig := d.Header.Get("Signature"); !strings.Contains(sig, `keyId="`+actorURL+`#main-key"`) {
				t.Fatalf("Accept signed %s, want with %s#main-key", sig, actorURL)
			}
			followers := func() int {
				var n int
				ts.sql(t).QueryRow(`SELECT COUNT(*) FROM followers f JOIN actors a ON a.id = f.actor_id WHERE a.username = ? AND f.follower = ?`, c.name, r.ActorID()).Scan(&n)
				return n
			}
			if n := followers(); n != 1 {
				t.Fatalf("%d followers stored, want 1", n)
			}
			if doc := getJSON(t, actorURL+"/followers"); doc["totalItems"] != 1.0 {
				t.Errorf("followers collection: %v, want 1", doc["totalItems"])
			}
			if resp, err := r.Post(actorURL+"/inbox", r.UndoActivity(follow)); err != nil || resp.StatusCode != http.StatusAccepted {
				t.Fatalf("Undo: %v %v", resp, err)
			}
			if n := followers(); n != 0 {
				t.Errorf("%d followers after the Undo, want 0", n)
			}
		})
	}
}

// TestFollowBeforeFetch: a Follow sent to the personal inbox of a feed
// account nobody fetched yet creates it and is Accepted; a Follow or Undo
// to an unknown account's inbox is 404 and creates nothing.
func TestFollowBeforeFetch(t *testing.T) {
	t.Parallel()
	ts := startFeedServer(t)
	r := fedtest.New(t, "bob", fedtest.GoToSocial, fedtest.FetchKeys)
	actorURL := ts.URL + "/users/sim.nsh"
	if resp, err := r.Post(actorURL+"/inbox", r.UndoActivity(r.FollowActivity(actorURL))); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("Undo of a never-followed account: %v %v", resp, err)
	}
	if n := actorRows(t, ts, "sim.nsh"); n != 0 {
		t.Fatalf("an Undo created the account (%d rows)", n)
	}
	if resp, err := r.Post(actorURL+"/inbox", r.FollowActivity(actorURL)); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("Follow: %v %v", resp, err)
	}
	d := r.WaitDeliveries(t, 1, 10*time.Second)[0]
	if d.VerifyErr != nil || d.Activity["type"] != "Accept" || d.Activity["actor"] != actorURL {
		t.Fatalf("delivery: %v %v", d.VerifyErr, d.Activity)
	}
	if n := actorRows(t, ts, "sim.nsh"); n != 1 {
		t.Fatalf("%d rows of sim.nsh after its Follow, want 1", n)
	}
	before := ts.snapshot(t)
	unknown := ts.URL + "/users/sim.ostest"
	if resp, err := r.Post(unknown+"/inbox", r.FollowActivity(unknown)); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("Follow of an unknown account: %v %v, want 404", resp, err)
	}
	if after := ts.snapshot(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a Follow of an unknown account stored something: %v -> %v", before, after)
	}
}

// randomHandle is a valid handle of 8 to 24 characters, [a-z0-9_] runs
// joined by . or -.
func randomHandle(rng *rand.Rand) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789_"
	var b strings.Builder
	n := 8 + rng.IntN(17)
	for i := 0; i < n; i++ {
		if i > 0 && i < n-1 && rng.IntN(8) == 0 {
			b.WriteByte(".-"[rng.IntN(2)])
		}
		b.WriteByte(chars[rng.IntN(len(chars))])
	}
	return b.String()
}

// tableCounts counts the rows of every table of ts's database, and
// fingerprints the actors' keys.
func tableCounts(t *testing.T, ts *testServer) (map[string]int, [32]byte) {
	t.Helper()
	db := ts.sql(t)
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	counts := map[string]int{}
	for _, table := range tables {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM "` + table + `"`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[table] = n
	}
	var keys string
	db.QueryRow(`SELECT COALESCE(group_concat(username || public_key_pem || private_key_pem, ','), '') FROM (SELECT * FROM actors ORDER BY id)`).Scan(&keys)
	return counts, sha256.Sum256([]byte(keys))
}

// randomLookups is the number of random WebFinger lookups.
const randomLookups = 10_000

// TestRandomLookupsCreateNothing: 10,000 WebFinger lookups of random valid
// names, and near misses of known ones, answer 404 and change no table's
// row count and no key (a name that is no username may get 400); known
// names answer without creating anything.
func TestRandomLookupsCreateNothing(t *testing.T) {
	t.Parallel()
	ts := startFeedServer(t)
	counts, keys := tableCounts(t, ts)
	known := map[string]bool{"rv-virt": true, "rv-virt.citest": true, "rv-virt.python": true, "sim": true, "sim.nsh": true, "arch.risc-v": true, "arch.sim": true, "nuttx_build": true}
	names := []string{"rv-virt.citest_", "rv-virt.citestx", "rv-virt.citest.x", "rv-vir", "rv_virt", "rv-virt-citest", "rv-virt..citest",
		"arch.risc", "arch.risc-v.x", "arch.rv-virt", "arch..sim", "sim.ns", "sim.nsh-", "arch", "arch.", "RV-VIRT.CITEST.", "rv-virt:citest", "a/b", "%00"}
	rng := rand.New(rand.NewPCG(11, 11))
	for len(names) < randomLookups {
		if n := randomHandle(rng); !known[n] {
			names = append(names, n)
		}
	}
	client := &http.Client{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wrong := map[int]int{}
	work := make(chan string)
	for range 8 {
		wg.Go(func() {
			for name := range work {
				resp, err := client.Get(ts.URL + "/.well-known/webfinger?resource=" + url.QueryEscape("acct:"+name+"@"+hostOf(ts)))
				status := 0
				if err == nil {
					status = resp.StatusCode
					resp.Body.Close()
				}
				if status != http.StatusNotFound && (status != http.StatusBadRequest || activitypub.ValidUsername(name)) { // 400 only for what is no username
					mu.Lock()
					wrong[status]++
					mu.Unlock()
				}
			}
		})
	}
	for _, name := range names {
		work <- name
	}
	close(work)
	wg.Wait()
	if len(wrong) > 0 {
		t.Errorf("lookups of unknown names answered %v (status: count), want 404", wrong)
	}
	for name := range known {
		if status, _ := webFinger(t, ts, name); status != http.StatusOK {
			t.Errorf("%s: %d, want 200", name, status)
		}
	}
	after, afterKeys := tableCounts(t, ts)
	if fmt.Sprint(after) != fmt.Sprint(counts) || afterKeys != keys {
		t.Errorf("lookups changed the database: %v -> %v (keys changed: %v)", counts, after, afterKeys != keys)
	}
}

// TestConcurrentFirstFetches: many first fetches of one account's actor
// document at once make one row and one key, which every answer carries.
func TestConcurrentFirstFetches(t *testing.T) {
	t.Parallel()
	ts := startFeedServer(t)
	var wg sync.WaitGroup
	keys := make([]string, 16)
	for i := range keys {
		wg.Go(func() {
			resp, body := get(t, ts.URL+"/users/arch.sim", apAccept)
			var doc struct {
				PublicKey struct{ PublicKeyPem string } `json:"publicKey"`
			}
			if resp.StatusCode == http.StatusOK {
				json.Unmarshal(body, &doc)
			}
			keys[i] = doc.PublicKey.PublicKeyPem
		})
	}
	wg.Wait()
	var stored string
	ts.sql(t).QueryRow(`SELECT public_key_pem FROM actors WHERE username = 'arch.sim'`).Scan(&stored)
	if n := actorRows(t, ts, "arch.sim"); n != 1 || stored == "" {
		t.Fatalf("%d rows of arch.sim, want 1 with a key", n)
	}
	for i, k := range keys {
		if k != stored {
			t.Errorf("fetch %d: key %.40q, want the stored one", i, k)
		}
	}
}

// TestFeedAccountsInheritProfile: `profile set` of the firehose with an
// avatar and unlisted posts: a feed account with a follower sends it an
// Update showing the new avatar (served at its own URL), and reads as
// unlisted; a template shows the avatar in WebFinger. block add removes
// the followers of feed accounts on the blocked server.
func TestFeedAccountsInheritProfile(t *testing.T) {
	clearSettingsEnv(t)
	ts := startFeedServer(t)
	actorURL := ts.URL + "/users/rv-virt.python"
	r := followedBy(t, ts, "carol", actorURL)

	avatar := pngFile(t, color.RGBA{B: 200, A: 255})
	if code, out, stderr := run("profile", "set", "--data", ts.Dir, "--avatar", avatar, "--visibility", "unlisted"); code != 0 {
		t.Fatalf("profile set: exit %d, %q %q", code, out, stderr)
	}
	d := r.WaitDeliveries(t, 2, 10*time.Second)[1]
	obj, _ := d.Activity["object"].(map[string]any)
	icon, _ := obj["icon"].(map[string]any)
	iconURL, _ := icon["url"].(string)
	if d.VerifyErr != nil || d.Activity["type"] != "Update" || d.Activity["actor"] != actorURL || obj["name"] != "rv-virt:python builds" ||
		!strings.HasPrefix(iconURL, actorURL+"/images/avatar?v=") {
		t.Fatalf("second delivery: %v %v; want rv-virt.python's Update with the new avatar", d.VerifyErr, d.Activity)
	}
	resp, body := get(t, iconURL, "")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, pngOf(t, color.RGBA{B: 200, A: 255})) {
		t.Errorf("GET %s: %d, %d bytes; want the firehose's avatar", iconURL, resp.StatusCode, len(body))
	}
	eventually.True(t, 15*time.Second, "a template's WebFinger shows the new avatar", func() bool {
		_, jrd := webFinger(t, ts, "arch.sim")
		links, _ := jrd["links"].([]any)
		if len(links) != 3 {
			return false
		}
		href, _ := links[2].(map[string]any)["href"].(string)
		return strings.HasPrefix(href, ts.URL+"/users/arch.sim/images/avatar?v=")
	})
	if resp, body := get(t, ts.URL+"/users/arch.sim/images/avatar", ""); resp.StatusCode != http.StatusOK || !bytes.Equal(body, pngOf(t, color.RGBA{B: 200, A: 255})) {
		t.Errorf("a template's avatar: %d", resp.StatusCode)
	}
	if n := actorRows(t, ts, "arch.sim"); n != 0 {
		t.Errorf("reading a template's avatar created it")
	}
	err := ts.store.View(t.Context(), func(tx *store.Tx) error {
		a, err := tx.Actor("rv-virt.python")
		if err == nil && a.Visibility != store.Unlisted {
			t.Errorf("the feed account's visibility is %q, want the firehose's unlisted", a.Visibility)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	feedFollowers := func() (n int) {
		ts.sql(t).QueryRow(`SELECT COUNT(*) FROM followers f JOIN actors a ON a.id = f.actor_id WHERE a.kind <> 'bot'`).Scan(&n)
		return n
	}
	if n := feedFollowers(); n != 1 {
		t.Fatalf("%d followers of feed accounts before the block, want carol", n)
	}
	if code, out, stderr := run("block", "add", "--data", ts.Dir, "127.0.0.1"); code != 0 {
		t.Fatalf("block add: %d %q %q", code, out, stderr)
	}
	if n := feedFollowers(); n != 0 {
		t.Errorf("%d followers of feed accounts left on the blocked server, want 0", n)
	}
}

// TestRemoveFollowerOfSeveralAccounts: `followers remove` of a user who
// follows the bot and two feed accounts names the three accounts and the
// one inbox, and each account sends its signed Reject there.
func TestRemoveFollowerOfSeveralAccounts(t *testing.T) {
	clearSettingsEnv(t)
	ts := startFeedServer(t)
	r := fedtest.New(t, "dave", fedtest.Mastodon, fedtest.FetchKeys)
	accounts := []string{"nuttx_build", "rv-virt", "arch.risc-v"}
	for _, name := range accounts {
		if resp, err := r.Post(ts.URL+"/inbox", r.FollowActivity(ts.URL+"/users/"+name)); err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("Follow of %s: %v %v", name, resp, err)
		}
	}
	r.WaitDeliveries(t, 3, 10*time.Second) // the Accepts
	code, out, stderr := run("followers", "remove", "--data", ts.Dir, r.ActorID())
	if code != 0 || !strings.Contains(out, "from @nuttx_build, @rv-virt, @arch.risc-v: a Reject of each Follow goes to "+r.Inbox()+" (") {
		t.Fatalf("followers remove: exit %d, %q %q", code, out, stderr)
	}
	rejects := map[string]bool{}
	for _, d := range r.WaitDeliveries(t, 6, 10*time.Second)[3:] {
		if d.VerifyErr != nil || d.Activity["type"] != "Reject" {
			t.Fatalf("delivery %v (%v), want a signed Reject", d.Activity, d.VerifyErr)
		}
		rejects[d.Activity["actor"].(string)] = true
	}
	for _, name := range accounts {
		if !rejects[ts.URL+"/users/"+name] {
			t.Errorf("no Reject from %s: %v", name, rejects)
		}
	}
}

// TestNoTokenActsAsAFeedAccount: a feed account only repeats the feed:
// token create --account refuses it, and the list of accounts an unknown
// name gets leaves the feed's accounts out.
func TestNoTokenActsAsAFeedAccount(t *testing.T) {
	clearSettingsEnv(t)
	ts := startFeedServer(t)
	if resp, _ := get(t, ts.URL+"/users/rv-virt.citest", "application/activity+json"); resp.StatusCode != http.StatusOK {
		t.Fatalf("actor document: %d", resp.StatusCode)
	}
	code, out, stderr := run("token", "create", "--data", ts.Dir, "--account", "rv-virt.citest", "ci")
	if code != 2 || out != "" || !strings.Contains(stderr, "the account of a target only repeats the feed's news") {
		t.Errorf("token create --account rv-virt.citest: exit %d, %q %q", code, out, stderr)
	}
	code, _, stderr = run("token", "create", "--data", ts.Dir, "--account", "nobody", "ci")
	if code != 2 || !strings.Contains(stderr, "the local accounts are: nuttx_build") || strings.Contains(stderr, "rv-virt") {
		t.Errorf("token create --account nobody: exit %d, %q", code, stderr)
	}
}

// followedBy makes the local actor at actorURL followed by a simulated
// GoToSocial user called user, and waits for its Accept.
func followedBy(t *testing.T, ts *testServer, user, actorURL string) *fedtest.Remote {
	t.Helper()
	r := fedtest.New(t, user, fedtest.GoToSocial, fedtest.FetchKeys)
	if resp, err := r.Post(ts.URL+"/inbox", r.FollowActivity(actorURL)); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("Follow: %v %v", resp, err)
	}
	r.WaitDeliveries(t, 1, 10*time.Second) // the Accept
	return r
}
