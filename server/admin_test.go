package server

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// The admin commands, each run while `nuttx-feed serve` runs in a child
// process on the same database, against simulated remote servers that
// check what they get. The server has the default base URL, the one the
// commands build ids from (they take no --base-url), and listens on a
// loopback port of its own, as behind a proxy: requests to it are signed
// for the base URL's host.

// adminBase is the base URL of the servers of these tests.
const adminBase = "http://localhost:8080"

// adminServer is a running `nuttx-feed serve` for the admin tests.
type adminServer struct {
	dir string
	url string // where it listens: http://127.0.0.1:PORT
}

// startAdminServer starts `nuttx-feed serve` on a data folder of its own.
func startAdminServer(t *testing.T) *adminServer {
	t.Helper()
	dir := t.TempDir()
	c := serveInChild(t, "--data", dir, "--listen", "127.0.0.1:0", "--allow-private-networks", "--prometheus-url", "")
	return &adminServer{dir: dir, url: "http://" + c.Addr}
}

// keys resolves the server's key ids for a remote that verifies what it
// gets: the actor document, read from where the server listens.
func (s *adminServer) keys(keyID string) (*rsa.PublicKey, error) {
	req, _ := http.NewRequest(http.MethodGet, s.url+strings.TrimPrefix(strings.Split(keyID, "#")[0], adminBase), nil)
	req.Header.Set("Accept", apAccept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var doc struct {
		PublicKey struct{ ID, PublicKeyPem string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return nil, err
	}
	if doc.PublicKey.ID != keyID {
		return nil, fmt.Errorf("the actor's key is %q, not %q", doc.PublicKey.ID, keyID)
	}
	return fedtest.ParsePublicKey(doc.PublicKey.PublicKeyPem)
}

// remote starts a simulated server with one actor, name, that verifies
// what the server sends it; on "localhost" rather than 127.0.0.1 when
// onLocalhost, so that it is a registrable domain of its own.
func (s *adminServer) remote(t *testing.T, name string, style fedtest.Style, onLocalhost bool) *fedtest.Remote {
	r := fedtest.New(t, name, style, s.keys)
	if onLocalhost {
		r.Server.URL = strings.Replace(r.Server.URL, "127.0.0.1", "localhost", 1)
	}
	return r
}

// post POSTs activity to the server's path, signed by sign for the base
// URL's host.
func (s *adminServer) post(t *testing.T, path string, activity any, sign func(*http.Request, []byte) error) answer {
	t.Helper()
	body, err := json.Marshal(activity)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, s.url+path, bytes.NewReader(body))
	req.Host = strings.TrimPrefix(adminBase, "http://")
	req.Header.Set("Content-Type", "application/activity+json")
	if err := sign(req, body); err != nil {
		t.Fatal(err)
	}
	return send(t, req)
}

// waitRetry waits until the delivery to inbox failed once and waits for
// its retry, back in the database (no longer claimed).
func waitRetry(t *testing.T, db *storetest.DB, inbox string) {
	t.Helper()
	eventually.True(t, 10*time.Second, "the failure recorded", func() bool {
		var n int
		db.SQL.QueryRow(`SELECT COUNT(*) FROM deliveries WHERE inbox = ? AND state = 'pending' AND attempts = 1 AND claimed = 0`, inbox).Scan(&n)
		return n == 1
	})
}

// follow makes r follow the bot and waits for its Accept; it returns the
// Follow.
func (s *adminServer) follow(t *testing.T, r *fedtest.Remote) map[string]any {
	t.Helper()
	f := r.FollowActivity(adminBase + "/users/nuttx_build")
	n := len(r.Deliveries())
	if a := s.post(t, "/inbox", f, r.Sign); a.status != http.StatusAccepted {
		t.Fatalf("%s's Follow: %+v", r.Username, a)
	}
	if d := r.WaitDeliveries(t, n+1, 10*time.Second); d[n].Activity["type"] != "Accept" {
		t.Fatalf("%s got %v, want its Accept", r.Username, d[len(d)-1].Activity)
	}
	return f
}

// publish posts text with `nuttx-feed post` and returns the note's id.
func (s *adminServer) publish(t *testing.T, text string, more ...string) string {
	t.Helper()
	code, out, stderr := run(append(append([]string{"post", "--data", s.dir}, more...), text)...)
	if code != 0 {
		t.Fatalf("post: exit %d: %s", code, stderr)
	}
	return strings.TrimSpace(out)
}

// admin runs the admin command cmd ("followers remove") with --data and
// args (flags, then its argument) and wants exit status 0.
func (s *adminServer) admin(t *testing.T, cmd string, args ...string) string {
	t.Helper()
	code, out, stderr := run(slices.Concat(strings.Fields(cmd), []string{"--data", s.dir}, args)...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d, %q %q", cmd, strings.Join(args, " "), code, out, stderr)
	}
	return out
}

// adminJSON runs an admin command with --json and decodes its array,
// checking that every object has exactly the keys keys.
func (s *adminServer) adminJSON(t *testing.T, keys []string, cmd string, args ...string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	out := s.admin(t, cmd, append([]string{"--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &rows); err != nil || rows == nil {
		t.Fatalf("%s --json: %v, %q: want a JSON array", cmd, err, out)
	}
	for _, r := range rows {
		var got []string
		for k := range r {
			got = append(got, k)
		}
		slices.Sort(got)
		if want := slices.Sorted(slices.Values(keys)); !slices.Equal(got, want) {
			t.Errorf("%s --json: keys %v, want %v", cmd, got, want)
		}
	}
	return rows
}

// db opens the server's database behind its back.
func (s *adminServer) db(t *testing.T) *storetest.DB { return storetest.OpenAt(t, dbPath(s.dir)) }

// failsWith runs a command and wants exit status code with want in its
// one-line error.
func failsWith(t *testing.T, code int, want string, args ...string) {
	t.Helper()
	got, out, stderr := run(args...)
	if got != code || !strings.Contains(stderr, want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("%s: exit %d, %q %q; want exit %d and one line with %q", strings.Join(args, " "), got, out, stderr, code, want)
	}
}

// TestFollowersListAndRemove: followers list shows who follows, with their
// handle and the last delivery to them; followers remove (by handle or by
// actor id) sends a signed Reject of their Follow, stops deliveries at
// once, and gives up what was queued to an inbox no one else uses.
func TestFollowersListAndRemove(t *testing.T) {
	t.Parallel()
	s := startAdminServer(t)
	alice := s.remote(t, "alice", fedtest.GoToSocial, false) // a personal inbox only
	bob := s.remote(t, "bob", fedtest.Mastodon, false)
	bob.SharedInbox = true
	aliceFollow, bobFollow := s.follow(t, alice), s.follow(t, bob)
	s.publish(t, "a first post")
	alice.WaitDeliveries(t, 2, 10*time.Second)
	bob.WaitDeliveries(t, 2, 10*time.Second)
	host, bobHost := strings.TrimPrefix(alice.Server.URL, "http://"), strings.TrimPrefix(bob.Server.URL, "http://")

	out := s.admin(t, "followers list")
	for _, want := range []string{"HANDLE", "LAST DELIVERY", "@alice@" + host, alice.ActorID(), "@bob@" + bobHost, "delivered "} {
		if !strings.Contains(out, want) {
			t.Errorf("followers list lacks %q:\n%s", want, out)
		}
	}
	eventually.True(t, 10*time.Second, "both deliveries recorded", func() bool {
		rows := s.adminJSON(t, followerKeys, "followers list")
		return len(rows) == 2 && rows[0]["last_delivery"] == "delivered" && rows[1]["last_delivery"] == "delivered"
	})
	rows := s.adminJSON(t, followerKeys, "followers list")
	if r := rows[0]; r["handle"] != "@alice@"+host || r["actor"] != alice.ActorID() || r["server"] != host || r["follows"] != "nuttx_build" ||
		r["since"] == nil || r["last_delivery_at"] == nil || r["shared_inbox"] != "" {
		t.Errorf("alice: %v", r)
	}

	// Remove alice by her handle: a signed Reject of her Follow, then nothing.
	out = s.admin(t, "followers remove", "@alice@"+host)
	if !strings.Contains(out, "Removed @alice@"+host) {
		t.Errorf("followers remove: %q", out)
	}
	d := alice.WaitDeliveries(t, 3, 10*time.Second)[2]
	obj, _ := d.Activity["object"].(map[string]any)
	if d.VerifyErr != nil || d.Activity["type"] != "Reject" || d.Activity["actor"] != adminBase+"/users/nuttx_build" ||
		obj["id"] != aliceFollow["id"] || obj["type"] != "Follow" || obj["actor"] != alice.ActorID() || d.Path != "/users/alice/inbox" {
		t.Fatalf("alice got %s %v (signature: %v), want a signed Reject of her Follow %v", d.Path, d.Activity, d.VerifyErr, aliceFollow["id"])
	}

	// Bob's server fails: a post waits for a retry; removing bob (by actor
	// id) gives it up (his shared inbox serves no one else) and sends the
	// Reject to his personal inbox.
	bob.Answer(func(int) (int, http.Header) { return http.StatusServiceUnavailable, nil })
	s.publish(t, "a second post")
	bob.WaitDeliveries(t, 3, 10*time.Second)
	db := s.db(t)
	waitRetry(t, db, bob.SharedInboxURL())
	bob.Answer(nil)
	rows = s.adminJSON(t, []string{"accounts", "actor", "handle", "rejects_to", "deliveries_cancelled"}, "followers remove", bob.ActorID())
	if len(rows) != 1 || rows[0]["deliveries_cancelled"] != 1.0 || rows[0]["handle"] != "@bob@"+bobHost || fmt.Sprint(rows[0]["accounts"]) != "[nuttx_build]" {
		t.Errorf("followers remove --json: %v, want one delivery given up", rows)
	}
	d = bob.WaitDeliveries(t, 4, 10*time.Second)[3]
	if obj, _ := d.Activity["object"].(map[string]any); d.VerifyErr != nil || d.Activity["type"] != "Reject" || obj["id"] != bobFollow["id"] || d.Path != "/users/bob/inbox" {
		t.Fatalf("bob got %s %v (%v), want a Reject at his personal inbox", d.Path, d.Activity, d.VerifyErr)
	}

	// A third post goes to no one; nothing more reaches them. (The Reject
	// reached bob before its outcome was recorded: wait for that first.)
	pending := func() (n int) {
		db.SQL.QueryRow(`SELECT COUNT(*) FROM deliveries WHERE state = 'pending'`).Scan(&n)
		return n
	}
	eventually.True(t, 10*time.Second, "the Reject to bob recorded", func() bool { return pending() == 0 })
	s.publish(t, "a third post")
	queued := pending()
	time.Sleep(time.Second) // what would have gone out, had anything been queued
	if queued != 0 || len(alice.Deliveries()) != 3 || len(bob.Deliveries()) != 4 {
		t.Errorf("after the removals: %d pending, alice got %d, bob %d; want 0, 3 and 4", queued, len(alice.Deliveries()), len(bob.Deliveries()))
	}
	if out := s.admin(t, "followers list"); out != "No followers.\n" {
		t.Errorf("followers list: %q", out)
	}

	failsWith(t, 2, "follows no one here", "followers", "remove", "--data", s.dir, alice.ActorID())
	failsWith(t, 2, "no follower is @carol@"+host, "followers", "remove", "--data", s.dir, "@carol@"+host)
	failsWith(t, 2, "neither an actor id", "followers", "remove", "--data", s.dir, "carol")
	failsWith(t, 2, "exactly one ACTOR", "followers", "remove", "--data", s.dir)
	failsWith(t, 2, "flags go before ACTOR: nuttx-feed followers remove [flags] ACTOR (\"--data\" came after it)", "followers", "remove", "@carol@"+host, "--data", s.dir)
	failsWith(t, 2, `unknown subcommand "purge"`, "followers", "purge")
}

// followerKeys are the keys of followers list --json.
var followerKeys = []string{"handle", "actor", "server", "follows", "since", "inbox", "shared_inbox", "last_delivery",
	"last_delivery_at", "next_attempt", "last_error"}

// TestBlockServer: a block made while the server runs removes the
// followers on that server at once, and then nothing is delivered to it;
// its signed requests get 401 without a single request to it; the list
// shows it; once lifted, it is heard again.
func TestBlockServer(t *testing.T) {
	t.Parallel()
	s := startAdminServer(t)
	mal := s.remote(t, "mal", fedtest.Mastodon, false)  // on 127.0.0.1, to be blocked
	bob := s.remote(t, "bob", fedtest.GoToSocial, true) // on localhost, another domain
	s.follow(t, mal)
	s.follow(t, bob)
	mal.Answer(func(int) (int, http.Header) { return http.StatusServiceUnavailable, nil }) // its post waits for a retry
	s.publish(t, "before the block")
	mal.WaitDeliveries(t, 2, 10*time.Second)
	bob.WaitDeliveries(t, 2, 10*time.Second)
	db := s.db(t)
	waitRetry(t, db, mal.Inbox())

	rows := s.adminJSON(t, []string{"domain", "since", "followers_removed", "new", "deliveries_cancelled"}, "block add", mal.Server.URL+"/users/mal")
	if len(rows) != 1 || rows[0]["domain"] != "127.0.0.1" || rows[0]["followers_removed"] != 1.0 || rows[0]["new"] != true {
		t.Fatalf("block add --json: %v", rows)
	}
	var state, lastErr string
	db.SQL.QueryRow(`SELECT state, last_error FROM deliveries WHERE inbox = ? ORDER BY id DESC LIMIT 1`, mal.Inbox()).Scan(&state, &lastErr)
	if state != "failed" || lastErr != "server blocked" {
		t.Errorf("the delivery waiting for mal's server: %s %q, want given up", state, lastErr)
	}
	mal.Answer(nil)
	s.publish(t, "after the block")
	bob.WaitDeliveries(t, 3, 10*time.Second)
	time.Sleep(time.Second)
	if n := len(mal.Deliveries()); n != 2 {
		t.Errorf("the blocked server got %d deliveries, want the Accept and the first post only", n)
	}

	// A stranger on the blocked domain, and mal again: 401, and no fetch.
	eve := newHostileHost(t)
	eveKey := newKey(t)
	eveID := eve.URL + "/users/eve"
	eve.doc("/users/eve", actorDoc(eveID, eveID+"/inbox", "", eveID+"#main-key", eveID, eveKey))
	accepted := make(chan string, 1)
	eve.handle("/users/eve/inbox", func(w http.ResponseWriter, r *http.Request) {
		var a map[string]any
		json.NewDecoder(r.Body).Decode(&a)
		accepted <- fmt.Sprint(a["type"])
		w.WriteHeader(http.StatusAccepted)
	})
	sign := func(req *http.Request, body []byte) error {
		return fedtest.SignAs(req, body, fedtest.Mastodon, eveID+"#main-key", eveKey)
	}
	gets := len(mal.Gets())
	for _, a := range []answer{
		s.post(t, "/inbox", follow(eveID, adminBase+"/users/nuttx_build"), sign),
		s.post(t, "/users/nuttx_build/inbox", mal.FollowActivity(adminBase+"/users/nuttx_build"), mal.Sign),
	} {
		if a.status != http.StatusUnauthorized || !strings.Contains(a.body, "127.0.0.1 is blocked here") {
			t.Errorf("a Follow from the blocked server: %d %s, want 401", a.status, a.body)
		}
	}
	if n := eve.hits.Load(); n != 0 || len(mal.Gets()) != gets {
		t.Errorf("%d requests to eve's server and %d to mal's, want none", n, len(mal.Gets())-gets)
	}

	if out := s.admin(t, "block add", "127.0.0.1:9999"); !strings.Contains(out, "127.0.0.1 is blocked already") {
		t.Errorf("blocking again: %q", out)
	}
	if out := s.admin(t, "block list"); !strings.Contains(out, "DOMAIN") || !strings.Contains(out, "127.0.0.1") {
		t.Errorf("block list: %q", out)
	}
	if rows := s.adminJSON(t, []string{"domain", "since", "followers_removed"}, "block list"); len(rows) != 1 || rows[0]["followers_removed"] != 1.0 {
		t.Errorf("block list --json: %v", rows)
	}
	if out := s.admin(t, "followers list"); strings.Contains(out, "mal") || !strings.Contains(out, "bob") {
		t.Errorf("followers list after the block:\n%s", out)
	}

	if out := s.admin(t, "block remove", "127.0.0.1"); !strings.Contains(out, "Unblocked 127.0.0.1") {
		t.Errorf("block remove: %q", out)
	}
	if a := s.post(t, "/inbox", follow(eveID, adminBase+"/users/nuttx_build"), sign); a.status != http.StatusAccepted {
		t.Errorf("eve's Follow once unblocked: %+v", a)
	}
	select { // at once: the queue's list of blocks, a poll late, drops nothing
	case typ := <-accepted:
		if typ != "Accept" {
			t.Errorf("eve got a %s, want her Accept", typ)
		}
	case <-time.After(10 * time.Second):
		t.Error("eve's Accept did not come once the block was lifted")
	}
	if out := s.admin(t, "block list"); out != "No server is blocked.\n" {
		t.Errorf("block list: %q", out)
	}

	failsWith(t, 2, "public suffix", "block", "add", "--data", s.dir, "co.uk")
	failsWith(t, 2, "is not a host name", "block", "add", "--data", s.dir, "exa mple.org")
	failsWith(t, 2, "example.org is not blocked", "block", "remove", "--data", s.dir, "social.example.org")
	failsWith(t, 2, "exactly one DOMAIN", "block", "add", "--data", s.dir)
	failsWith(t, 2, "unexpected argument", "block", "list", "--data", s.dir, "example.org")
}

// TestDeleteNote: delete sends a signed Delete with the note's Tombstone
// to every follower's server (once per shared inbox); the note's URLs
// then answer 410, its page says it was deleted, the outbox leaves it
// out, a reply to it still shows; deleting again sends nothing.
func TestDeleteNote(t *testing.T) {
	t.Parallel()
	s := startAdminServer(t)
	alice := s.remote(t, "alice", fedtest.GoToSocial, false)
	bob := s.remote(t, "bob", fedtest.Mastodon, true)
	bob.SharedInbox = true
	s.follow(t, alice)
	s.follow(t, bob)
	root := s.publish(t, "rv-virt:citest failed #NuttX")
	s.publish(t, "fixed by apache/nuttx#1234", "--in-reply-to", root)
	alice.WaitDeliveries(t, 3, 10*time.Second)
	bob.WaitDeliveries(t, 3, 10*time.Second)
	id := root[strings.LastIndex(root, "/")+1:]
	page := s.url + "/@nuttx_build/" + id

	out := s.admin(t, "delete", adminBase+"/@nuttx_build/"+id) // by its page URL
	if !strings.Contains(out, "Deleted "+root+": a Delete goes to 2 inboxes") {
		t.Errorf("delete: %q", out)
	}
	for _, r := range []*fedtest.Remote{alice, bob} {
		d := r.WaitDeliveries(t, 4, 10*time.Second)[3]
		obj, _ := d.Activity["object"].(map[string]any)
		deleted, err := time.Parse(time.RFC3339, fmt.Sprint(obj["deleted"]))
		if d.VerifyErr != nil || d.Activity["type"] != "Delete" || d.Activity["actor"] != adminBase+"/users/nuttx_build" ||
			obj["type"] != "Tombstone" || obj["id"] != root || obj["formerType"] != "Note" || err != nil || time.Since(deleted) > time.Minute {
			t.Errorf("%s got %v (signature: %v), want a signed Delete of %s with its Tombstone", r.Username, d.Activity, d.VerifyErr, root)
		}
	}
	if p := bob.Deliveries()[3].Path; p != "/inbox" {
		t.Errorf("bob's server got the Delete at %s, want its shared inbox", p)
	}

	for _, u := range []string{s.url + "/users/nuttx_build/statuses/" + id, s.url + "/users/nuttx_build/statuses/" + id + "/activity", page} {
		resp, body := get(t, u, apAccept)
		var doc map[string]any
		json.Unmarshal(body, &doc)
		if resp.StatusCode != http.StatusGone || doc["type"] != "Tombstone" || doc["deleted"] == nil {
			t.Errorf("GET %s as ActivityPub: %d %s, want 410 and a Tombstone", u, resp.StatusCode, body)
		}
	}
	resp, body := get(t, page, "text/html")
	if resp.StatusCode != http.StatusGone || !strings.Contains(string(body), "This post was deleted on") || strings.Contains(string(body), "citest") {
		t.Errorf("the deleted note's page: %d\n%s", resp.StatusCode, body)
	}
	reply := getJSON(t, s.url+"/users/nuttx_build/outbox?page=true")
	items, _ := reply["orderedItems"].([]any)
	if reply["totalItems"] != 1.0 || len(items) != 1 {
		t.Fatalf("outbox: %v items, totalItems %v; want the reply only", len(items), reply["totalItems"])
	}
	replyURL := items[0].(map[string]any)["object"].(map[string]any)["url"].(string)
	resp, body = get(t, strings.Replace(replyURL, adminBase, s.url, 1), "text/html")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "fixed by") || !strings.Contains(string(body), "This post was deleted on") {
		t.Errorf("the reply's page: %d\n%s", resp.StatusCode, body)
	}

	rows := s.adminJSON(t, []string{"note", "deleted_at", "deleted_before", "deliveries_queued", "deliveries_cancelled"}, "delete", id)
	if len(rows) != 1 || rows[0]["deleted_before"] != true || rows[0]["deliveries_queued"] != 0.0 {
		t.Errorf("deleting again: %v", rows)
	}
	if out := s.admin(t, "delete", root); !strings.Contains(out, "was deleted already") {
		t.Errorf("deleting again: %q", out)
	}
	time.Sleep(time.Second)
	if len(alice.Deliveries()) != 4 || len(bob.Deliveries()) != 4 {
		t.Errorf("after deleting again: alice got %d, bob %d; want 4 each", len(alice.Deliveries()), len(bob.Deliveries()))
	}

	failsWith(t, 2, "no local note", "delete", "--data", s.dir, "0123456789abcdef0123456789abcdef")
	failsWith(t, 2, "no note "+id+" of someone_else", "delete", "--data", s.dir, adminBase+"/users/someone_else/statuses/"+id)
	failsWith(t, 2, "no local note", "delete", "--data", s.dir, "109876543210987654") // a Mastodon id: imported posts have those
	failsWith(t, 2, "neither a note id nor the URL", "delete", "--data", s.dir, "https://example.org/users/nuttx_build/statuses/"+id)
	failsWith(t, 2, "neither a note id nor the URL", "delete", "--data", s.dir, "last one")
	failsWith(t, 2, "exactly one NOTE", "delete", "--data", s.dir)
}

// TestDeliveriesList: deliveries (bare, or list) shows each server's
// queue; --failed only the failing ones; --json parses.
func TestDeliveriesList(t *testing.T) {
	t.Parallel()
	s := startAdminServer(t)
	ok := s.remote(t, "ok", fedtest.Mastodon, true)
	down := s.remote(t, "down", fedtest.Mastodon, false)
	s.follow(t, ok)
	s.follow(t, down)
	down.Answer(func(int) (int, http.Header) { return http.StatusBadGateway, nil })
	s.publish(t, "a post")
	ok.WaitDeliveries(t, 2, 10*time.Second)
	down.WaitDeliveries(t, 2, 10*time.Second)
	keys := []string{"host", "pending", "retrying", "next_attempt", "breaker", "failures_in_a_row", "next_probe", "last_error", "last_error_at", "failing"}
	var rows []map[string]any
	eventually.True(t, 10*time.Second, "the failure recorded", func() bool {
		rows = s.adminJSON(t, keys, "deliveries list")
		return len(rows) == 2 && rows[0]["failing"] == true
	})
	if r := rows[0]; r["host"] != "127.0.0.1" || r["pending"] != 1.0 || r["last_error"] != "HTTP 502" || r["next_attempt"] == nil || r["breaker"] != "failing" {
		t.Errorf("the failing server: %v", r)
	}
	if r := rows[1]; r["host"] != "localhost" || r["pending"] != 0.0 || r["failing"] != false || r["breaker"] != "closed" || r["last_error"] != "" {
		t.Errorf("the healthy server: %v", r)
	}
	out := s.admin(t, "deliveries")
	for _, want := range []string{"HOST", "BREAKER", "127.0.0.1", "failing (1 in a row)", "HTTP 502 at ", "localhost", "closed"} {
		if !strings.Contains(out, want) {
			t.Errorf("deliveries lacks %q:\n%s", want, out)
		}
	}
	out = s.admin(t, "deliveries", "--failed")
	if !strings.Contains(out, "127.0.0.1") || strings.Contains(out, "localhost") {
		t.Errorf("deliveries --failed:\n%s", out)
	}
	if rows := s.adminJSON(t, keys, "deliveries list", "--failed"); len(rows) != 1 {
		t.Errorf("deliveries list --failed --json: %v", rows)
	}
	err := s.db(t).Update(t.Context(), func(tx *store.Tx) error { // the breaker holds it now
		return tx.SaveHost(store.Host{Domain: "127.0.0.1", State: store.HostHeld, Failures: 5, FailingSince: tx.Now, NextProbe: tx.Now.Add(time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	if out := s.admin(t, "deliveries list"); !strings.Contains(out, "held (probe ") {
		t.Errorf("deliveries list with a held server:\n%s", out)
	}
	// What waits for the breaker is due at its probe, not at its own time.
	held := s.adminJSON(t, keys, "deliveries list", "--failed")
	if len(held) != 1 || held[0]["next_attempt"] != held[0]["next_probe"] {
		t.Errorf("a held server's next attempt: %v; want its probe", held)
	}
	failsWith(t, 2, "flag provided but not defined", "deliveries", "--data", s.dir, "--broken")
	failsWith(t, 2, "unexpected argument", "deliveries", "list", "--data", s.dir, "now")
}

// TestTokens: a token is printed once and only its SHA-256 is stored (the
// token is nowhere in the database's files); names are unique; list never
// shows a token; revoke deletes it.
func TestTokens(t *testing.T) {
	t.Parallel()
	s := startAdminServer(t)
	out := s.admin(t, "token create", "ci")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	token := lines[len(lines)-1]
	if !strings.HasPrefix(token, "nfd_") || len(token) != 47 {
		t.Fatalf("token create printed %q, want nfd_ and 43 characters", out)
	}
	rows := s.adminJSON(t, []string{"name", "token", "created", "scopes", "account"}, "token create", "deploy")
	if len(rows) != 1 || rows[0]["name"] != "deploy" || !strings.HasPrefix(fmt.Sprint(rows[0]["token"]), "nfd_") || rows[0]["token"] == token {
		t.Errorf("token create --json: %v", rows)
	}
	db := s.db(t)
	var hash []byte
	db.SQL.QueryRow(`SELECT hash FROM tokens WHERE name = 'ci'`).Scan(&hash)
	if sum := sha256.Sum256([]byte(token)); !bytes.Equal(hash, sum[:]) {
		t.Errorf("stored %x, want the SHA-256 of the token", hash)
	}
	files, _ := filepath.Glob(dbPath(s.dir) + "*")
	for _, f := range files {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(token)) || bytes.Contains(b, []byte(token[4:])) {
			t.Errorf("%s holds the token", filepath.Base(f))
		}
	}
	if got, err := db.CheckToken(t.Context(), token); err != nil || got.Name != "ci" || got.Scopes != "read write" || got.Account != "" {
		t.Errorf("CheckToken = %+v, %v; want ci, read write, the bot", got, err)
	}

	out = s.admin(t, "token list")
	if !strings.Contains(out, "LAST USED") || !strings.Contains(out, "ci ") || !strings.Contains(out, "never") || strings.Contains(out, "nfd_") {
		t.Errorf("token list:\n%s", out)
	}
	if rows := s.adminJSON(t, []string{"name", "created", "last_used", "scopes", "account"}, "token list"); len(rows) != 2 || rows[0]["name"] != "ci" || rows[0]["last_used"] != nil {
		t.Errorf("token list --json: %v", rows)
	}
	failsWith(t, 2, "already exists", "token", "create", "--data", s.dir, "ci")
	failsWith(t, 2, "token name", "token", "create", "--data", s.dir, "Bad Name")
	if out := s.admin(t, "token revoke", "ci"); !strings.Contains(out, "Token ci revoked") {
		t.Errorf("token revoke: %q", out)
	}
	if _, err := db.CheckToken(t.Context(), token); err == nil {
		t.Error("a revoked token still checks")
	}
	failsWith(t, 2, `no token named "ci"`, "token", "revoke", "--data", s.dir, "ci")
	s.admin(t, "token revoke", "deploy")
	if out := s.admin(t, "token list"); out != "No tokens.\n" {
		t.Errorf("token list: %q", out)
	}
}

// TestAdminCommandsNeedADatabase: every admin command refuses a data
// folder without a database, and makes none.
func TestAdminCommandsNeedADatabase(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	for _, c := range []struct{ cmd, arg string }{
		{"followers list", ""}, {"followers remove", "@a@example.org"}, {"block add", "example.org"}, {"block remove", "example.org"},
		{"block list", ""}, {"delete", "0123456789abcdef0123456789abcdef"}, {"deliveries", ""}, {"deliveries list", ""},
		{"token create", "ci"}, {"token list", ""}, {"token revoke", "ci"},
	} {
		args := append(strings.Fields(c.cmd), "--data", empty, "--json")
		if c.arg != "" {
			args = append(args, c.arg)
		}
		failsWith(t, 1, "no nuttx-feed database in "+empty+"; pass --data DIR", args...)
	}
	if databaseExists(empty) {
		t.Error("a command created a database")
	}
}

// TestWithdrawnWhileInFlight: a note deleted, and a follower removed,
// while a delivery of the note's Create to them is under way: the failed
// request is not retried, and the Delete waits until a request under way
// must have ended, so that the Create never arrives after it.
func TestWithdrawnWhileInFlight(t *testing.T) {
	t.Parallel()
	s := startAdminServer(t)
	alice := s.remote(t, "alice", fedtest.Mastodon, false)
	bob := s.remote(t, "bob", fedtest.GoToSocial, true)
	s.follow(t, alice)
	s.follow(t, bob)
	slowFailure := func(n int) (int, http.Header) { // the Create: answered late, "retry in a second"
		if n == 2 {
			time.Sleep(2 * time.Second)
			return http.StatusServiceUnavailable, http.Header{"Retry-After": {"1"}}
		}
		return http.StatusAccepted, nil
	}
	alice.Answer(slowFailure)
	bob.Answer(slowFailure)
	note := s.publish(t, "in flight")
	alice.WaitDeliveries(t, 2, 10*time.Second) // the Create has arrived: its answer is on its way
	bob.WaitDeliveries(t, 2, 10*time.Second)
	start := time.Now()
	s.admin(t, "delete", note)
	s.admin(t, "followers remove", bob.ActorID())
	time.Sleep(5 * time.Second) // the Creates' 503 and a second of Retry-After, and more
	if got := deliveryTypes(alice.Deliveries()); strings.Join(got, " ") != "Accept Create" {
		t.Errorf("alice got %v; want the Create once, not retried after its note was deleted", got)
	}
	if got := deliveryTypes(bob.Deliveries()); strings.Join(got, " ") != "Accept Create Reject" {
		t.Errorf("bob got %v; want no Create after his removal", got)
	}
	var due int64
	db := s.db(t)
	db.SQL.QueryRow(`SELECT MIN(next_attempt_at) FROM deliveries d JOIN activities a ON a.id = d.activity_id
		WHERE a.type = 'Delete' AND d.state = 'pending'`).Scan(&due)
	if wait := time.UnixMilli(due).Sub(start); wait < 30*time.Second {
		t.Errorf("the Delete is due %v after the delete command; want it to wait for the Create under way (30 s at least)", wait)
	}
}

// deliveryTypes lists the types of what a remote received, in order.
func deliveryTypes(ds []fedtest.Delivery) []string {
	var types []string
	for _, d := range ds {
		types = append(types, fmt.Sprint(d.Activity["type"]))
	}
	return types
}
