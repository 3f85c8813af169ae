package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/clock"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// TestPruneKeepsWhatIsNeeded: past the cut, finished deliveries and their
// attempts, and noteless activities without deliveries go; notes, their
// Creates, pending deliveries and everything newer stay.
func TestPruneKeepsWhatIsNeeded(t *testing.T) {
	t.Parallel()
	_, clk, path, update := clockedStore(t)
	db := storetest.OpenAt(t, path) // a second handle, to count rows
	var actorID int64
	update(func(tx *store.Tx) error {
		if _, err := tx.CreateActor(&store.Actor{Username: "bot", DisplayName: "bot", PrivateKeyPEM: "k", PublicKeyPEM: "p"}); err != nil {
			return err
		}
		a, err := tx.Actor("bot")
		actorID = a.ID
		return err
	})
	// one generation: a note with its Create delivered to one inbox and
	// pending for another, an Accept delivered, an Accept failed.
	generation := func(tag string) {
		update(func(tx *store.Tx) error {
			n := &store.Note{PublicID: tag, ActorID: actorID, Content: tag, Published: tx.Now}
			if err := tx.InsertNote(n); err != nil {
				return err
			}
			create := &store.Activity{IRI: tag + "/create", ActorID: actorID, Type: "Create", NoteSeq: n.Seq, Body: []byte("{}")}
			if err := tx.InsertActivity(create); err != nil {
				return err
			}
			for _, inbox := range []string{"https://a.example/inbox", "https://b.example/inbox"} {
				if err := tx.QueueDelivery(create.ID, inbox, ""); err != nil {
					return err
				}
			}
			for _, state := range []string{store.Delivered, store.Failed} {
				accept := &store.Activity{IRI: tag + "/accept/" + state, ActorID: actorID, Type: "Accept", Body: []byte("{}")}
				if err := tx.InsertActivity(accept); err != nil {
					return err
				}
				if err := tx.QueueDelivery(accept.ID, "https://c.example/inbox/"+state, "https://c.example/"+state); err != nil {
					return err
				}
			}
			return nil
		})
		// Everything but the Create to b.example gets an answer.
		update(func(tx *store.Tx) error {
			rows, err := tx.ClaimDeliveries(store.Claim{Limit: 100, PerDomain: 100})
			if err != nil {
				return err
			}
			var out []store.Outcome
			for _, d := range rows {
				switch {
				case d.Inbox == "https://b.example/inbox":
					out = append(out, store.Outcome{Delivery: d, State: store.Pending, Next: tx.Now.Add(time.Hour), Status: 503, Started: tx.Now})
				case d.Inbox == "https://c.example/inbox/failed":
					out = append(out, store.Outcome{Delivery: d, State: store.Failed, Status: 400, Started: tx.Now})
				default:
					out = append(out, store.Outcome{Delivery: d, State: store.Delivered, Status: 202, Started: tx.Now})
				}
			}
			return tx.RecordOutcomes(out)
		})
	}
	generation("old")
	clk.Add(48 * time.Hour)
	generation("new")
	counts := func() map[string]int {
		out := map[string]int{}
		for _, table := range []string{"notes", "activities", "deliveries", "delivery_attempts"} {
			out[table] = storetest.Count(t, db.SQL, table)
		}
		return out
	}
	before := counts()
	var total store.Pruned
	for { // a batch of 1: each kind comes one row at a time
		var p store.Pruned
		update(func(tx *store.Tx) (err error) {
			p, err = tx.Prune(tx.Now.Add(-24*time.Hour), 1)
			return err
		})
		if p.Total() == 0 {
			break
		}
		total.Add(p)
	}
	// Old generation: 3 finished deliveries (Create to a, both Accepts)
	// and their 3 attempts, the 2 Accepts. The old pending
	// Create to b keeps its delivery; its attempt is older than the cut, so
	// it goes.
	want := store.Pruned{Deliveries: 3, Attempts: 4, Activities: 2}
	if total != want {
		t.Errorf("pruned %+v, want %+v", total, want)
	}
	after := counts()
	for table, n := range map[string]int{"notes": 0, "activities": 2, "deliveries": 3, "delivery_attempts": 4} {
		if before[table]-after[table] != n {
			t.Errorf("table %s: %d rows before, %d after, want %d fewer", table, before[table], after[table], n)
		}
	}
	var pendingOld int
	db.SQL.QueryRow(`SELECT COUNT(*) FROM deliveries d JOIN activities a ON a.id = d.activity_id WHERE a.iri = 'old/create' AND d.state = 'pending'`).Scan(&pendingOld)
	if pendingOld != 1 {
		t.Errorf("the old pending delivery: %d rows, want 1 (kept until it finishes)", pendingOld)
	}
}

// clockedStore opens a store in a new folder whose clock is set to 1 January
// 2026 (the test moves it), closed with the test. It returns the store, its
// clock, the database's path and an update that fails the test on error.
func clockedStore(t *testing.T) (*store.Store, *clock.Settable, string, func(fn func(tx *store.Tx) error)) {
	t.Helper()
	clk := clock.At(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	path := filepath.Join(t.TempDir(), store.FileName)
	st, err := store.Open(context.Background(), path, store.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	update := func(fn func(tx *store.Tx) error) {
		t.Helper()
		if err := st.Update(context.Background(), fn); err != nil {
			t.Fatal(err)
		}
	}
	return st, clk, path, update
}
