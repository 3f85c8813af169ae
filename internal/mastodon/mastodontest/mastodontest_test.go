package mastodontest

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMissingPostgreSQL(t *testing.T) {
	_, err := binDir("/nonexistent/postgresql/*/bin/initdb")
	if err == nil || !strings.Contains(err.Error(), "run make deps") {
		t.Errorf("error %v, want one that says to run make deps", err)
	}
}

// TestStartAndCleanup checks a cluster answers with the schema loaded, and
// that the test's end stops it and removes its folder.
func TestStartAndCleanup(t *testing.T) {
	var p *Postgres
	t.Run("use", func(t *testing.T) {
		p = Start(t)
		url := p.CreateDatabase(t, "mastodon_production")
		p.LoadSchema(t, "mastodon_production")
		p.AddLocal(t, "mastodon_production", Local{ID: 1, Username: "nuttx_build", Key: NewKeyPair(t)})
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var names string
		if err := conn.QueryRow(context.Background(),
			`SELECT string_agg(id || ':' || username, ',' ORDER BY id) FROM accounts`).Scan(&names); err != nil {
			t.Fatal(err)
		}
		if names != "-99:mastodon.example,1:nuttx_build" {
			t.Errorf("accounts %s, want the instance actor and nuttx_build", names)
		}

		p.MoveKeysToKeypairs(t, "mastodon_production")
		var moved, left int
		if err := conn.QueryRow(context.Background(), `SELECT
				(SELECT count(*) FROM keypairs WHERE account_id = 1 AND local_fragment = '#main-key'
					AND private_key LIKE '{"p":%' AND public_key LIKE '-----BEGIN PUBLIC KEY-----%'),
				(SELECT count(*) FROM accounts WHERE private_key IS NOT NULL OR (domain IS NULL AND public_key <> ''))`).
			Scan(&moved, &left); err != nil {
			t.Fatal(err)
		}
		if moved != 1 || left != 0 {
			t.Errorf("after MoveKeysToKeypairs: %d keys in keypairs, %d left in accounts; want 1 and 0", moved, left)
		}
	})
	if _, err := os.Stat(p.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster folder %s left behind: %v", p.dir, err)
	}
	conn, err := pgx.Connect(context.Background(), p.URL("postgres"))
	if err == nil {
		conn.Close(context.Background())
		t.Error("the cluster still answers after the test")
	}
}
