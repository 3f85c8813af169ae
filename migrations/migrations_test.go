package migrations_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/nuttx-feed/nuttx-feed/migrations"
)

func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", migrations.DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestApplyFreshAndAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openRaw(t, filepath.Join(t.TempDir(), "a.db"))
	if err := migrations.Apply(ctx, db); err != nil {
		t.Fatalf("first Apply: %v", err)
	}
	v, err := migrations.Version(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if v != latest(t) || v == 0 {
		t.Fatalf("version = %d, want latest %d", v, latest(t))
	}
	if err := migrations.Apply(ctx, db); err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	var rows int
	db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&rows)
	all, _ := migrations.All()
	if rows != len(all) {
		t.Fatalf("schema_migrations has %d rows, want %d", rows, len(all))
	}
	for _, table := range []string{"actors", "followers", "notes", "activities", "deliveries", "delivery_attempts", "remote_actors"} {
		if _, err := db.Exec(`SELECT COUNT(*) FROM ` + table); err != nil {
			t.Errorf("table %s: %v", table, err)
		}
	}
}

func TestApplyConcurrentProcesses(t *testing.T) {
	t.Parallel()
	// Two handles on one file stand in for "serve" and "post" starting at once.
	path := filepath.Join(t.TempDir(), "c.db")
	a, b := openRaw(t, path), openRaw(t, path)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, db := range []*sql.DB{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = migrations.Apply(context.Background(), db) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Apply: %v", err)
		}
	}
}

func TestRefuseNewerDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openRaw(t, filepath.Join(t.TempDir(), "n.db"))
	if err := migrations.Apply(ctx, db); err != nil {
		t.Fatal(err)
	}
	future := latest(t) + 1
	if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (?, 'from_the_future.sql', 'now')`, future); err != nil {
		t.Fatal(err)
	}
	err := migrations.Apply(ctx, db)
	if !errors.Is(err, migrations.ErrDatabaseNewer) {
		t.Fatalf("Apply on a newer database = %v, want ErrDatabaseNewer", err)
	}
}

func TestPragmasOnEveryConnection(t *testing.T) {
	t.Parallel()
	db := openRaw(t, filepath.Join(t.TempDir(), "p.db"))
	ctx := context.Background()
	// Hold several connections at once so the pool must open distinct ones.
	var conns []*sql.Conn
	for i := 0; i < 4; i++ {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		var fk, timeout int
		var mode string
		c.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk)
		c.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&timeout)
		c.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode)
		if fk != 1 || timeout != 10000 || mode != "wal" {
			t.Errorf("conn %d: foreign_keys=%d busy_timeout=%d journal_mode=%s", i, fk, timeout, mode)
		}
		c.Close()
	}
}

func TestDSNEscapesPath(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "odd?name#dir")
	path := filepath.Join(dir, "x.db")
	if err := mkdirAll(dir); err != nil {
		t.Fatal(err)
	}
	db := openRaw(t, path)
	if err := migrations.Apply(context.Background(), db); err != nil {
		t.Fatalf("Apply at %q: %v", path, err)
	}
	if !fileExists(path) {
		t.Fatalf("database not created at %q", path)
	}
}

// latest is the highest version embedded in this binary.
func latest(t *testing.T) int {
	t.Helper()
	all, err := migrations.All()
	if err != nil || len(all) == 0 {
		t.Fatalf("migrations: %v", err)
	}
	return all[len(all)-1].Version
}

// applyUpTo runs the migrations before version stop by hand, recording
// each as Apply does: a database as an older binary left it.
func applyUpTo(t *testing.T, db *sql.DB, stop int) {
	t.Helper()
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if m.Version >= stop {
			break
		}
		if _, err := db.Exec(m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (?, ?, '2026-01-01T00:00:00Z')`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFailureMessagesBackfill: 0009 links the failures recorded before it
// to their notes by row id, from the note IRI they hold, and indexes their
// (empty) messages; a failure whose note is not set stays unlinked.
func TestFailureMessagesBackfill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openRaw(t, filepath.Join(t.TempDir(), "old.db"))
	applyUpTo(t, db, 9)
	for _, q := range []string{
		`INSERT INTO actors (id, username, display_name, summary, public_key_pem, private_key_pem, created_at, updated_at) VALUES (1, 'bot', 'Bot', '', 'k', 'k', 0, 0)`,
		`INSERT INTO notes (id, public_id, actor_id, content, source, published_at) VALUES (7, 'abc123', 1, 'x', 'x', 0), (8, 'def456', 1, 'y', 'y', 0)`,
		`INSERT INTO feed_failures (target, user, nuttx_hash, apps_hash, build, score, url, note, seen_at) VALUES
			('a:nsh', 'h', '1', '', '', 0, '', 'https://feed.example/users/bot/statuses/def456', 0),
			('b:nsh', 'h', '2', '', '', 0, '', '', 0)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := migrations.Apply(ctx, db); err != nil {
		t.Fatal(err)
	}
	got := map[string]sql.NullInt64{}
	rows, err := db.Query(`SELECT target, note_id FROM feed_failures`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var target string
		var id sql.NullInt64
		rows.Scan(&target, &id)
		got[target] = id
	}
	rows.Close()
	if got["a:nsh"].Int64 != 8 || got["b:nsh"].Valid {
		t.Errorf("note ids after 0009: %v, want a:nsh linked to row 8 and b:nsh unlinked", got)
	}
	if _, err := db.Exec(`INSERT INTO failures_fts (failures_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Errorf("failures_fts integrity: %v", err)
	}
}
