package activitypub

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// TestParseDomain: what a block covers, from every way an operator names a
// server, and the names refused.
func TestParseDomain(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"example.org":                     "example.org",
		"Social.Example.ORG.":             "example.org",
		"social.example.org:8443":         "example.org",
		"https://social.example.org/@eve": "example.org",
		"x.example.co.uk":                 "example.co.uk",
		"alice.github.io":                 "alice.github.io",
		"ｍａｓｔｏｄｏｎ.social":                 "mastodon.social",
		"127.0.0.1":                       "127.0.0.1",
		"127.0.0.1:8080":                  "127.0.0.1",
		"[2001:db8:1:2::5]:443":           "2001:db8:1:2::/64",
		"2001:db8:1:2::/64":               "2001:db8:1:2::/64", // as block list shows it
		" example.org ":                   "example.org",
	} {
		if got, err := ParseDomain(name); err != nil || got != want {
			t.Errorf("ParseDomain(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, name := range []string{"", "com", "co.uk", "github.io", "localhost", "exa mple.org", "example.org/x", "_x.example.org",
		"https://", "-example.org", "ex\x1bample.org", strings.Repeat("a.", 130) + "org",
		"127.1", "0x7f000001", "2130706433", "2001:db8::/48"} {
		if got, err := ParseDomain(name); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseDomain(%q) = %q, %v; want ErrInvalid", name, got, err)
		}
	}
}

// TestBlockedServerIsNeitherFetchedNorHeard: a signed request from a
// blocked server gets 401 before its key is fetched, and no fetch goes to
// it for any other reason; once unblocked, it is heard again.
func TestBlockedServerIsNeitherFetchedNorHeard(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.remote("mallory", fedtest.Mastodon)
	if _, added, err := e.s.Block(e.ctx, r.Server.URL); err != nil || !added {
		t.Fatalf("Block: %v, %v", added, err)
	}
	before := e.snapshot()
	err := e.s.HandleInbox(e.ctx, "", inbound(t, r, "/inbox", r.FollowActivity(testBase+"/users/nuttx_build")))
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "127.0.0.1 is blocked here") {
		t.Errorf("a Follow from a blocked server: %v, want 401", err)
	}
	deleteSelf := map[string]any{"@context": "https://www.w3.org/ns/activitystreams", "id": r.ActorID() + "#delete",
		"type": "Delete", "actor": r.ActorID(), "object": r.ActorID()}
	if err := e.s.HandleInbox(e.ctx, "", inbound(t, r, "/inbox", deleteSelf)); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("a Delete of an unknown actor from a blocked server: %v, want 401", err)
	}
	if _, err := e.s.fetchDocument(e.ctx, r.ActorID()); err == nil || !strings.Contains(err.Error(), "blocked") {
		t.Errorf("fetching from a blocked server: %v", err)
	}
	if n := len(r.Gets()); n != 0 {
		t.Errorf("%d requests to the blocked server, want none", n)
	}
	e.sameSnapshot(before, "a Follow from a blocked server")
	if _, err := e.s.Unblock(e.ctx, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Unblock(e.ctx, "127.0.0.1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unblocking twice: %v, want ErrNotFound", err)
	}
	e.followBy(r)
	if e.followerCount() != 1 {
		t.Error("once unblocked, its Follow was not taken")
	}
}

// TestDeliveriesClaimedBeforeABlockAreDropped: deliveries the running
// queue held in memory when their server was blocked (from another
// process: through the database) are not sent; those still in the
// database are given up by the block itself.
func TestDeliveriesClaimedBeforeABlockAreDropped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.Delivery.PerHost, o.Delivery.PerHostMax = 1, 1 })
	r := e.remote("slow", fedtest.Mastodon)
	release := make(chan struct{})
	r.Answer(func(n int) (int, http.Header) {
		if n == 1 {
			<-release // the first delivery hangs while the others wait in the queue's memory
		}
		return http.StatusAccepted, nil
	})
	a, _ := e.s.Actor(e.ctx, "nuttx_build")
	e.saveFollowers(store.Follower{ActorID: a.ID, IRI: r.ActorID(), Inbox: r.Inbox(), FollowID: r.ActorID() + "/follow/1"})
	for range 4 {
		e.publish("a post")
	}
	e.runDelivery()
	r.WaitDeliveries(t, 1, 5*time.Second)
	var claimed int
	e.db.SQL.QueryRow(`SELECT COUNT(*) FROM deliveries WHERE claimed = 1`).Scan(&claimed)
	if claimed < 2 {
		t.Fatalf("%d deliveries claimed, want the one in flight and one waiting at least", claimed)
	}
	other, err := New(Options{BaseURL: testBase, Store: e.db.Store}) // the block command, in its own process
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.Block(e.ctx, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * e.s.delivery.Poll) // the queue rereads the blocks
	close(release)
	eventually.True(t, 5*time.Second, "nothing pending or claimed", func() bool {
		var busy int
		e.db.SQL.QueryRow(`SELECT COUNT(*) FROM deliveries WHERE state = 'pending' OR claimed <> 0`).Scan(&busy)
		return busy == 0
	})
	var delivered int
	e.db.SQL.QueryRow(`SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'`).Scan(&delivered)
	if delivered != 1 {
		t.Errorf("%d deliveries recorded delivered, want the one in flight when its server was blocked", delivered)
	}
	if n := len(r.Deliveries()); n != 1 {
		t.Errorf("the blocked server got %d deliveries, want only the one in flight when it was blocked", n)
	}
	var notSent int
	e.db.SQL.QueryRow(`SELECT COUNT(*) FROM deliveries WHERE state = 'failed' AND last_error LIKE 'server blocked%'`).Scan(&notSent)
	if notSent != 3 {
		t.Errorf("%d deliveries given up as blocked, want 3", notSent)
	}
}
