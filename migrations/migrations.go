// Package migrations holds the database schema as numbered, forward-only SQL
// files and applies the ones a database has not seen yet.
//
// A file is named NNNN_description.sql. Each runs in its own transaction,
// which also records its version in schema_migrations, so a crash leaves the
// database at the previous version, never half way. Files are never edited
// once released: a schema change is a new file.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed *.sql
var files embed.FS

// ErrDatabaseNewer is returned by Apply when the database carries a schema
// version this binary does not know: it was written by a newer nuttx-feed.
var ErrDatabaseNewer = errors.New("database schema is newer than this binary")

// Migration is one embedded schema file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// All returns the embedded migrations in version order.
func All() ([]Migration, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	var all []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		if !ok || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migration %q: want NNNN_description.sql", name)
		}
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %q: bad version number", name)
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		all = append(all, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Version < all[j].Version })
	for i := 1; i < len(all); i++ {
		if all[i].Version == all[i-1].Version {
			return nil, fmt.Errorf("migrations %q and %q share a version", all[i-1].Name, all[i].Name)
		}
	}
	return all, nil
}

// DSN returns the modernc.org/sqlite data source name for the database file
// at path. The pragmas live in the DSN so that every pooled connection gets
// them: busy_timeout first (it must be in force before WAL is switched on),
// then WAL, foreign keys and NORMAL sync (durable across a process crash,
// which is what the delivery queue needs). _txlock=immediate makes every
// write transaction take the write lock at BEGIN, so two writers wait for
// each other instead of failing with SQLITE_BUSY half way through.
func DSN(path string) string {
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + escaped +
		"?_pragma=busy_timeout(10000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(NORMAL)" +
		"&_txlock=immediate"
}

// Apply brings db up to the latest embedded version. It is safe to call from
// several processes at once (each migration re-checks its version inside its
// own write transaction). It returns ErrDatabaseNewer, wrapped with both
// versions, when the database is ahead of the binary.
func Apply(ctx context.Context, db *sql.DB) error {
	all, err := All()
	if err != nil {
		return err
	}
	if err := retryBusy(ctx, func() error { return createVersionTable(ctx, db) }); err != nil {
		return err
	}
	current, err := Version(ctx, db)
	if err != nil {
		return err
	}
	if latest := all[len(all)-1].Version; current > latest {
		return fmt.Errorf("%w: database is at version %d, this binary knows up to %d; run a newer nuttx-feed",
			ErrDatabaseNewer, current, latest)
	}
	for _, m := range all {
		if m.Version <= current {
			continue
		}
		if err := retryBusy(ctx, func() error { return applyOne(ctx, db, m) }); err != nil {
			return err
		}
	}
	return nil
}

// Version returns the highest schema version recorded in db (0 when none).
func Version(ctx context.Context, db *sql.DB) (int, error) {
	var v sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v.Int64), nil
}

// retryBusy retries fn while SQLite answers SQLITE_BUSY, for up to 15 s.
// busy_timeout covers ordinary lock waits, but on a brand-new file the first
// connections race to switch it to WAL, and SQLite reports that as BUSY at
// once rather than waiting.
func retryBusy(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(15 * time.Second)
	for delay := 5 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		err := fn()
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (5), by result code.
func isBusy(err error) bool {
	var coded interface{ Code() int }
	return errors.As(err, &coded) && coded.Code()&0xff == 5
}

// createVersionTable runs inside a write transaction: with _txlock=immediate
// the BEGIN waits for the write lock, where a bare CREATE would upgrade a read
// lock and could fail at once with SQLITE_BUSY when another process races it.
func createVersionTable(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at TEXT    NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	return tx.Commit()
}

func applyOne(ctx context.Context, db *sql.DB, m Migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	defer tx.Rollback()

	var done int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&done); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if done > 0 { // another process got here first
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.Name, err)
	}
	return nil
}
