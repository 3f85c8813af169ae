// Package testdb opens a real, migrated SQLite file for tests.
package testdb

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/migrations"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Open creates a migrated database file in tb's temporary directory and
// closes it when the test ends. It returns the handle and the file path.
func Open(tb testing.TB) (*sql.DB, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "nuttx-feed.db")
	return OpenAt(tb, path), path
}

// OpenAt opens (creating and migrating if needed) the database file at path.
func OpenAt(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", migrations.DSN(path))
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := migrations.Apply(context.Background(), db); err != nil {
		tb.Fatalf("migrate %s: %v", path, err)
	}
	return db
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
