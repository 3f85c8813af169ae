package activitypub

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"sync"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// feedProfileOf is a FeedProfile for tests: the name carries prefix, so
// that a test can tell which one wrote it.
func feedProfileOf(prefix string) func(store.FeedAccount) Profile {
	return func(a store.FeedAccount) Profile {
		return Profile{Username: a.Username, DisplayName: prefix + a.Username, Summary: "news of " + a.Username,
			Fields: []store.Field{{Name: "Kind", URL: "https://kind.example/" + a.Kind}}}
	}
}

// newFeedEnv is newEnv with feed accounts: an identity naming the bot (the
// firehose, unlisted), and the catalog of rv-virt:citest (risc-v) and
// sim:nsh (sim).
func newFeedEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newEnv(t, func(o *Options) { o.FeedProfile = feedProfileOf("") })
	err := e.db.Update(e.ctx, func(tx *store.Tx) error {
		if _, err := tx.SetIdentity(testBase, "nuttx_build"); err != nil {
			return err
		}
		_, err := tx.SeeTargets([]store.CatalogTarget{
			{Target: "rv-virt:citest", Board: "rv-virt", Config: "citest", Arch: "risc-v"},
			{Target: "sim:nsh", Board: "sim", Config: "nsh", Arch: "sim"},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	unlisted := store.Unlisted
	if _, err := e.s.EditProfile(e.ctx, "nuttx_build", ProfileEdit{Visibility: &unlisted}); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestFeedAccountTemplates: every kind of feed account reads as a keyless
// template (ID 0, its FeedProfile text, the firehose's visibility) and
// nothing is written; unknown and invalid names, and every name of a
// service without FeedProfile, are not found.
func TestFeedAccountTemplates(t *testing.T) {
	t.Parallel()
	e := newFeedEnv(t)
	before := e.snapshot()
	for name, kind := range map[string]string{"rv-virt.citest": store.KindTarget, "RV-Virt": store.KindBoard, "arch.risc-v": store.KindArch, "arch.sim": store.KindArch} {
		a, err := e.s.Actor(e.ctx, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if a.ID != 0 || a.Kind != kind || a.PublicKeyPEM != "" || a.DisplayName != lower(name) || a.Summary != "news of "+lower(name) ||
			len(a.Fields) != 1 || a.Visibility != store.Unlisted {
			t.Errorf("%s = %+v; want a template of kind %s, unlisted as the firehose", name, a, kind)
		}
	}
	for _, name := range []string{"rv-virt.nsh", "arch.arm", "rv-virt:citest", "../etc", "", "arch"} {
		if _, err := e.s.Actor(e.ctx, name); !errors.Is(err, ErrNotFound) {
			t.Errorf("%q: %v, want ErrNotFound", name, err)
		}
		if _, err := e.s.MaterializeActor(e.ctx, name); !errors.Is(err, ErrNotFound) {
			t.Errorf("materialize %q: %v, want ErrNotFound", name, err)
		}
	}
	e.sameSnapshot(before, "reading templates")

	plain, err := New(Options{BaseURL: testBase, Store: e.db.Store})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Actor(e.ctx, "rv-virt.citest"); !errors.Is(err, ErrNotFound) {
		t.Errorf("without FeedProfile: %v, want ErrNotFound", err)
	}
	if _, err := plain.MaterializeActor(e.ctx, "rv-virt.citest"); !errors.Is(err, ErrNotFound) {
		t.Errorf("materialize without FeedProfile: %v, want ErrNotFound", err)
	}
	e.sameSnapshot(before, "a service without feed accounts")
}

// TestMaterializeOnce: concurrent first needs of one account make one row
// and one key, logged once; the row then shows the profile text of the
// service reading it (a changed setting shows), and its kind.
func TestMaterializeOnce(t *testing.T) {
	t.Parallel()
	e := newFeedEnv(t)
	made := e.s.keysMade.Load()
	var wg sync.WaitGroup
	keys := make([]string, 8)
	for i := range keys {
		wg.Go(func() {
			a, err := e.s.MaterializeActor(e.ctx, "rv-virt.citest")
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = a.PublicKeyPEM
		})
	}
	wg.Wait()
	if n := e.s.keysMade.Load() - made; n != 1 {
		t.Errorf("%d keys generated for 8 concurrent first needs, want 1", n)
	}
	var rows int
	var pub string
	e.db.SQL.QueryRow(`SELECT COUNT(*), MAX(public_key_pem) FROM actors WHERE username = 'rv-virt.citest' AND kind = 'target'`).Scan(&rows, &pub)
	if rows != 1 || pub == "" {
		t.Fatalf("%d rows of rv-virt.citest, want 1 with a key", rows)
	}
	for i, k := range keys {
		if k != pub {
			t.Errorf("caller %d got another key than the stored one", i)
		}
	}
	a, err := e.s.Actor(e.ctx, "rv-virt.citest")
	if err != nil || a.ID == 0 || a.PublicKeyPEM != pub || a.Visibility != store.Unlisted {
		t.Fatalf("after: %+v %v; want the row with its key, unlisted as the firehose", a, err)
	}

	other, err := New(Options{BaseURL: testBase, Store: e.db.Store, FeedProfile: feedProfileOf("new ")})
	if err != nil {
		t.Fatal(err)
	}
	if a, err := other.Actor(e.ctx, "rv-virt.citest"); err != nil || a.DisplayName != "new rv-virt.citest" || a.ID == 0 {
		t.Errorf("read with another FeedProfile: %+v %v; want its text", a, err)
	}
	if a, err := other.MaterializeActor(e.ctx, "rv-virt.citest"); err != nil || a.PublicKeyPEM != pub {
		t.Errorf("materialize again: %v; want the same key", err)
	}
}

// TestKeyGenerationsWait: a key is made only in its turn; a caller that
// gives up waiting gets ErrUnavailable and creates nothing.
func TestKeyGenerationsWait(t *testing.T) {
	t.Parallel()
	e := newFeedEnv(t)
	before := e.snapshot()
	e.s.keySlots <- struct{}{} // another key is being made
	ctx, cancel := context.WithTimeout(e.ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := e.s.MaterializeActor(ctx, "sim"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("materialize while the slot is taken: %v, want ErrUnavailable", err)
	}
	e.sameSnapshot(before, "a materialization that gave up")
	<-e.s.keySlots
	if a, err := e.s.MaterializeActor(e.ctx, "sim"); err != nil || a.ID == 0 {
		t.Fatalf("materialize once the slot is free: %v", err)
	}

	// A caller that gives up fails no one else waiting for that account.
	e.s.keySlots <- struct{}{}
	first, cancelFirst := context.WithCancel(e.ctx)
	firstDone := make(chan error, 1)
	go func() { _, err := e.s.MaterializeActor(first, "rv-virt"); firstDone <- err }()
	time.Sleep(50 * time.Millisecond) // the first caller started the work
	secondDone := make(chan error, 1)
	go func() { _, err := e.s.MaterializeActor(e.ctx, "rv-virt"); secondDone <- err }()
	time.Sleep(50 * time.Millisecond) // the second joined it
	cancelFirst()
	if err := <-firstDone; !errors.Is(err, ErrUnavailable) {
		t.Errorf("the caller that gave up: %v, want ErrUnavailable", err)
	}
	<-e.s.keySlots
	if err := <-secondDone; err != nil {
		t.Errorf("the caller still waiting: %v, want its account", err)
	}
}

// TestFollowFeedAccount: a Follow of a feed account, to its own inbox,
// creates it and is Accepted with its own key; an Undo removes the
// follower; an Undo of a follow of an account never followed is accepted
// and creates nothing.
func TestFollowFeedAccount(t *testing.T) {
	t.Parallel()
	e := newFeedEnv(t)
	e.runDelivery()
	r := e.remote("alice", fedtest.Mastodon)

	before := e.snapshot()
	never := r.FollowActivity(testBase + "/users/arch.sim")
	if err := e.s.HandleInbox(e.ctx, "arch.sim", inbound(t, r, "/users/arch.sim/inbox", r.UndoActivity(never))); err != nil {
		t.Fatalf("Undo of a never-followed account: %v", err)
	}
	after := e.snapshot()
	if after["actors"] != before["actors"] || after["followers"] != before["followers"] {
		t.Errorf("an Undo of a never-followed account changed actors or followers: %v -> %v", before, after)
	}

	follow := r.FollowActivity(testBase + "/users/rv-virt")
	if err := e.s.HandleInbox(e.ctx, "rv-virt", inbound(t, r, "/users/rv-virt/inbox", follow)); err != nil {
		t.Fatalf("Follow: %v", err)
	}
	d := r.WaitDeliveries(t, 1, 10*time.Second)[0]
	if d.VerifyErr != nil || d.Activity["type"] != "Accept" || d.Activity["actor"] != testBase+"/users/rv-virt" {
		t.Fatalf("delivery %v %v; want an Accept by rv-virt that verifies", d.VerifyErr, d.Activity)
	}
	if sig := d.Header.Get("Signature"); !bytes.Contains([]byte(sig), []byte(`keyId="`+testBase+`/users/rv-virt#main-key"`)) {
		t.Errorf("Accept signed %s; want rv-virt's key", sig)
	}
	var followers int
	e.db.SQL.QueryRow(`SELECT COUNT(*) FROM followers f JOIN actors a ON a.id = f.actor_id WHERE a.username = 'rv-virt' AND a.kind = 'board'`).Scan(&followers)
	if followers != 1 {
		t.Fatalf("%d followers of rv-virt, want 1", followers)
	}
	if err := e.s.HandleInbox(e.ctx, "", inbound(t, r, "/inbox", r.UndoActivity(follow))); err != nil {
		t.Fatalf("Undo: %v", err)
	}
	if n := storetest.Count(t, e.db.SQL, "followers"); n != 0 {
		t.Errorf("%d followers after the Undo, want 0", n)
	}
}

// TestFirehoseImagesReachFeedAccounts: a new avatar of the firehose queues
// an Update of each feed account that has followers (showing that avatar),
// and none of one without; a change of the bio alone queues none.
func TestFirehoseImagesReachFeedAccounts(t *testing.T) {
	t.Parallel()
	e := newFeedEnv(t)
	followed, err := e.s.MaterializeActor(e.ctx, "rv-virt.citest")
	if err != nil {
		t.Fatal(err)
	}
	lonely, err := e.s.MaterializeActor(e.ctx, "sim")
	if err != nil {
		t.Fatal(err)
	}
	err = e.db.Update(e.ctx, func(tx *store.Tx) error {
		return tx.SaveFollower(store.Follower{ActorID: followed.ID, IRI: "https://remote.example/users/a", Inbox: "https://remote.example/users/a/inbox", FollowID: "https://remote.example/f/1"})
	})
	if err != nil {
		t.Fatal(err)
	}
	updates := func(actorID int64) int {
		var n int
		e.db.SQL.QueryRow(`SELECT COUNT(*) FROM activities WHERE type = 'Update' AND actor_id = ?`, actorID).Scan(&n)
		return n
	}
	bio := "a new bio"
	if _, err := e.s.EditProfile(e.ctx, "nuttx_build", ProfileEdit{Summary: &bio}); err != nil {
		t.Fatal(err)
	}
	if n := updates(followed.ID); n != 0 {
		t.Errorf("a new bio of the firehose queued %d Updates of a feed account, want 0", n)
	}
	if _, err := e.s.EditProfile(e.ctx, "nuttx_build", ProfileEdit{Avatar: &ImageEdit{Data: onePixelPNG(t)}}); err != nil {
		t.Fatal(err)
	}
	if n, m := updates(followed.ID), updates(lonely.ID); n != 1 || m != 0 {
		t.Fatalf("Updates: %d of the followed account, %d of the lonely one; want 1 and 0", n, m)
	}
	var body string
	e.db.SQL.QueryRow(`SELECT body FROM activities WHERE type = 'Update' AND actor_id = ?`, followed.ID).Scan(&body)
	if !bytes.Contains([]byte(body), []byte(`/users/rv-virt.citest/images/avatar?v=`)) || !bytes.Contains([]byte(body), []byte(`"name":"rv-virt.citest"`)) {
		t.Errorf("Update = %s; want rv-virt.citest's document with the new avatar", body)
	}
	var queued int
	e.db.SQL.QueryRow(`SELECT COUNT(*) FROM deliveries d JOIN activities a ON a.id = d.activity_id WHERE a.actor_id = ?`, followed.ID).Scan(&queued)
	if queued != 1 {
		t.Errorf("%d deliveries of the feed account's Update, want 1", queued)
	}
	eventually.True(t, 10*time.Second, "the template shows the firehose's avatar", func() bool {
		a, err := e.s.Actor(e.ctx, "arch.risc-v")
		return err == nil && a.Avatar.ContentType == "image/png"
	})
}

// onePixelPNG is a valid avatar.
func onePixelPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.RGBA{G: 200, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
