// Package storetest opens a real, migrated SQLite file for tests: the store
// under test, and a second, plain handle on the same file with which tests
// check what was written (or inject faults) independently of the store.
package storetest

import (
	"context"
	"database/sql"
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
