// Package storetest opens a real, migrated SQLite file for tests: the store
// under test, and a second, plain handle on the same file with which tests
// check what was written (or inject faults) independently of the store.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/migrations"
)

// DB is a test database.
type DB struct {
	*store.Store
	SQL  *sql.DB // the same file, for checks behind the store's back
	Path string
}

// Open creates a migrated database file in tb's temporary directory and
// closes it when the test ends.
func Open(tb testing.TB) *DB {
	tb.Helper()
	return OpenAt(tb, filepath.Join(tb.TempDir(), store.FileName))
}

// OpenAt opens (creating and migrating if needed) the database file at path.
func OpenAt(tb testing.TB, path string) *DB {
	tb.Helper()
	st, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	tb.Cleanup(func() { st.Close() })
	raw, err := sql.Open("sqlite", migrations.DSN(path))
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	tb.Cleanup(func() { raw.Close() })
	return &DB{Store: st, SQL: raw, Path: path}
}

// Count returns SELECT COUNT(*) FROM table, failing the test on error.
func Count(tb testing.TB, db *sql.DB, table string) int {
	tb.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		tb.Fatalf("count %s: %v", table, err)
	}
	return n
}

// AddFollowers stores n remote followers of the local actor username,
// each of its own server's user.
func AddFollowers(tx *store.Tx, username string, n int) error {
	a, err := tx.Actor(username)
	if err != nil {
		return err
	}
	for i := range n {
		iri := fmt.Sprintf("https://remote.example/users/%s-%d", username, i)
		if err := tx.SaveFollower(store.Follower{ActorID: a.ID, IRI: iri, Inbox: iri + "/inbox", FollowID: iri + "#follow"}); err != nil {
			return err
		}
	}
	return nil
}

// Catalog is a catalog of boards*configs targets over arches
// architectures: board-B:configC, board B's architecture archA for A = B
// modulo arches.
func Catalog(boards, configs, arches int) []store.CatalogTarget {
	var out []store.CatalogTarget
	for b := range boards {
		for c := range configs {
			board, config := fmt.Sprint("board-", b), fmt.Sprint("config", c)
			out = append(out, store.CatalogTarget{Target: board + ":" + config, Board: board, Config: config, Arch: fmt.Sprint("arch", b%arches)})
		}
	}
	return out
}
