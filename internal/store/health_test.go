package store_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// TestCheckWrite: the check commits real pages to the write-ahead log and
// leaves no row; on the same file opened read-only it fails.
func TestCheckWrite(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	ctx := context.Background()
	walSize := func() int64 {
		fi, err := os.Stat(db.Path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := walSize()
	if err := db.CheckWrite(ctx); err != nil {
		t.Fatalf("CheckWrite: %v", err)
	}
	if after := walSize(); after <= before {
		t.Errorf("the write-ahead log did not grow (%d -> %d bytes): nothing was written", before, after)
	}
	if n := storetest.Count(t, db.SQL, "remote_actors"); n != 0 {
		t.Errorf("%d rows left in remote_actors", n)
	}

	ro, err := store.Open(ctx, db.Path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("open read-only: %v", err)
	}
	defer ro.Close()
	if err := ro.View(ctx, func(tx *store.Tx) error { _, err := tx.ActorCount(); return err }); err != nil {
		t.Errorf("read from the read-only store: %v", err)
	}
	if err := ro.CheckWrite(ctx); err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Errorf("CheckWrite on a read-only database: %v, want a read-only error", err)
	}
}
