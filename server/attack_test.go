package server

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
)

// The attacks of issue 7 ("Hostile Fediverse"), each replayed over HTTP
// against a running server the way a hostile server would send it. Each
// gets its proper status and leaves no trace in the database; the victims'
// follows stay as they were. Rows 6 (fair delivery) and 7 (health, lock,
// routing, address guard, proxies) have their own tests, named in
// docs/FEDERATION.md, "Limits".

// hostileHost is a server that answers each path as the test programs it:
// an attacker's server, or a victim's server with a flaw (an open redirect,
// a user who may publish any JSON).
type hostileHost struct {
	*httptest.Server
	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	hits   atomic.Int64
}

func newHostileHost(t *testing.T) *hostileHost {
	h := &hostileHost{routes: map[string]http.HandlerFunc{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		h.mu.Lock()
		fn := h.routes[r.URL.Path]
		h.mu.Unlock()
		if fn == nil {
			http.NotFound(w, r)
			return
		}
		fn(w, r)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hostileHost) handle(path string, fn http.HandlerFunc) {
	h.mu.Lock()
	h.routes[path] = fn
	h.mu.Unlock()
}

// doc serves doc as ActivityPub JSON at path.
func (h *hostileHost) doc(path string, doc map[string]any) {
	h.handle(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/activity+json")
		json.NewEncoder(w).Encode(doc)
	})
}

// actorDoc is a Person whose key is key (id keyID, owner owner).
func actorDoc(id, inbox, sharedInbox, keyID, owner string, key *rsa.PrivateKey) map[string]any {
	d := map[string]any{
		"@context":  []any{"https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"},
		"id":        id,
		"type":      "Person",
		"inbox":     inbox,
		"publicKey": map[string]any{"id": keyID, "owner": owner, "publicKeyPem": fedtest.PublicKeyPEM(&key.PublicKey)},
	}
	if sharedInbox != "" {
		d["endpoints"] = map[string]any{"sharedInbox": sharedInbox}
	}
	return d
}

// answer is what the server said to one request.
type answer struct {
	status int
	body   string
	header http.Header
}

// postSigned POSTs activity to url signed with key as keyID (Mastodon's
// style), or with a garbage signature when key is nil.
func postSigned(t *testing.T, url string, activity any, keyID string, key *rsa.PrivateKey) answer {
	t.Helper()
	return postFrom(t, "", url, activity, keyID, key)
}

// postFrom is postSigned from the client address client, as the Cloudflare
// tunnel names it (CF-Connecting-IP, believed from a loopback peer when
// --trusted-proxies lists it); "" for none.
func postFrom(t *testing.T, client, url string, activity any, keyID string, key *rsa.PrivateKey) answer {
	t.Helper()
	body, err := json.Marshal(activity)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/activity+json")
	if client != "" {
		req.Header.Set("CF-Connecting-IP", client)
	}
	signWith := key
	if signWith == nil { // a well-formed signature by some other key
		signWith = garbageKey
	}
	if err := fedtest.SignAs(req, body, fedtest.Mastodon, keyID, signWith); err != nil {
		t.Fatal(err)
	}
	return send(t, req)
}

// send makes req and returns the answer.
func send(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header}
}

var garbageKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

func newKey(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAttackTable(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	bot := ts.URL + "/users/nuttx_build"

	// Victim 1 follows from a well-behaved server.
	victim := fedtest.New(t, "victim", fedtest.Mastodon, fedtest.FetchKeys)
	if resp, err := victim.Post(ts.URL+"/inbox", victim.FollowActivity(bot)); err != nil || resp.StatusCode != 202 {
		t.Fatalf("victim's Follow: %v %v", err, resp)
	}
	// Victim 2 follows from a server with flaws: an open redirect at /out
	// and a user, mallory, who may publish whatever JSON she likes.
	vhost := newHostileHost(t)
	v2Key := newKey(t)
	v2 := vhost.URL + "/users/v2"
	vhost.doc("/users/v2", actorDoc(v2, v2+"/inbox", "", v2+"#main-key", v2, v2Key))
	vhost.handle("/out", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	if a := postSigned(t, ts.URL+"/inbox", follow(v2, bot), v2+"#main-key", v2Key); a.status != 202 {
		t.Fatalf("victim 2's Follow: %+v", a)
	}

	// The attacker's server, and a third party it wants us to flood.
	evil := newHostileHost(t)
	evilKey := newKey(t)
	third := newHostileHost(t)
	evilActor := func(name, inbox, shared string) string {
		id := evil.URL + "/users/" + name
		evil.doc("/users/"+name, actorDoc(id, inbox, shared, id+"#main-key", id, evilKey))
		return id
	}
	evil.handle("/gone", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "gone", http.StatusGone) })
	// A document claiming to be victim 2, with the attacker's key and inbox.
	evil.doc("/claims-v2", actorDoc(v2, evil.URL+"/inbox", "", vhost.URL+"/out?to="+evil.URL+"/claims-v2#main-key", v2, evilKey))
	// Mallory's actor says its key belongs to victim 2.
	mallory := vhost.URL + "/users/mallory"
	vhost.doc("/users/mallory", actorDoc(mallory, mallory+"/inbox", "", mallory+"#main-key", v2, evilKey))
	// A key document on victim 2's host, owned by victim 2, that victim 2's
	// actor does not list.
	vhost.doc("/keys/rogue", map[string]any{"id": vhost.URL + "/keys/rogue", "owner": v2, "publicKeyPem": fedtest.PublicKeyPEM(&evilKey.PublicKey)})

	// A port nothing listens on, and a host that accepts connections and
	// never answers (counting how many it holds at once). They are on
	// loopback addresses of their own: fetch limits count per host, and
	// every other server here is on 127.0.0.1.
	closed := closedPort(t, "127.0.0.3")
	silent := newSilentHost(t, "127.0.0.2")

	deleteOf := func(actor string) map[string]any {
		return map[string]any{"id": actor + "#delete/" + fedtest.RandomHex(), "type": "Delete", "actor": actor, "object": actor}
	}
	v1 := victim.ActorID()

	cases := []struct {
		row, name string
		send      func(t *testing.T) answer
		want      int
	}{
		{"1", "Delete of a follower, garbage signature, keyId answering 410", func(t *testing.T) answer {
			return postSigned(t, ts.URL+"/inbox", deleteOf(v1), evil.URL+"/gone#k", nil)
		}, 202},
		{"1", "Delete of a follower, garbage signature, the follower's own keyId", func(t *testing.T) answer {
			return postSigned(t, ts.URL+"/inbox", deleteOf(v1), victim.KeyID(), nil)
		}, 202},
		{"1", "Delete of a follower, signed by the attacker's own valid key", func(t *testing.T) answer {
			return postSigned(t, ts.URL+"/inbox", deleteOf(v1), evilActor("del", evil.URL+"/users/del/inbox", "")+"#main-key", evilKey)
		}, 202},
		{"1", "Delete of a follower at its personal inbox, keyId answering 410", func(t *testing.T) answer {
			return postSigned(t, bot+"/inbox", deleteOf(v2), evil.URL+"/gone#k", nil)
		}, 202},
		{"2", "keyId on the victim's host redirecting to a document claiming the victim's id", func(t *testing.T) answer {
			return postSigned(t, ts.URL+"/inbox", follow(v2, bot), vhost.URL+"/out?to="+evil.URL+"/claims-v2#main-key", evilKey)
		}, 401},
		{"2", "keyId on the attacker's host whose document claims the victim's id", func(t *testing.T) answer {
			return postSigned(t, ts.URL+"/inbox", follow(v2, bot), evil.URL+"/claims-v2#main-key", evilKey)
		}, 401},
		{"2", "key of another actor on the victim's host, claiming the victim as owner", func(t *testing.T) answer {
			return postSigned(t, ts.URL+"/inbox", follow(v2, bot), mallory+"#main-key", evilKey)
		}, 401},
		{"2", "key document on the victim's host that the victim's actor does not list", func(t *testing.T) answer {
			return postSigned(t, ts.URL+"/inbox", follow(v2, bot), vhost.URL+"/keys/rogue", evilKey)
		}, 401},
		{"3", "Follow whose inbox is on a third party's host", func(t *testing.T) answer {
			id := evilActor("third", third.URL+"/inbox", "")
			return postSigned(t, ts.URL+"/inbox", follow(id, bot), id+"#main-key", evilKey)
		}, 202},
		{"3", "Follow whose sharedInbox is on a third party's host", func(t *testing.T) answer {
			id := evilActor("thirdshared", evil.URL+"/users/thirdshared/inbox", third.URL+"/inbox")
			return postSigned(t, ts.URL+"/inbox", follow(id, bot), id+"#main-key", evilKey)
		}, 202},
		{"3", "Follow whose inbox is file:///etc/passwd", func(t *testing.T) answer {
			id := evilActor("file", "file:///etc/passwd", "")
			return postSigned(t, ts.URL+"/inbox", follow(id, bot), id+"#main-key", evilKey)
		}, 202},
		{"4", "keyId on a closed port: the answer says nothing of the network", func(t *testing.T) answer {
			a := postSigned(t, ts.URL+"/inbox", follow(v2, bot), "http://"+closed+"/k#main-key", evilKey)
			for _, leak := range []string{"refused", "dial", "connect", "tcp"} {
				if strings.Contains(a.body, leak) {
					t.Errorf("the answer %q leaks how the network failed (%q)", a.body, leak)
				}
			}
			return a
		}, 401},
	}
	for _, c := range cases {
		t.Run("row "+c.row+": "+c.name, func(t *testing.T) {
			before := ts.snapshot(t)
			a := c.send(t)
			if a.status != c.want {
				t.Errorf("HTTP %d (%s), want %d", a.status, strings.TrimSpace(a.body), c.want)
			}
			after := ts.snapshot(t)
			for table, n := range before {
				if after[table] != n {
					t.Errorf("table %s went from %d to %d rows", table, n, after[table])
				}
			}
		})
	}

	t.Run("row 4: many unique keyIds on one silent host", func(t *testing.T) {
		before := ts.snapshot(t)
		const n = 24
		answers := make([]answer, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				id := fmt.Sprintf("http://%s/users/u%d", silent.addrs[0], i)
				answers[i] = postSigned(t, ts.URL+"/inbox", follow(id, bot), id+"#main-key", evilKey)
			})
		}
		wg.Wait()
		busy := 0
		for _, a := range answers {
			switch {
			case a.status == 503 && a.header.Get("Retry-After") != "":
				busy++
			case a.status == 401:
			default:
				t.Errorf("HTTP %d (Retry-After %q): %s, want 401 or 503 with Retry-After", a.status, a.header.Get("Retry-After"), a.body)
			}
		}
		if busy == 0 {
			t.Error("no request was told the fetches were saturated")
		}
		if peak := silent.peak(); peak > 2 {
			t.Errorf("%d connections at once to the silent host, want at most 2", peak)
		}
		if after := ts.snapshot(t); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("rows went from %v to %v", before, after)
		}
	})

	t.Run("row 5: a Follow replayed three times gets one Accept", func(t *testing.T) {
		r := fedtest.New(t, "replayer", fedtest.Mastodon, fedtest.FetchKeys)
		body, _ := json.Marshal(r.FollowActivity(bot))
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/inbox", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/activity+json")
		if err := r.Sign(req, body); err != nil {
			t.Fatal(err)
		}
		var before map[string]int
		attempts := ts.snapshot(t)["delivery_attempts"]
		for i := range 4 {
			replay, _ := http.NewRequest(http.MethodPost, req.URL.String(), bytes.NewReader(body))
			replay.Header = req.Header.Clone()
			resp, err := http.DefaultClient.Do(replay)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 202 {
				t.Errorf("sending %d: HTTP %d", i+1, resp.StatusCode)
			}
			if i == 0 { // the Accept goes out, then the replays come
				r.WaitDeliveries(t, 1, 10*time.Second)
				eventually.True(t, 5*time.Second, "the Accept recorded", func() bool { return ts.snapshot(t)["delivery_attempts"] > attempts })
				before = ts.snapshot(t)
			}
		}
		time.Sleep(200 * time.Millisecond) // a second Accept would be on its way by now
		if after := ts.snapshot(t); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("the replays changed the rows from %v to %v", before, after)
		}
		if got := len(r.Deliveries()); got != 1 {
			t.Errorf("%d Accepts delivered, want 1", got)
		}
	})

	// The victims still follow, with the inboxes they gave, and a post
	// reaches them and nobody else: the third party gets nothing.
	want := map[string]string{v1: victim.Inbox(), v2: v2 + "/inbox"}
	rows, err := ts.sql(t).Query(`SELECT follower, inbox FROM followers`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var f, in string
		rows.Scan(&f, &in)
		got[f] = in
	}
	rows.Close()
	for f, in := range want {
		if got[f] != in {
			t.Errorf("follower %s has inbox %q, want %q", f, got[f], in)
		}
	}
	ts.publish(t, "after the attacks")
	eventually.True(t, 10*time.Second, "the post reaches victim 1", func() bool {
		for _, d := range victim.Deliveries() {
			if d.Activity["type"] == "Create" {
				return true
			}
		}
		return false
	})
	if n := third.hits.Load(); n != 0 {
		t.Errorf("the third party got %d requests", n)
	}

	// Control: the proofs the inbox does accept. A Delete signed with the
	// stored key removes victims 1 and 2; a third follower whose id answers
	// 410 is removed whatever key signed its Delete.
	if a := postSigned(t, ts.URL+"/inbox", deleteOf(v1), victim.KeyID(), victim.Key); a.status != 202 {
		t.Errorf("Delete signed with victim 1's key: %+v", a)
	}
	if a := postSigned(t, ts.URL+"/inbox", deleteOf(v2), v2+"#main-key", v2Key); a.status != 202 {
		t.Errorf("Delete signed with victim 2's key: %+v", a)
	}
	gone := fedtest.New(t, "gone", fedtest.Mastodon, fedtest.FetchKeys)
	if resp, err := gone.Post(ts.URL+"/inbox", gone.FollowActivity(bot)); err != nil || resp.StatusCode != 202 {
		t.Fatalf("Follow: %v %v", err, resp)
	}
	gone.SetGone()
	if a := postSigned(t, ts.URL+"/inbox", deleteOf(gone.ActorID()), evil.URL+"/gone#k", nil); a.status != 202 {
		t.Errorf("Delete of a follower whose id answers 410: %+v", a)
	}
	var left int
	ts.sql(t).QueryRow(`SELECT COUNT(*) FROM followers WHERE follower IN (?, ?, ?)`, v1, v2, gone.ActorID()).Scan(&left)
	if left != 0 {
		t.Errorf("%d of the three deleted followers still follow", left)
	}
}

func follow(actor, object string) map[string]any {
	return map[string]any{"@context": "https://www.w3.org/ns/activitystreams", "id": actor + "/follow/" + fedtest.RandomHex(),
		"type": "Follow", "actor": actor, "object": object}
}

// closedPort returns an address on the loopback ip nothing listens on.
func closedPort(t *testing.T, ip string) string {
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// silentHost accepts connections and never answers, on one address per
// ip given; it counts how many connections it holds at once over all.
type silentHost struct {
	addrs   []string
	mu      sync.Mutex
	open, m int
}

func newSilentHost(t *testing.T, ips ...string) *silentHost {
	h := &silentHost{}
	for _, ip := range ips {
		ln, err := net.Listen("tcp", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		h.addrs = append(h.addrs, ln.Addr().String())
		t.Cleanup(func() { ln.Close() })
		go h.hold(ln)
	}
	return h
}

func (h *silentHost) hold(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		h.open++
		h.m = max(h.m, h.open)
		h.mu.Unlock()
		go func() {
			io.Copy(io.Discard, c) // until the client gives up
			c.Close()
			h.mu.Lock()
			h.open--
			h.mu.Unlock()
		}()
	}
}

func (h *silentHost) peak() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.m
}

// Row 5: a flood of valid Follows from one server meets the inbox rate
// (--inbox-rate 1: bursts of 20): what is over it is answered 429 with
// Retry-After and leaves nothing behind.
func TestAttackFollowFlood(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.InboxRate = 1 })
	r := fedtest.New(t, "flood", fedtest.Mastodon, fedtest.FetchKeys)
	before := ts.snapshot(t)
	const n = 60
	accepted, limited := 0, 0
	for i := range n {
		resp, err := r.Post(ts.URL+"/inbox", r.FollowActivity(ts.URL+"/users/nuttx_build"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode == 202:
			accepted++
		case resp.StatusCode == 429 && resp.Header.Get("Retry-After") != "":
			limited++
		default:
			t.Fatalf("Follow %d: HTTP %d (Retry-After %q)", i, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	// 20 at once, and one more a second while they come.
	if accepted < 20 || accepted > 30 || limited != n-accepted {
		t.Errorf("%d accepted and %d answered 429 of %d, want 20 to 30 accepted and the rest 429", accepted, limited, n)
	}
	after := ts.snapshot(t)
	for table, want := range map[string]int{"activities": accepted, "followers": 1, "remote_actors": 1} {
		if got := after[table] - before[table]; got != want {
			t.Errorf("table %s grew by %d rows, want %d (one per accepted Follow or one in all)", table, got, want)
		}
	}
}
