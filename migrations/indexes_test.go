package migrations_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/migrations"
)

// TestPageQueriesUseIndexes checks that the queries the web pages run on
// every view find their rows through an index (0011_page_indexes.sql)
// instead of reading whole tables: bench/pages measured each such scan
// at 10,000 posts. The queries have the shapes of those in internal/store
// (notes.go ReplyCounts, Replies, NoteCount and Notes; feed.go
// ThreadTarget; targets.go TargetHistory).
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
		{`SELECT COUNT(*) FROM notes WHERE actor_id = ? AND deleted_at IS NULL`,
			"USING COVERING INDEX notes_actor_standing (actor_id=? AND deleted_at=?)"},
		{`SELECT n.id FROM notes n WHERE n.deleted_at IS NULL AND n.actor_id = ? AND n.id < ? ORDER BY n.id DESC LIMIT 20`,
			"USING COVERING INDEX notes_actor_standing (actor_id=? AND deleted_at=? AND id<?)"},
		{`SELECT target FROM feed_targets WHERE thread IN (SELECT value FROM json_each(?)) LIMIT 1`,
			"USING INDEX feed_targets_thread (thread=?)"},
		{`SELECT user FROM feed_recoveries WHERE target = ? ORDER BY seen_at DESC, id DESC LIMIT 50`,
			"USING INDEX feed_recoveries_target (target=?)"},
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
