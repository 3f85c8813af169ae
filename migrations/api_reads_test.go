package migrations_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/migrations"
)

// TestAPIReadsBackfill: 0016 numbers the followers and reply authors
// stored before it, and makes their follows and replies notifications in
// the order they came (a follower who also replied is one account).
func TestAPIReadsBackfill(t *testing.T) {
	t.Parallel()
	db := openRaw(t, filepath.Join(t.TempDir(), "old.db"))
	applyUpTo(t, db, 16)
	for _, q := range []string{
		`INSERT INTO actors (id, username, display_name, summary, public_key_pem, private_key_pem, created_at, updated_at) VALUES (1, 'bot', 'Bot', '', 'k', 'k', 0, 0)`,
		`INSERT INTO followers (id, actor_id, follower, inbox, follow_id, created_at, updated_at) VALUES
			(1, 1, 'https://r.example/users/b', 'i', 'f1', 300, 300), (2, 1, 'https://r.example/users/a', 'i', 'f2', 100, 100)`,
		`INSERT INTO remote_replies (id, note_id, in_reply_to, thread, author, author_name, author_handle, author_url, content, url, published_at, updated_at) VALUES
			(5, 'https://r.example/n/1', 't', 't', 'https://r.example/users/a', 'A', '@a@r.example', 'u', 'c', 'u', 0, 200),
			(6, 'https://r.example/n/2', 't', 't', 'https://r.example/users/c', 'C', '@c@r.example', 'u', 'c', 'u', 0, 400)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := migrations.Apply(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	var accounts, notifications string
	if err := db.QueryRow(`SELECT group_concat(iri || '@' || created_at, ' ') FROM (SELECT * FROM remote_account_ids ORDER BY id)`).Scan(&accounts); err != nil {
		t.Fatal(err)
	}
	if want := "https://r.example/users/a@100 https://r.example/users/b@300 https://r.example/users/c@400"; accounts != want {
		t.Errorf("accounts %q, want %q", accounts, want)
	}
	err := db.QueryRow(`SELECT group_concat(type || ':' || COALESCE(follower_id, reply_id) || '@' || created_at, ' ')
		FROM (SELECT * FROM api_notifications ORDER BY id)`).Scan(&notifications)
	if err != nil {
		t.Fatal(err)
	}
	if want := "follow:2@100 mention:5@200 follow:1@300 mention:6@400"; notifications != want {
		t.Errorf("notifications %q, want %q", notifications, want)
	}
}
