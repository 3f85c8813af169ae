package store_test

import (
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// TestIdempotencyKeys: a key finds its note while it is newer than the
// cut, a key saved again takes the new note, and saving forgets the keys
// older than the cut.
func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	_, clk, path, update := clockedStore(t)
	find := func(key string, since time.Time) string {
		t.Helper()
		var id string
		update(func(tx *store.Tx) (err error) { id, err = tx.IdempotentNote(key, since); return err })
		return id
	}
	start := clk.Now()
	update(func(tx *store.Tx) error { return tx.SaveIdempotencyKey("ci\x00a", "n1", start.Add(-time.Hour)) })
	if got := find("ci\x00a", start); got != "n1" {
		t.Errorf("found %q, want n1", got)
	}
	if got := find("ci\x00b", start); got != "" {
		t.Errorf("an unknown key found %q", got)
	}
	if got := find("ci\x00a", start.Add(time.Millisecond)); got != "" {
		t.Errorf("a key older than the cut found %q", got)
	}
	clk.Add(2 * time.Hour)
	update(func(tx *store.Tx) error { return tx.SaveIdempotencyKey("ci\x00b", "n2", clk.Now().Add(-time.Hour)) })
	if n := storetest.Count(t, storetest.OpenAt(t, path).SQL, "api_idempotency"); n != 1 {
		t.Errorf("%d keys after the old one expired, want 1", n)
	}
	update(func(tx *store.Tx) error {
		return tx.SaveIdempotencyKey("ci\x00b", "n3", clk.Now().Add(-time.Hour))
	})
	if got := find("ci\x00b", clk.Now()); got != "n3" {
		t.Errorf("a key saved again found %q, want n3", got)
	}
}
