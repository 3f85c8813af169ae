package activitypub

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/safehttp"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

const testBase = "https://nuttx-feed.org"

type testEnv struct {
	t   testing.TB
	s   *Service
	db  *storetest.DB
	ctx context.Context
}

func newEnv(t testing.TB, mutate ...func(*Options)) *testEnv {
	t.Helper()
	db := storetest.Open(t)
	o := Options{
		BaseURL:    testBase,
		Store:      db.Store,
		Client:     safehttp.NewClient(safehttp.Options{AllowPrivateNetworks: true, Timeout: 5 * time.Second}),
		FetchActor: "nuttx_build",
		Delivery:   DeliveryOptions{Poll: 20 * time.Millisecond, Jitter: -1},

		AllowPrivateNetworks: true, // the remotes are httptest servers: http on loopback
	}
	for _, m := range mutate {
		m(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, s: s, db: db, ctx: context.Background()}
	if _, _, err := s.EnsureActor(e.ctx, Profile{Username: "nuttx_build", DisplayName: "NuttX Build", Summary: "Failed builds of #NuttX"}); err != nil {
		t.Fatal(err)
	}
	return e
}

// ourKeys resolves our key ids for a remote verifying what we send.
func (e *testEnv) ourKeys(keyID string) (*rsa.PublicKey, error) {
	username, _ := e.s.site.ParseLocalActor(strings.TrimSuffix(keyID, "#main-key"))
	a, err := e.s.Actor(e.ctx, username)
	if err != nil {
		return nil, err
	}
	return parsePublicKey(a.PublicKeyPEM)
}

func (e *testEnv) remote(name string, style fedtest.Style) *fedtest.Remote {
	return fedtest.New(e.t, name, style, e.ourKeys)
}

// runDelivery runs the queue until the test ends.
func (e *testEnv) runDelivery() {
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- e.s.RunDelivery(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("RunDelivery: %v", err)
		}
	})
}

// inbound builds the request a remote would POST to path on our server.
func inbound(t testing.TB, r *fedtest.Remote, path string, activity any) InboundRequest {
	t.Helper()
	body, err := json.Marshal(activity)
	if err != nil {
		t.Fatal(err)
	}
	return inboundBytes(t, r, path, body)
}

// inboundBytes signs body as is (it need not be valid JSON).
func inboundBytes(t testing.TB, r *fedtest.Remote, path string, body []byte) InboundRequest {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, testBase+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/activity+json")
	if err := r.Sign(req, body); err != nil {
		t.Fatal(err)
	}
	return InboundRequest{Method: "POST", RequestURI: req.URL.RequestURI(), Header: req.Header, Body: body}
}

// snapshot counts the rows of every table, to prove nothing was stored.
func (e *testEnv) snapshot() map[string]int {
	out := map[string]int{}
	for _, table := range []string{"actors", "followers", "remote_actors", "notes", "note_tags", "activities", "deliveries", "delivery_attempts"} {
		out[table] = storetest.Count(e.t, e.db.SQL, table)
	}
	return out
}

func (e *testEnv) sameSnapshot(before map[string]int, what string) {
	e.t.Helper()
	after := e.snapshot()
	for table, n := range before {
		if after[table] != n {
			e.t.Errorf("%s: table %s went from %d to %d rows, want nothing stored", what, table, n, after[table])
		}
	}
}

func (e *testEnv) follower(iri string) (store.Follower, bool) {
	var f store.Follower
	err := e.db.SQL.QueryRow(`SELECT follower, inbox, shared_inbox, follow_id FROM followers WHERE follower = ?`, iri).
		Scan(&f.IRI, &f.Inbox, &f.SharedInbox, &f.FollowID)
	return f, err == nil
}

func (e *testEnv) publish(text string) *store.Note {
	e.t.Helper()
	n, err := publishNow(e.ctx, e.s, "nuttx_build", Post{Content: richtext.Parse(text)})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// publishNow publishes p in a transaction of its own.
func publishNow(ctx context.Context, s *Service, username string, p Post) (n *store.Note, err error) {
	err = s.store.Update(ctx, func(tx *store.Tx) error {
		n, err = s.Publish(tx, username, p)
		return err
	})
	return n, err
}

// saveFollowers stores followers as their Follows would.
func (e *testEnv) saveFollowers(fs ...store.Follower) {
	e.t.Helper()
	err := e.db.Update(e.ctx, func(tx *store.Tx) error {
		for _, f := range fs {
			if err := tx.SaveFollower(f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// addFollowers inserts n followers with personal inboxes inboxOf(i).
func (e *testEnv) addFollowers(n int, inboxOf func(i int) string) {
	e.t.Helper()
	a, _ := e.s.Actor(e.ctx, "nuttx_build")
	fs := make([]store.Follower, n)
	for i := range fs {
		fs[i] = store.Follower{ActorID: a.ID, IRI: inboxOf(i) + "#actor", Inbox: inboxOf(i), FollowID: inboxOf(i) + "#follow"}
	}
	e.saveFollowers(fs...)
}

type deliveryRow struct {
	State    string
	Attempts int
	Status   int
	Error    string
	Next     time.Time
}

func (e *testEnv) deliveryTo(inbox string) deliveryRow {
	e.t.Helper()
	var d deliveryRow
	var next int64
	err := e.db.SQL.QueryRow(`SELECT state, attempts, last_status, last_error, next_attempt_at FROM deliveries WHERE inbox = ? ORDER BY id DESC LIMIT 1`, inbox).
		Scan(&d.State, &d.Attempts, &d.Status, &d.Error, &next)
	if err != nil {
		e.t.Fatalf("delivery to %s: %v", inbox, err)
	}
	d.Next = time.UnixMilli(next)
	return d
}

// followerCount returns how many follow the bot, through the store.
func (e *testEnv) followerCount() int {
	e.t.Helper()
	a, err := e.s.Actor(e.ctx, "nuttx_build")
	if err != nil {
		e.t.Fatal(err)
	}
	var n int
	if err := e.db.View(e.ctx, func(tx *store.Tx) (err error) { n, err = tx.FollowerCount(a.ID); return err }); err != nil {
		e.t.Fatal(err)
	}
	return n
}
