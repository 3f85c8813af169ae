package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

func actor(t testing.TB, db *storetest.DB, name string) *store.Actor {
	t.Helper()
	var a *store.Actor
	err := db.Update(context.Background(), func(tx *store.Tx) (err error) {
		if _, err = tx.CreateActor(&store.Actor{Username: name, DisplayName: name, PrivateKeyPEM: "k", PublicKeyPEM: "p"}); err != nil {
			return err
		}
		a, err = tx.Actor(name)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestUpdateCommitsOrRollsBack: hooks run after a commit only, an error
// rolls every statement back, and the clock is read once per transaction.
func TestUpdateCommitsOrRollsBack(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	ctx := context.Background()
	a := actor(t, db, "nuttx_build")
	var ran []string
	boom := errors.New("boom")
	err := db.Update(ctx, func(tx *store.Tx) error {
		tx.AfterCommit(func() { ran = append(ran, "rolled back") })
		if err := tx.InsertNote(&store.Note{PublicID: "a", ActorID: a.ID, Content: "x", Published: tx.Now}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the function's error", err)
	}
	if n := storetest.Count(t, db.SQL, "notes"); n != 0 || len(ran) != 0 {
		t.Fatalf("after a failed Update: %d notes, hooks %v; want nothing", n, ran)
	}
	var stamps []time.Time
	err = db.Update(ctx, func(tx *store.Tx) error {
		tx.AfterCommit(func() { ran = append(ran, "first") })
		tx.AfterCommit(func() { ran = append(ran, "second") })
		for i := range 2 {
			time.Sleep(2 * time.Millisecond)
			stamps = append(stamps, tx.Now)
			if err := tx.InsertNote(&store.Note{PublicID: fmt.Sprint(i), ActorID: a.ID, Content: "x", Published: tx.Now}); err != nil {
				return err
			}
		}
		if len(ran) != 0 {
			t.Error("a hook ran before the commit")
		}
		return nil
	})
	if err != nil || fmt.Sprint(ran) != "[first second]" || !stamps[0].Equal(stamps[1]) {
		t.Fatalf("Update = %v, hooks %v, clock %v", err, ran, stamps)
	}
}

// TestNotesPaging: pages are newest first, and Older and Newer tell exactly
// whether another page exists, for every cursor.
func TestNotesPaging(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	ctx := context.Background()
	a := actor(t, db, "nuttx_build")
	other := actor(t, db, "other")
	var seqs []int64
	err := db.Update(ctx, func(tx *store.Tx) error {
		for i := range 25 {
			n := &store.Note{PublicID: fmt.Sprint(i), ActorID: a.ID, Content: "x", Tags: []string{"NuttX"}, Published: tx.Now}
			if i%5 == 0 {
				n.Tags = nil
			}
			if err := tx.InsertNote(n); err != nil {
				return err
			}
			seqs = append(seqs, n.Seq)
			if err := tx.InsertNote(&store.Note{PublicID: fmt.Sprint("o", i), ActorID: other.ID, Content: "x", Published: tx.Now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	page := func(f store.NoteFilter, p store.Page) store.NotePage {
		t.Helper()
		var np store.NotePage
		if err := db.View(ctx, func(tx *store.Tx) (err error) { np, err = tx.Notes(f, p); return err }); err != nil {
			t.Fatal(err)
		}
		return np
	}
	mine := store.NoteFilter{ActorID: a.ID}
	for _, c := range []struct {
		name         string
		f            store.NoteFilter
		p            store.Page
		first, last  string
		older, newer bool
	}{
		{"newest", mine, store.Page{Limit: 10}, "24", "15", true, false},
		{"older", mine, store.Page{MaxID: seqs[15], Limit: 10}, "14", "5", true, true},
		{"oldest by max_id", mine, store.Page{MaxID: seqs[5], Limit: 10}, "4", "0", false, true},
		{"oldest page (min_id=0)", mine, store.Page{FromOldest: true, Limit: 10}, "9", "0", false, true},
		{"newer", mine, store.Page{MinID: seqs[9], FromOldest: true, Limit: 10}, "19", "10", true, true},
		{"exactly all", mine, store.Page{Limit: 25}, "24", "0", false, false},
		{"tag", store.NoteFilter{Tag: "nuttx"}, store.Page{Limit: 20}, "24", "1", false, false},
		{"tag, small pages", store.NoteFilter{Tag: "NUTTX"}, store.Page{Limit: 19}, "24", "2", true, false},
	} {
		np := page(c.f, c.p)
		if len(np.Notes) == 0 || np.Notes[0].PublicID != c.first || np.Notes[len(np.Notes)-1].PublicID != c.last ||
			np.Older != c.older || np.Newer != c.newer {
			var ids []string
			for _, n := range np.Notes {
				ids = append(ids, n.PublicID)
			}
			t.Errorf("%s: %v older %v newer %v; want %s..%s older %v newer %v", c.name, ids, np.Older, np.Newer, c.first, c.last, c.older, c.newer)
		}
	}
	if np := page(mine, store.Page{MaxID: seqs[0]}); len(np.Notes) != 0 || np.Older || np.Newer {
		t.Errorf("beyond the oldest: %+v", np)
	}
}

// TestPanicReleasesTheWriteLock: a function that panics in Update leaves no
// transaction open (the next writer is not stuck), and a Tx kept past its
// function cannot be used.
func TestPanicReleasesTheWriteLock(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	ctx := context.Background()
	var kept *store.Tx
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic did not reach the caller")
			}
		}()
		db.Update(ctx, func(tx *store.Tx) error {
			kept = tx
			panic("boom")
		})
	}()
	done := make(chan error, 1)
	go func() { done <- db.Update(ctx, func(tx *store.Tx) error { _, err := tx.ActorCount(); return err }) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the next Update waited for the panicked one's write lock")
	}
	defer func() {
		if recover() == nil {
			t.Error("a Tx used after its function returned did not panic")
		}
	}()
	kept.AfterCommit(func() {})
}

// TestNewDatabaseIsPrivate: a new database and its WAL are readable by
// their owner only (they hold the private keys); an existing file keeps
// its mode.
func TestNewDatabaseIsPrivate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", store.FileName)
	db := storetest.OpenAt(t, path)
	actor(t, db, "bot") // a write, so that the WAL exists
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(p), mode)
		}
	}
	shared := filepath.Join(t.TempDir(), store.FileName)
	if err := os.WriteFile(shared, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	storetest.OpenAt(t, shared)
	if fi, _ := os.Stat(shared); fi.Mode().Perm() != 0o640 {
		t.Errorf("an existing database's mode changed to %o", fi.Mode().Perm())
	}
}

// TestBackup: a consistent copy, private, that opens as a database with
// the same rows; a file that exists is never overwritten.
func TestBackup(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	a := actor(t, db, "bot")
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		return tx.InsertNote(&store.Note{PublicID: "n1", ActorID: a.ID, Content: "x", Published: tx.Now})
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	size, err := db.Backup(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != size || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the copy: %v, size %d (said %d), mode %o; want mode 600", err, fi.Size(), size, fi.Mode().Perm())
	}
	copied := storetest.OpenAt(t, path)
	if n := storetest.Count(t, copied.SQL, "notes"); n != 1 {
		t.Errorf("the copy has %d notes, want 1", n)
	}
	if _, err := db.Backup(context.Background(), path); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("a backup onto an existing file: %v", err)
	}
}
