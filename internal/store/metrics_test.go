package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/clock"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/migrations"
)

// fanOutDB is a database whose bot has n followers with personal inboxes,
// every third one on b.example and the rest on a.example, and one Create
// queued to all of them. Its clock is *now.
type fanOutDB struct {
	*store.Store
	SQL      *sql.DB // the same file, behind the store's back
	actor    *store.Actor
	activity int64
	clock    *clock.Settable
}

func newFanOutDB(tb testing.TB, n int) *fanOutDB {
	tb.Helper()
	f := &fanOutDB{clock: clock.At(time.UnixMilli(1_800_000_000_000).UTC())}
	path := filepath.Join(tb.TempDir(), store.FileName)
	var err error
	if f.Store, err = store.Open(context.Background(), path, store.Options{Now: f.clock.Now}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Store.Close() })
	if f.SQL, err = sql.Open("sqlite", migrations.DSN(path)); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.SQL.Close() })
	err = f.Update(context.Background(), func(tx *store.Tx) error {
		if _, err := tx.CreateActor(&store.Actor{Username: "bot", DisplayName: "bot", PrivateKeyPEM: "k", PublicKeyPEM: "p"}); err != nil {
			return err
		}
		if f.actor, err = tx.Actor("bot"); err != nil {
			return err
		}
		if _, err := tx.CreateActor(&store.Actor{Username: "lonely", DisplayName: "l", PrivateKeyPEM: "k", PublicKeyPEM: "p"}); err != nil {
			return err
		}
		for i := range n {
			host := "a.example"
			if i%3 == 0 {
				host = "b.example"
			}
			inbox := fmt.Sprintf("https://%s/users/u%d/inbox", host, i)
			if err := tx.SaveFollower(store.Follower{ActorID: f.actor.ID, IRI: inbox + "#actor", Inbox: inbox, FollowID: inbox + "#f"}); err != nil {
				return err
			}
		}
		a := &store.Activity{IRI: "https://bot.example/create/1", ActorID: f.actor.ID, Type: "Create", Body: []byte("{}")}
		if err := tx.InsertActivity(a); err != nil {
			return err
		}
		f.activity = a.ID
		_, err := tx.QueueToFollowers(a.ID, f.actor.ID)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// claim takes up to n due deliveries.
func (f *fanOutDB) claim(tb testing.TB, n int) []store.Delivery {
	tb.Helper()
	var ds []store.Delivery
	err := f.Update(context.Background(), func(tx *store.Tx) (err error) {
		ds, err = tx.ClaimDeliveries(store.Claim{Limit: n, PerDomain: n})
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ds
}

// record writes outcomes, made by outcome from each claimed delivery.
func (f *fanOutDB) record(tb testing.TB, ds []store.Delivery, outcome func(tx *store.Tx, d store.Delivery) store.Outcome) {
	tb.Helper()
	err := f.Update(context.Background(), func(tx *store.Tx) error {
		rows := make([]store.Outcome, len(ds))
		for i, d := range ds {
			rows[i] = outcome(tx, d)
		}
		return tx.RecordOutcomes(rows)
	})
	if err != nil {
		tb.Fatal(err)
	}
}

func (f *fanOutDB) stats(tb testing.TB) store.QueueStats {
	tb.Helper()
	var st store.QueueStats
	if err := f.View(context.Background(), func(tx *store.Tx) (err error) { st, err = tx.QueueStats(); return err }); err != nil {
		tb.Fatal(err)
	}
	return st
}

func (f *fanOutDB) fanOut(tb testing.TB) store.FanOut {
	tb.Helper()
	var m map[int64]store.FanOut
	if err := f.View(context.Background(), func(tx *store.Tx) (err error) { m, err = tx.FanOuts([]int64{f.activity, 999}); return err }); err != nil {
		tb.Fatal(err)
	}
	if len(m) != 1 {
		tb.Fatalf("FanOuts = %v, want the one activity with deliveries", m)
	}
	return m[f.activity]
}

// TestQueueStatsAndFanOuts follows a fan-out of 30 deliveries through
// claims, outcomes and a held host, and checks at each step what /metrics
// and the delivery log would read.
func TestQueueStatsAndFanOuts(t *testing.T) {
	t.Parallel()
	f := newFanOutDB(t, 30) // 10 on b.example, 20 on a.example
	queued := f.clock.Now()
	st := f.stats(t)
	if st.Due != 30 || st.Waiting+st.Held+st.InFlight != 0 || !st.OldestDue.Equal(queued) {
		t.Fatalf("queued: %+v", st)
	}
	if st.Followers["bot"] != 30 || st.Followers["lonely"] != 0 || len(st.Followers) != 2 || len(st.Hosts) != 0 {
		t.Fatalf("followers and hosts: %+v", st)
	}
	if fo := f.fanOut(t); fo.Inboxes != 30 || fo.Untried != 30 || fo.Type != "Create" || fo.IRI != "https://bot.example/create/1" || !fo.Queued.Equal(queued) || fo.Done() {
		t.Fatalf("fan-out queued: %+v", fo)
	}

	f.clock.Add(time.Minute)
	ds := f.claim(t, 12)
	if st := f.stats(t); st.Due != 18 || st.InFlight != 12 || st.OldestDue != queued {
		t.Fatalf("12 claimed: %+v", st)
	}
	// 10 delivered, 1 retried in an hour, 1 refused for good.
	f.record(t, ds, func(_ *store.Tx, d store.Delivery) store.Outcome {
		o := store.Outcome{Delivery: d, State: store.Delivered, Status: 202}
		switch d.ID {
		case ds[0].ID:
			o.State, o.Next, o.Status = store.Pending, f.clock.Now().Add(time.Hour), 503
		case ds[1].ID:
			o.State, o.Status = store.Failed, 403
		}
		return o
	})
	if st := f.stats(t); st.Due != 18 || st.Waiting != 1 || st.InFlight != 0 || st.Held != 0 {
		t.Fatalf("12 recorded: %+v", st)
	}
	if fo := f.fanOut(t); fo.Delivered != 10 || fo.Failed != 1 || fo.Retrying != 1 || fo.Untried != 18 || fo.Done() {
		t.Fatalf("fan-out after 12: %+v", fo)
	}

	// b.example is held: its untried rows are set aside.
	err := f.Update(context.Background(), func(tx *store.Tx) error {
		return tx.SaveHost(store.Host{Domain: "b.example", State: store.HostHeld, Failures: 5, FailingSince: tx.Now, NextProbe: tx.Now.Add(time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	st = f.stats(t)
	fo := f.fanOut(t)
	if st.Held == 0 || st.Held+st.Due != 18 || st.Hosts[store.HostHeld] != 1 || fo.Held != st.Held || fo.Untried != st.Due {
		t.Fatalf("b.example held: %+v, fan-out %+v", st, fo)
	}

	// The rest is delivered; the retry comes due and is given up.
	f.record(t, f.claim(t, 100), func(_ *store.Tx, d store.Delivery) store.Outcome {
		return store.Outcome{Delivery: d, State: store.Delivered, Status: 202}
	})
	if st := f.stats(t); st.Due != 0 || !st.OldestDue.IsZero() {
		t.Fatalf("nothing due: %+v", st)
	}
	f.clock.Add(2 * time.Hour)
	if st := f.stats(t); st.Due != 1 || !st.OldestDue.Equal(queued.Add(time.Minute+time.Hour)) {
		t.Fatalf("the retry is due: %+v (oldest due %v)", st, st.OldestDue)
	}
	f.record(t, f.claim(t, 100), func(_ *store.Tx, d store.Delivery) store.Outcome {
		return store.Outcome{Delivery: d, State: store.Failed, Status: 503}
	})
	if fo := f.fanOut(t); fo.Retrying != 0 || fo.Failed != 2 || fo.Held != st.Held || fo.Done() {
		t.Fatalf("only the held rows left: %+v", fo)
	}
	err = f.Update(context.Background(), func(tx *store.Tx) error { _, err := tx.ForgetHost("b.example"); return err })
	if err != nil {
		t.Fatal(err)
	}
	f.record(t, f.claim(t, 100), func(_ *store.Tx, d store.Delivery) store.Outcome {
		return store.Outcome{Delivery: d, State: store.Delivered, Status: 202}
	})
	if fo := f.fanOut(t); !fo.Done() || fo.Delivered != 28 || fo.Failed != 2 {
		t.Fatalf("all done: %+v", fo)
	}
	if st := f.stats(t); st.Due+st.Waiting+st.Held+st.InFlight != 0 || len(st.Hosts) != 0 {
		t.Fatalf("empty queue: %+v", st)
	}
}

// BenchmarkFanOuts measures the read the delivery log makes after each
// batch of outcomes, on a fan-out of 10,000 deliveries half done.
func BenchmarkFanOuts(b *testing.B) {
	f := newFanOutDB(b, 10000)
	ds := f.claim(b, 5000)
	f.record(b, ds, func(_ *store.Tx, d store.Delivery) store.Outcome {
		return store.Outcome{Delivery: d, State: store.Delivered, Status: 202}
	})
	for b.Loop() {
		f.fanOut(b)
	}
}

// BenchmarkQueueStats measures a scrape's read with 100,000 finished
// deliveries kept and 10,000 pending.
func BenchmarkQueueStats(b *testing.B) {
	f := newFanOutDB(b, 10000)
	_, err := f.SQL.Exec(`INSERT INTO deliveries (activity_id, inbox, state, next_attempt_at, created_at, finished_at, domain)
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
		SELECT ?, 'https://c.example/inbox', 'delivered', 0, 0, 0, 'c.example' FROM n`, f.activity)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		f.stats(b)
	}
}
