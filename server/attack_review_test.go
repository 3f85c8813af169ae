package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
)

// The attacks a review found after the first round of issue 7's fixes,
// each replayed over HTTP the way it was found; each now fails.

// A follower's inbox, on its own host, answers 307 to a third party: our
// signed POST must not follow it there.
func TestAttackInboxRedirectsToThirdParty(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	bot := ts.URL + "/users/nuttx_build"
	evil, third := newHostileHost(t), newHostileHost(t)
	third.handle("/victim-endpoint", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(202) })
	redirected := make(chan struct{}, 8)
	evil.handle("/users/r/inbox", func(w http.ResponseWriter, r *http.Request) {
		redirected <- struct{}{}
		http.Redirect(w, r, third.URL+"/victim-endpoint", http.StatusTemporaryRedirect)
	})
	key := newKey(t)
	id := evil.URL + "/users/r"
	evil.doc("/users/r", actorDoc(id, id+"/inbox", "", id+"#main-key", id, key))
	if a := postSigned(t, ts.URL+"/inbox", follow(id, bot), id+"#main-key", key); a.status != 202 {
		t.Fatalf("Follow: %+v", a)
	}
	ts.publish(t, "hello")
	for range 2 { // the Accept and the note
		select {
		case <-redirected:
		case <-time.After(10 * time.Second):
			t.Fatal("the deliveries never reached the inbox")
		}
	}
	time.Sleep(200 * time.Millisecond) // a followed redirect would have arrived by now
	if n := third.hits.Load(); n != 0 {
		t.Errorf("the third party got %d requests through the inbox's redirect", n)
	}
}

// Forged requests whose keyIds name a closed port of a victim's host must
// not stop the fetches of the victim's real keys.
func TestAttackClosedPortOfVictimsHost(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	bot := ts.URL + "/users/nuttx_build"
	victim := fedtest.New(t, "victim", fedtest.Mastodon, fedtest.FetchKeys) // on 127.0.0.1
	closed := closedPort(t, "127.0.0.1")
	for i := range 2 * 3 {
		postSigned(t, ts.URL+"/inbox", follow("http://"+closed+"/u", bot), fmt.Sprintf("http://%s/k%d", closed, i), nil)
	}
	resp, err := victim.Post(ts.URL+"/inbox", victim.FollowActivity(bot))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Errorf("the victim's Follow after forged keyIds on a closed port of its host: HTTP %d, want 202", resp.StatusCode)
	}
}

// Forged requests naming a victim's keyId, sent from another client, must
// not spend the victim server's inbox allowance.
func TestAttackSpendsAnotherServersRate(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.InboxRate, c.TrustedProxies = 20, "127.0.0.0/8" }) // the defaults
	bot := ts.URL + "/users/nuttx_build"
	victim := fedtest.New(t, "victim", fedtest.Mastodon, fedtest.FetchKeys)
	const attacker, victimAddr = "198.51.100.7", "203.0.113.5"
	ctx, stop := context.WithCancel(context.Background())
	var forged, limited atomic.Int64
	var wg sync.WaitGroup
	for range 8 { // faster than the inbox rate (20/s) even when -race and a loaded machine slow each request down
		wg.Go(func() {
			for ctx.Err() == nil {
				like := map[string]any{"id": victim.ActorID() + "/like/" + fedtest.RandomHex(), "type": "Like", "actor": victim.ActorID(), "object": bot}
				if a := postFrom(t, attacker, ts.URL+"/inbox", like, victim.KeyID(), nil); a.status == 429 {
					limited.Add(1)
				}
				forged.Add(1)
			}
		})
	}
	for forged.Load() < 500 && limited.Load() == 0 { // past its burst
		time.Sleep(10 * time.Millisecond)
	}
	refused := 0
	for range 20 {
		a := postFrom(t, victimAddr, ts.URL+"/inbox", victim.FollowActivity(bot), victim.KeyID(), victim.Key)
		if a.status != 202 {
			refused++
		}
	}
	stop()
	wg.Wait()
	if limited.Load() == 0 {
		t.Error("the forging client was never limited")
	}
	if refused > 0 {
		t.Errorf("%d of the victim's 20 real Follows refused while another client forged its keyId (%d forged, %d of them 429)",
			refused, forged.Load(), limited.Load())
	}
}

// One client naming keyIds on ever new hosts that never answer must not
// take the fetches that new followers need.
func TestAttackFetchPoolFromOneClient(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.InboxRate, c.TrustedProxies = 20, "127.0.0.0/8" }) // the defaults
	bot := ts.URL + "/users/nuttx_build"
	var ips []string
	for i := range 40 {
		ips = append(ips, fmt.Sprintf("127.0.1.%d", i+1))
	}
	silent := newSilentHost(t, ips...) // 40 hosts that hold connections and never answer
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 40 { // 40 requests in flight, each keyId on another host
		wg.Go(func() {
			for i := w; ctx.Err() == nil; i++ {
				host := silent.addrs[i%len(silent.addrs)]
				postFrom(t, "198.51.100.7", ts.URL+"/inbox", follow(fmt.Sprintf("http://%s/u%d", host, i), bot), fmt.Sprintf("http://%s/k%d#main-key", host, i), nil)
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	statuses := map[int]int{}
	for i := range 5 {
		newcomer := fedtest.New(t, fmt.Sprintf("newcomer%d", i), fedtest.Mastodon, fedtest.FetchKeys)
		a := postFrom(t, "203.0.113.5", ts.URL+"/inbox", newcomer.FollowActivity(bot), newcomer.KeyID(), newcomer.Key)
		statuses[a.status]++
	}
	peak := silent.peak()
	stop()
	wg.Wait()
	if statuses[202] != 5 {
		t.Errorf("5 newcomers' Follows answered %v while one client kept fetches busy, want all 202", statuses)
	}
	if peak > maxFetchesPerClientForTests {
		t.Errorf("%d connections at once for one client's requests, want at most %d", peak, maxFetchesPerClientForTests)
	}
}

// maxFetchesPerClientForTests is activitypub's per-client fetch share.
const maxFetchesPerClientForTests = 4

// An attacker's own activity with the id of a victim's future activity
// (Mastodon's Delete of an account is ACTOR#delete; Misskey's Follow and
// Undo ids are fixed per pair of accounts) must not make the victim's
// activity a "replay".
func TestAttackTakesVictimsActivityIDs(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	bot := ts.URL + "/users/nuttx_build"
	victim := fedtest.New(t, "victim", fedtest.Mastodon, fedtest.FetchKeys)
	evil := newHostileHost(t)
	key := newKey(t)
	id := evil.URL + "/users/m"
	evil.doc("/users/m", actorDoc(id, id+"/inbox", "", id+"#main-key", id, key))
	takeFirst := func(target string) {
		undo := map[string]any{"id": target, "type": "Undo", "actor": id, "object": id + "/follow/1"}
		if a := postSigned(t, ts.URL+"/inbox", undo, id+"#main-key", key); a.status != 202 {
			t.Fatalf("the attacker's Undo: %+v", a)
		}
	}
	follows := func() (n int) {
		ts.sql(t).QueryRow(`SELECT COUNT(*) FROM followers WHERE follower = ?`, victim.ActorID()).Scan(&n)
		return n
	}
	f := victim.FollowActivity(bot)
	f["id"] = victim.Server.URL + "/follows/9abc/9xyz" // Misskey's shape
	takeFirst(f["id"].(string))
	victim.Post(ts.URL+"/inbox", f)
	if follows() != 1 {
		t.Fatal("the victim's Follow was taken for a replay")
	}
	u := victim.UndoActivity(f)
	u["id"] = victim.ActorID() + "#follows/1234/undo" // Mastodon's shape
	takeFirst(u["id"].(string))
	victim.Post(ts.URL+"/inbox", u)
	if follows() != 0 {
		t.Fatal("the victim's Undo was taken for a replay: it still gets our posts")
	}
	victim.Post(ts.URL+"/inbox", victim.FollowActivity(bot))
	takeFirst(victim.ActorID() + "#delete")
	del := map[string]any{"id": victim.ActorID() + "#delete", "type": "Delete", "actor": victim.ActorID(), "object": victim.ActorID()}
	postSigned(t, ts.URL+"/inbox", del, victim.KeyID(), victim.Key)
	if follows() != 0 {
		t.Error("the victim's signed Delete was taken for a replay")
	}
}

// No attacker: Misskey's Undo{Follow} id is the same for every follow
// cycle of a pair of accounts. Follow, unfollow, follow, unfollow: no
// follow is left.
func TestMisskeyFollowsAndUnfollowsTwice(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	bot := ts.URL + "/users/nuttx_build"
	mk := fedtest.New(t, "au583b1f75dc0002", fedtest.Misskey, fedtest.FetchKeys)
	follows := func() (n int) {
		ts.sql(t).QueryRow(`SELECT COUNT(*) FROM followers WHERE follower = ?`, mk.ActorID()).Scan(&n)
		return n
	}
	pair := mk.Server.URL + "/follows/au583b1f75dc0002/au583bfz75dc0004"
	for round := 1; round <= 2; round++ {
		f := mk.FollowActivity(bot)
		f["id"] = pair // Misskey's Follow id, the same each time
		mk.Post(ts.URL+"/inbox", f)
		if follows() != 1 {
			t.Fatalf("round %d: the Follow was not stored", round)
		}
		u := mk.UndoActivity(f)
		u["id"] = pair + "/undo"
		mk.Post(ts.URL+"/inbox", u)
		if follows() != 0 {
			t.Fatalf("round %d: the Misskey user unfollowed but still follows", round)
		}
	}
}

// A sender that hangs up while its key is fetched must not fail the other
// requests that wait for the same key, nor have its cancellation
// remembered as the key's failure.
func TestAttackHangUpDuringKeyFetch(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	bot := ts.URL + "/users/nuttx_build"
	vhost := newHostileHost(t)
	vkey := newKey(t)
	v := vhost.URL + "/users/v"
	doc := actorDoc(v, v+"/inbox", "", v+"#main-key", v, vkey)
	vhost.handle("/users/v", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond) // a server far away
		w.Header().Set("Content-Type", "application/activity+json")
		json.NewEncoder(w).Encode(doc)
	})
	like := map[string]any{"id": v + "/like/1", "type": "Like", "actor": v, "object": bot}
	go func() { // names the victim's key and hangs up after 100 ms
		body, _ := json.Marshal(like)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/inbox", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/activity+json")
		fedtest.SignAs(req, body, fedtest.Mastodon, v+"#main-key", garbageKey)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(30 * time.Millisecond)
	if a := postSigned(t, ts.URL+"/inbox", like, v+"#main-key", nil); a.status != 401 {
		t.Errorf("a forged request that shared the fetch: HTTP %d (%s), want 401", a.status, strings.TrimSpace(a.body))
	}
	if a := postSigned(t, ts.URL+"/inbox", follow(v, bot), v+"#main-key", vkey); a.status != 202 {
		t.Errorf("the victim's real Follow: HTTP %d (%s), want 202", a.status, strings.TrimSpace(a.body))
	}
	if strings.Contains(ts.logs.String(), "internal error") {
		t.Error("a hang-up was logged as an internal error")
	}
}

// An actor id with user information (https://mastodon.social@evil/...)
// reads as another server's account: it is refused, not stored.
func TestAttackUserinfoInActorID(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	evil := newHostileHost(t)
	key := newKey(t)
	id := strings.Replace(evil.URL, "http://", "http://mastodon.social@", 1) + "/users/x"
	evil.doc("/users/x", actorDoc(id, evil.URL+"/users/x/inbox", "", id+"#main-key", id, key))
	before := ts.snapshot(t)
	if a := postSigned(t, ts.URL+"/inbox", follow(id, ts.URL+"/users/nuttx_build"), id+"#main-key", key); a.status != 400 {
		t.Errorf("Follow by %s: HTTP %d (%s), want 400", id, a.status, strings.TrimSpace(a.body))
	}
	if after := ts.snapshot(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("rows went from %v to %v", before, after)
	}
}

// A second review: one server, its host spelled with fullwidth characters
// (which the HTTP client maps to the same host when it connects), must not
// get one inbox allowance per spelling.
func TestAttackHostSpellings(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.InboxRate, c.TrustedProxies = 1, "127.0.0.0/8" }) // bursts of 20
	bot := ts.URL + "/users/nuttx_build"
	evil := newHostileHost(t)
	key := newKey(t)
	port := evil.URL[strings.LastIndex(evil.URL, ":")+1:]
	spellings := []string{"127.0.0.1", "127.0.０.1", "127.0.0.１", "127.0.０.１"}
	for i, host := range spellings {
		id := fmt.Sprintf("http://%s:%s/users/v%d", host, port, i)
		evil.doc(fmt.Sprintf("/users/v%d", i), actorDoc(id, id+"/inbox", "", id+"#main-key", id, key))
	}
	accepted := 0
	for i, host := range spellings {
		id := fmt.Sprintf("http://%s:%s/users/v%d", host, port, i)
		for k := range 25 {
			like := map[string]any{"id": id + "/like/" + fedtest.RandomHex(), "type": "Like", "actor": id, "object": bot}
			// Each from another client: only the server's bucket counts.
			a := postFrom(t, fmt.Sprintf("198.51.%d.%d", i, k+1), ts.URL+"/inbox", like, id+"#main-key", key)
			switch a.status {
			case 202:
				accepted++
			case 429:
			default:
				t.Fatalf("%s: HTTP %d (%s)", host, a.status, strings.TrimSpace(a.body))
			}
		}
	}
	// A burst of 20, and a token a second while the 100 requests last.
	if accepted > 30 {
		t.Errorf("one server spelled 4 ways got %d activities accepted at once; its burst is 20", accepted)
	}
}
