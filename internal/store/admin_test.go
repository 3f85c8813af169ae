package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// update runs fn in a write transaction of db, failing the test on error.
func update(t testing.TB, db *storetest.DB, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := db.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// follow makes iri a follower of a with inbox (and sharedInbox), known as
// username, and queues one activity to each of its inboxes.
func follow(t *testing.T, db *storetest.DB, a *store.Actor, iri, username, inbox, sharedInbox string) {
	t.Helper()
	update(t, db, func(tx *store.Tx) error {
		if err := tx.SaveRemoteActor(&store.RemoteActor{IRI: iri, KeyID: iri + "#main-key", PublicKeyPEM: "p", Inbox: inbox,
			SharedInbox: sharedInbox, Username: username, FetchedAt: tx.Now}); err != nil {
			return err
		}
		return tx.SaveFollower(store.Follower{ActorID: a.ID, IRI: iri, Inbox: inbox, SharedInbox: sharedInbox, FollowID: iri + "/follow/1"})
	})
}

// queue queues an activity of a to every follower, and returns its row id.
func queue(t *testing.T, db *storetest.DB, a *store.Actor, iri string) int64 {
	t.Helper()
	act := &store.Activity{IRI: iri, ActorID: a.ID, Type: "Create", Body: []byte("{}")}
	update(t, db, func(tx *store.Tx) error {
		if err := tx.InsertActivity(act); err != nil {
			return err
		}
		_, err := tx.QueueToFollowers(act.ID, a.ID)
		return err
	})
	return act.ID
}

// attempt claims every due delivery and records what outcome says of
// each (a zero Outcome: left claimed, never tried).
func attempt(t *testing.T, db *storetest.DB, outcome func(d store.Delivery, now time.Time) store.Outcome) {
	t.Helper()
	update(t, db, func(tx *store.Tx) error {
		claimed, err := tx.ClaimDeliveries(store.Claim{Limit: 10, PerDomain: 10})
		if err != nil {
			return err
		}
		var outcomes []store.Outcome
		for _, d := range claimed {
			if o := outcome(d, tx.Now); o.State != "" || o.Release {
				o.Delivery, o.Started = d, tx.Now
				outcomes = append(outcomes, o)
			}
		}
		return tx.RecordOutcomes(outcomes)
	})
}

// states returns "inbox=state/claimed/last_error" of every delivery, in id order.
func states(t *testing.T, db *storetest.DB) []string {
	t.Helper()
	rows, err := db.SQL.Query(`SELECT inbox, state, claimed, last_error FROM deliveries ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var inbox, state, lastErr string
		var claimed int
		if err := rows.Scan(&inbox, &state, &claimed, &lastErr); err != nil {
			t.Fatal(err)
		}
		out = append(out, inbox+"="+state+"/"+string(rune('0'+claimed))+"/"+lastErr)
	}
	return out
}

// TestBlocks: a block removes the followers on the domain and its
// subdomains (not others), gives up what was queued to it (also what the
// breaker held, which is never probed afterwards), forgets its breaker,
// and is listed; blocking again changes nothing; unblocking says whether
// there was a block.
func TestBlocks(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	a := actor(t, db, "bot")
	follow(t, db, a, "https://social.example.org/users/eve", "eve", "https://social.example.org/users/eve/inbox", "https://social.example.org/inbox")
	follow(t, db, a, "https://example.org/users/mal", "mal", "https://example.org/users/mal/inbox", "")
	follow(t, db, a, "https://example.net/users/bob", "bob", "https://example.net/users/bob/inbox", "")
	queue(t, db, a, "https://bot.example/1")
	update(t, db, func(tx *store.Tx) error { // the breaker holds example.org
		return tx.SaveHost(store.Host{Domain: "example.org", State: store.HostHeld, Failures: 5, FailingSince: tx.Now, NextProbe: tx.Now})
	})
	var b store.Block
	var added bool
	update(t, db, func(tx *store.Tx) (err error) { b, added, err = tx.AddBlock("example.org"); return err })
	if !added || b.Domain != "example.org" || b.FollowersRemoved != 2 || b.DeliveriesCancelled != 2 {
		t.Fatalf("AddBlock = %+v, %v; want 2 followers removed and 2 deliveries given up", b, added)
	}
	want := []string{
		"https://example.net/users/bob/inbox=pending/0/",
		"https://example.org/users/mal/inbox=failed/0/server blocked",
		"https://social.example.org/inbox=failed/0/server blocked",
	}
	if got := states(t, db); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("deliveries:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	update(t, db, func(tx *store.Tx) error {
		probes, err := tx.ClaimProbes()
		if len(probes) != 0 {
			t.Errorf("a blocked domain was probed with %+v", probes)
		}
		if _, held, _ := tx.Host("example.org"); held {
			t.Error("the blocked domain still has a breaker")
		}
		return err
	})
	for domain, want := range map[string]bool{"example.org": true, "social.example.org": false, "example.net": false} {
		if blocked, err := db.IsBlocked(context.Background(), domain); err != nil || blocked != want {
			t.Errorf("IsBlocked(%s) = %v, %v; want %v", domain, blocked, err, want)
		}
	}
	if n := storetest.Count(t, db.SQL, "followers"); n != 1 {
		t.Errorf("%d followers left, want bob only", n)
	}
	update(t, db, func(tx *store.Tx) (err error) { b, added, err = tx.AddBlock("example.org"); return err })
	if added || b.FollowersRemoved != 2 {
		t.Errorf("blocking again: %+v, %v; want the first block, unchanged", b, added)
	}
	update(t, db, func(tx *store.Tx) error {
		blocks, err := tx.Blocks()
		if err != nil || len(blocks) != 1 || blocks[0].Domain != "example.org" || blocks[0].Since.IsZero() {
			t.Errorf("Blocks = %+v, %v", blocks, err)
		}
		for _, want := range []bool{true, false} {
			if removed, err := tx.RemoveBlock("example.org"); err != nil || removed != want {
				t.Errorf("RemoveBlock = %v, %v; want %v", removed, err, want)
			}
		}
		return nil
	})
}

// TestRemovedFollowerGetsNothing: removing a follower gives up what was
// queued to their personal inbox, also what the breaker held (which used
// to stay set aside and be probed); CancelUnusedInbox gives up what went
// to a shared inbox only when no follower uses it any more.
func TestRemovedFollowerGetsNothing(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	a := actor(t, db, "bot")
	follow(t, db, a, "https://held.example/users/x", "x", "https://held.example/users/x/inbox", "")
	follow(t, db, a, "https://big.example/users/y", "y", "https://big.example/users/y/inbox", "https://big.example/inbox")
	follow(t, db, a, "https://big.example/users/z", "z", "https://big.example/users/z/inbox", "https://big.example/inbox")
	queue(t, db, a, "https://bot.example/1")
	update(t, db, func(tx *store.Tx) error {
		if err := tx.SaveHost(store.Host{Domain: "held.example", State: store.HostHeld, Failures: 5, FailingSince: tx.Now, NextProbe: tx.Now}); err != nil {
			return err
		}
		if _, err := tx.RemoveFollower(a.ID, "https://held.example/users/x"); err != nil {
			return err
		}
		if probes, err := tx.ClaimProbes(); err != nil || len(probes) != 0 {
			t.Errorf("ClaimProbes = %+v, %v: a removed follower's delivery went out", probes, err)
		}
		if _, err := tx.RemoveFollower(a.ID, "https://big.example/users/y"); err != nil {
			return err
		}
		if n, err := tx.CancelUnusedInbox("https://big.example/inbox"); err != nil || n != 0 {
			t.Errorf("CancelUnusedInbox of an inbox z still uses = %d, %v", n, err)
		}
		if _, err := tx.RemoveFollower(a.ID, "https://big.example/users/z"); err != nil {
			return err
		}
		if n, err := tx.CancelUnusedInbox("https://big.example/inbox"); err != nil || n != 1 {
			t.Errorf("CancelUnusedInbox of an unused inbox = %d, %v; want 1", n, err)
		}
		return nil
	})
	want := []string{"https://big.example/inbox=failed/0/follower removed", "https://held.example/users/x/inbox=failed/0/follower removed"}
	if got := states(t, db); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("deliveries:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTokens: only the token's SHA-256 is stored; CheckToken finds the
// name of a stored token and no other; names are unique; a revoked token
// checks no more.
func TestTokens(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	ctx := context.Background()
	ci, deploy := store.NewToken(), store.NewToken()
	if !strings.HasPrefix(ci, store.TokenPrefix) || len(ci) != len(store.TokenPrefix)+43 || ci == deploy {
		t.Fatalf("tokens %q and %q: want %s and 43 base64url characters (32 random bytes), each its own", ci, deploy, store.TokenPrefix)
	}
	actor(t, db, "alerts")
	update(t, db, func(tx *store.Tx) error {
		if err := tx.CreateToken(store.Token{Name: "ci", Scopes: "read write"}, ci); err != nil {
			return err
		}
		return tx.CreateToken(store.Token{Name: "deploy", Scopes: "write:statuses", Account: "alerts"}, deploy)
	})
	err := db.Update(ctx, func(tx *store.Tx) error { return tx.CreateToken(store.Token{Name: "ci"}, store.NewToken()) })
	if !errors.Is(err, store.ErrExists) {
		t.Errorf("a second token named ci: %v, want ErrExists", err)
	}
	err = db.Update(ctx, func(tx *store.Tx) error {
		return tx.CreateToken(store.Token{Name: "other", Account: "nobody"}, store.NewToken())
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a token of an unknown account: %v, want ErrNotFound", err)
	}
	var hash []byte
	if err := db.SQL.QueryRow(`SELECT hash FROM tokens WHERE name = 'ci'`).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256([]byte(ci)); !bytes.Equal(hash, sum[:]) {
		t.Errorf("stored %x, want the token's SHA-256", hash)
	}
	for token, want := range map[string]store.Token{
		ci:     {Name: "ci", Scopes: "read write", Kind: store.KindOperator},
		deploy: {Name: "deploy", Scopes: "write:statuses", Account: "alerts", Kind: store.KindOperator},
	} {
		got, err := db.CheckToken(ctx, token)
		if got.Created.IsZero() {
			err = errors.Join(err, errors.New("no creation time"))
		}
		got.Created = time.Time{}
		if err != nil || got != want {
			t.Errorf("CheckToken(%s...) = %+v, %v; want %+v", token[:8], got, err, want)
		}
	}
	for _, wrong := range []string{"", store.TokenPrefix, ci[:len(ci)-1], ci + "x", store.NewToken()} {
		if got, err := db.CheckToken(ctx, wrong); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CheckToken(%q) = %+v, %v; want ErrNotFound", wrong, got, err)
		}
	}
	update(t, db, func(tx *store.Tx) error {
		for _, want := range []bool{true, false} {
			if revoked, err := tx.RevokeToken("ci"); err != nil || revoked != want {
				t.Errorf("RevokeToken = %v, %v; want %v", revoked, err, want)
			}
		}
		tokens, err := tx.Tokens()
		if len(tokens) != 1 || tokens[0].Name != "deploy" || tokens[0].Created.IsZero() || !tokens[0].LastUsed.IsZero() {
			t.Errorf("Tokens = %+v", tokens)
		}
		return err
	})
	if _, err := db.CheckToken(ctx, ci); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a revoked token checks: %v", err)
	}
}

// TestTouchToken: a token's last use is written when it was never used or
// not within the interval given, and left alone otherwise.
func TestTouchToken(t *testing.T) {
	t.Parallel()
	db, clk, _, update := clockedStore(t)
	update(func(tx *store.Tx) error {
		return tx.CreateToken(store.Token{Name: "ci", Scopes: "read"}, store.NewToken())
	})
	lastUsed := func() time.Time {
		t.Helper()
		var tokens []store.Token
		if err := db.View(context.Background(), func(tx *store.Tx) (err error) { tokens, err = tx.Tokens(); return err }); err != nil {
			t.Fatal(err)
		}
		return tokens[0].LastUsed
	}
	first := clk.Now()
	for _, step := range []struct {
		advance time.Duration
		want    time.Time
	}{
		{0, first},                // never used: written
		{30 * time.Second, first}, // within the minute: left alone
		{30 * time.Second, first.Add(time.Minute)}, // a minute on: written
		{59 * time.Second, first.Add(time.Minute)}, // left alone again
	} {
		clk.Add(step.advance)
		update(func(tx *store.Tx) error { return tx.TouchToken("ci", time.Minute) })
		if got := lastUsed(); !got.Equal(step.want) {
			t.Errorf("at %s: last used %s, want %s", clk.Now().Sub(first), got, step.want)
		}
	}
}

// TestDeleteNote: a deleted note keeps its row and parent link, loses its
// text and tags, leaves every list and count, and what was queued of its
// Create is given up.
func TestDeleteNote(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	a := actor(t, db, "bot")
	follow(t, db, a, "https://example.net/users/bob", "bob", "https://example.net/users/bob/inbox", "")
	var root, reply store.Note
	update(t, db, func(tx *store.Tx) error {
		root = store.Note{PublicID: "root", ActorID: a.ID, Content: "<p>root</p>", Source: "root", Tags: []string{"NuttX"}, Published: tx.Now}
		if err := tx.InsertNote(&root); err != nil {
			return err
		}
		reply = store.Note{PublicID: "reply", ActorID: a.ID, Content: "<p>reply</p>", InReplyTo: "https://bot.example/root", Published: tx.Now}
		if err := tx.InsertNote(&reply); err != nil {
			return err
		}
		create := &store.Activity{IRI: "https://bot.example/reply/activity", ActorID: a.ID, Type: "Create", NoteSeq: reply.Seq, Body: []byte("{}")}
		if err := tx.InsertActivity(create); err != nil {
			return err
		}
		_, err := tx.QueueToFollowers(create.ID, a.ID)
		return err
	})
	var cancelled int
	var deleted time.Time
	update(t, db, func(tx *store.Tx) (err error) {
		deleted = tx.Now
		cancelled, _, err = tx.DeleteNote(reply.Seq, []byte(`{"type":"Delete"}`))
		return err
	})
	if cancelled != 1 {
		t.Errorf("%d deliveries of the Create given up, want 1", cancelled)
	}
	var body string
	db.SQL.QueryRow(`SELECT body FROM activities WHERE note_id = ? AND type = 'Create'`, reply.Seq).Scan(&body)
	if body != `{"type":"Delete"}` {
		t.Errorf("the Create's body after the delete: %s; want its text erased", body)
	}
	err := db.View(context.Background(), func(tx *store.Tx) error {
		n, err := tx.Note("bot", "reply")
		if err != nil || !n.Deleted.Equal(deleted) || n.Content != "" || n.Source != "" || n.InReplyTo != reply.InReplyTo {
			t.Errorf("the deleted note reads %+v, %v; want it marked, empty, still a reply", n, err)
		}
		if n, _ := tx.Note("bot", "root"); !n.Deleted.IsZero() {
			t.Error("the other note is marked deleted")
		}
		count, _ := tx.NoteCount(a.ID)
		all, _ := tx.NoteCount(0)
		page, _ := tx.Notes(store.NoteFilter{ActorID: a.ID}, store.Page{})
		replies, _ := tx.Replies("https://bot.example/root")
		counts, _ := tx.ReplyCounts([]string{"https://bot.example/root"})
		if count != 1 || all != 1 || len(page.Notes) != 1 || page.Notes[0].PublicID != "root" || len(replies) != 0 || counts["https://bot.example/root"] != 0 {
			t.Errorf("after the delete: count %d, all %d, page %d, replies %d, reply count %d; want the root only",
				count, all, len(page.Notes), len(replies), counts["https://bot.example/root"])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := storetest.Count(t, db.SQL, "note_tags"); n != 1 {
		t.Errorf("%d tags left, want the root's", n)
	}
	time.Sleep(2 * time.Millisecond)
	update(t, db, func(tx *store.Tx) error { // a second time changes nothing
		_, _, err := tx.DeleteNote(reply.Seq, []byte(`{}`))
		if n, _ := tx.Note("bot", "reply"); !n.Deleted.Equal(deleted) {
			t.Errorf("deleted again: at %v, want %v still", n.Deleted, deleted)
		}
		return err
	})
}

// TestFollowerStatuses: each follower with the last delivery tried to its
// inbox or shared inbox (never one not tried yet), its username, and the
// local actor it follows.
func TestFollowerStatuses(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	a := actor(t, db, "bot")
	follow(t, db, a, "https://ok.example/users/a", "a", "https://ok.example/users/a/inbox", "https://ok.example/inbox")
	follow(t, db, a, "https://bad.example/users/b", "", "https://bad.example/users/b/inbox", "")
	follow(t, db, a, "https://new.example/users/c", "c", "https://new.example/users/c/inbox", "")
	queue(t, db, a, "https://bot.example/1")
	attempt(t, db, func(d store.Delivery, now time.Time) store.Outcome {
		switch d.Domain {
		case "ok.example":
			return store.Outcome{State: store.Delivered, Status: 202}
		case "bad.example":
			return store.Outcome{State: store.Pending, Next: now.Add(time.Hour), Status: 503}
		}
		return store.Outcome{} // new.example's stays claimed, never tried
	})
	queue(t, db, a, "https://bot.example/2") // queued, not tried: the last tried stays
	var got []store.FollowerStatus
	if err := db.View(context.Background(), func(tx *store.Tx) (err error) { got, err = tx.FollowerStatuses(); return err }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d followers, want 3", len(got))
	}
	for i, want := range []struct {
		iri, username, state string
		status               int
	}{{"https://ok.example/users/a", "a", store.Delivered, 202}, {"https://bad.example/users/b", "", store.Pending, 503}, {"https://new.example/users/c", "c", "", 0}} {
		f := got[i]
		if f.IRI != want.iri || f.Username != want.username || f.Following != "bot" || f.Last.State != want.state || f.Last.Status != want.status {
			t.Errorf("follower %d: %+v; want %+v", i, f, want)
		}
	}
	if got[0].Last.At.IsZero() || !got[1].Last.At.IsZero() || got[1].Last.Next.IsZero() || got[1].Last.Attempts != 1 {
		t.Errorf("times: delivered at %v; failing: at %v, next %v, %d attempts", got[0].Last.At, got[1].Last.At, got[1].Last.Next, got[1].Last.Attempts)
	}
}

// TestHostStatuses: per domain, what is pending, the breaker, and the last
// failed attempt; Failing tells which servers fail now.
func TestHostStatuses(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	a := actor(t, db, "bot")
	follow(t, db, a, "https://ok.example/users/a", "a", "https://ok.example/users/a/inbox", "")
	follow(t, db, a, "https://sub.down.example/users/b", "b", "https://sub.down.example/users/b/inbox", "")
	follow(t, db, a, "https://parked.example/users/c", "c", "https://parked.example/users/c/inbox", "")
	queue(t, db, a, "https://bot.example/1")
	attempt(t, db, func(d store.Delivery, now time.Time) store.Outcome {
		switch d.Domain {
		case "ok.example":
			return store.Outcome{State: store.Delivered, Status: 202}
		case "down.example":
			return store.Outcome{State: store.Pending, Next: now.Add(time.Hour), Error: "connection refused"}
		}
		return store.Outcome{Release: true}
	})
	update(t, db, func(tx *store.Tx) error {
		return tx.SaveHost(store.Host{Domain: "parked.example", State: store.HostParked, Failures: 40, FailingSince: tx.Now})
	})
	var hosts []store.HostStatus
	if err := db.View(context.Background(), func(tx *store.Tx) (err error) { hosts, err = tx.HostStatuses(); return err }); err != nil {
		t.Fatal(err)
	}
	byDomain := map[string]store.HostStatus{}
	for _, h := range hosts {
		byDomain[h.Domain] = h
	}
	if len(hosts) != 3 {
		t.Fatalf("hosts %+v, want ok.example, down.example and parked.example", hosts)
	}
	if h := byDomain["ok.example"]; h.Pending != 0 || h.Failing() || h.LastError != "" || h.Breaker != "" {
		t.Errorf("ok.example: %+v", h)
	}
	if h := byDomain["down.example"]; h.Pending != 1 || h.Retrying != 1 || !h.Failing() || h.LastError != "connection refused" || h.LastErrAt.IsZero() || h.NextAttempt.IsZero() {
		t.Errorf("down.example: %+v", h)
	}
	if h := byDomain["parked.example"]; h.Pending != 1 || h.Retrying != 0 || !h.Failing() || h.Breaker != store.HostParked || h.Failures != 40 {
		t.Errorf("parked.example: %+v", h)
	}
}

// TestGivenUpWhileClaimed: a delivery given up while a server holds it
// (its request under way) is not pending any more, and the outcome of that
// request, a failure to retry, does not make it pending again.
func TestGivenUpWhileClaimed(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	a := actor(t, db, "bot")
	follow(t, db, a, "https://one.example/users/x", "x", "https://one.example/users/x/inbox", "")
	queue(t, db, a, "https://bot.example/1")
	var claimed []store.Delivery
	update(t, db, func(tx *store.Tx) (err error) {
		claimed, err = tx.ClaimDeliveries(store.Claim{Limit: 10, PerDomain: 10})
		return err
	})
	if len(claimed) != 1 {
		t.Fatalf("claimed %d deliveries, want 1", len(claimed))
	}
	update(t, db, func(tx *store.Tx) error { _, err := tx.RemoveFollower(a.ID, "https://one.example/users/x"); return err })
	if pending, err := db.DeliveryPending(context.Background(), claimed[0].ID); err != nil || pending {
		t.Fatalf("DeliveryPending after the removal = %v, %v; want false", pending, err)
	}
	update(t, db, func(tx *store.Tx) error {
		return tx.RecordOutcomes([]store.Outcome{{Delivery: claimed[0], State: store.Pending, Next: tx.Now, Status: 503, Error: "HTTP 503", Started: tx.Now}})
	})
	if got := states(t, db); len(got) != 1 || got[0] != "https://one.example/users/x/inbox=failed/0/follower removed" {
		t.Errorf("after the outcome of the request under way: %v; want it given up, unclaimed", got)
	}
}
