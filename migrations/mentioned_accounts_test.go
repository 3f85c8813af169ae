package migrations_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/migrations"
)

// TestMentionedAccountsBackfill: 0018 numbers the remote actors mentioned
// before it (after the accounts known already, by first mention, once
// each, our own actors left out), and the trigger numbers those mentioned
// after it.
func TestMentionedAccountsBackfill(t *testing.T) {
	t.Parallel()
	db := openRaw(t, filepath.Join(t.TempDir(), "old.db"))
	applyUpTo(t, db, 17)
	exec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO actors (id, username, display_name, summary, public_key_pem, private_key_pem, created_at, updated_at) VALUES (1, 'bot', 'Bot', '', 'k', 'k', 0, 0)`)
	exec(`INSERT INTO followers (id, actor_id, follower, inbox, follow_id, created_at, updated_at) VALUES (1, 1, 'https://r.example/users/f', 'i', 'f1', 50, 50)`)
	exec(`INSERT INTO notes (id, public_id, actor_id, content, source, published_at) VALUES (1, 'a', 1, 'c', 's', 300), (2, 'b', 1, 'c', 's', 100)`)
	exec(`INSERT INTO note_mentions (note_id, position, href, name, inbox) VALUES
		(1, 0, 'https://r.example/users/b', '@b@r.example', 'https://r.example/inbox'),
		(1, 1, 'https://r.example/users/f', '@f@r.example', 'https://r.example/inbox'),
		(1, 2, 'https://local.example/users/bot', '@bot@local.example', ''),
		(2, 0, 'https://r.example/users/b', '@b@r.example', 'https://r.example/inbox'),
		(2, 1, 'https://r.example/users/a', '@a@r.example', 'https://r.example/inbox')`)
	if err := migrations.Apply(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	exec(`INSERT INTO notes (id, public_id, actor_id, content, source, published_at) VALUES (3, 'c', 1, 'c', 's', 900)`)
	exec(`INSERT INTO note_mentions (note_id, position, href, name, inbox) VALUES
		(3, 0, 'https://r.example/users/z', '@z@r.example', 'https://r.example/inbox'),
		(3, 1, 'https://r.example/users/a', '@a@r.example', 'https://r.example/inbox'),
		(3, 2, 'https://local.example/users/bot', '@bot@local.example', '')`)
	var accounts string
	if err := db.QueryRow(`SELECT group_concat(iri || '@' || created_at, ' ') FROM (SELECT * FROM remote_account_ids ORDER BY id)`).Scan(&accounts); err != nil {
		t.Fatal(err)
	}
	want := "https://r.example/users/f@50 https://r.example/users/a@100 https://r.example/users/b@100 https://r.example/users/z@900"
	if accounts != want {
		t.Errorf("accounts %q, want %q", accounts, want)
	}
}
