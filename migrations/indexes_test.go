package migrations_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/migrations"
)

// TestPageQueriesUseIndexes checks that the queries the web pages run on
// every view find their rows through an index (0011_page_indexes.sql)
// instead of reading whole tables: bench/pages measured each such scan
// at 10,000 posts. The queries have the shapes of those in internal/store
// (notes.go ReplyCounts, Replies and Notes; feed.go
// ThreadTargets and NoteTargets; targets.go TargetHistory).
func TestPageQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	db := openRaw(t, filepath.Join(t.TempDir(), "a.db"))
	if err := migrations.Apply(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ query, want string }{
		{`SELECT in_reply_to, COUNT(*) FROM notes WHERE in_reply_to IN (?, ?) AND deleted_at IS NULL GROUP BY in_reply_to`,
			"USING INDEX notes_in_reply_to (in_reply_to=?)"},
		{`SELECT n.id FROM notes n WHERE n.in_reply_to = ? AND n.deleted_at IS NULL ORDER BY n.id LIMIT 100`,
			"USING INDEX notes_in_reply_to (in_reply_to=?)"},
		{`SELECT n.id FROM notes n WHERE n.deleted_at IS NULL AND n.actor_id = ? AND n.id < ? ORDER BY n.id DESC LIMIT 20`,
			"USING COVERING INDEX notes_actor_standing (actor_id=? AND deleted_at=? AND id<?)"},
		{`SELECT target FROM feed_targets t WHERE t.thread IN (SELECT value FROM json_each(?)) LIMIT 1000`,
			"USING INDEX feed_targets_thread (thread=?)"},
		{`SELECT user FROM feed_recoveries WHERE target = ? ORDER BY seen_at DESC, id DESC LIMIT 50`,
			"USING INDEX feed_recoveries_target (target=?)"},
		{`SELECT target FROM feed_failures WHERE note_id = ?1 UNION SELECT target FROM feed_recoveries WHERE note = ?2 AND note <> ''
			UNION SELECT target FROM feed_breaks WHERE note = ?2`, "USING INDEX feed_failures_note (note_id=?)"},
		{`SELECT target FROM feed_recoveries WHERE note = ?1 AND note <> ''`, "USING INDEX feed_recoveries_note (note=?)"},
		{`SELECT target FROM feed_breaks WHERE note = ?1`, "USING INDEX feed_breaks_note (note=?)"},
		// Every API request with a token (store.CheckToken), however many apps signed in.
		{`SELECT t.name FROM tokens t LEFT JOIN actors a ON a.id = t.actor_id LEFT JOIN oauth_tokens o ON o.token_name = t.name WHERE t.hash = ?`,
			"USING INDEX sqlite_autoindex_tokens_2 (hash=?)"},
	} {
		rows, err := db.Query(`EXPLAIN QUERY PLAN `+c.query, "a", "b")
		if err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if got := strings.Join(plan, "; "); !strings.Contains(got, c.want) {
			t.Errorf("%s\nplan: %s\nwant: %s", c.query, got, c.want)
		}
	}
}

// TestNoteCountKept checks actors.note_count (0011): counted from the
// notes a database already holds when the migration runs, then kept by the
// triggers as notes are inserted, marked deleted and removed.
func TestNoteCountKept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openRaw(t, filepath.Join(t.TempDir(), "a.db"))
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	// The schema before 0011, as an older binary left it.
	exec(t, db, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
	for _, m := range all {
		if m.Version < 11 {
			exec(t, db, m.SQL)
			exec(t, db, `INSERT INTO schema_migrations VALUES (?, ?, '')`, m.Version, m.Name)
		}
	}
	exec(t, db, `INSERT INTO actors (id, username, display_name, summary, private_key_pem, public_key_pem, created_at, updated_at)
		VALUES (1, 'a', 'A', '', '', '', 0, 0), (2, 'b', 'B', '', '', '', 0, 0)`)
	note := `INSERT INTO notes (id, public_id, actor_id, content, source, published_at, deleted_at) VALUES (?, ?, ?, '', '', 0, ?)`
	exec(t, db, note, 1, "n1", 1, nil)
	exec(t, db, note, 2, "n2", 1, nil)
	exec(t, db, note, 3, "n3", 1, 5) // deleted
	exec(t, db, note, 4, "n4", 2, nil)
	if err := migrations.Apply(ctx, db); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, db, "after the migration", 2, 1)
	exec(t, db, note, 5, "n5", 1, nil)
	wantCounts(t, db, "after an insert", 3, 1)
	exec(t, db, note, 6, "n6", 1, 7)
	wantCounts(t, db, "after a deleted note's insert", 3, 1)
	exec(t, db, `UPDATE notes SET deleted_at = 9 WHERE id = 1`)
	exec(t, db, `UPDATE notes SET deleted_at = 10 WHERE id = 1`) // a second time changes nothing
	wantCounts(t, db, "after a note is marked deleted", 2, 1)
	exec(t, db, `DELETE FROM notes WHERE id IN (2, 3)`) // one standing, one deleted
	wantCounts(t, db, "after two notes are removed", 1, 1)
	exec(t, db, `UPDATE notes SET actor_id = 2 WHERE id = 5`)
	wantCounts(t, db, "after a note changes actor", 0, 2)
}

func exec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// wantCounts checks the note_count of actors 1 and 2, and that each is
// what counting the notes finds.
func wantCounts(t *testing.T, db *sql.DB, when string, a, b int) {
	t.Helper()
	for id, want := range map[int]int{1: a, 2: b} {
		var kept, counted int
		if err := db.QueryRow(`SELECT note_count, (SELECT COUNT(*) FROM notes WHERE actor_id = ? AND deleted_at IS NULL)
			FROM actors WHERE id = ?`, id, id).Scan(&kept, &counted); err != nil {
			t.Fatal(err)
		}
		if kept != want || counted != want {
			t.Errorf("%s: actor %d note_count %d, counted %d; want %d", when, id, kept, counted, want)
		}
	}
}
