package store

import (
	"context"
	"fmt"
)

// healthIRI names the row CheckWrite writes and removes: no remote actor
// has it (theirs are http(s) URLs).
const healthIRI = "nuttx-feed:health-check"

// CheckWrite proves that the database takes a write now, for /health: in
// one write transaction it inserts a row into remote_actors, deletes it
// and commits, so no row is left and no reader ever sees it. The commit
// writes real pages to the write-ahead log (SQLite writes no page whose
// bytes do not change, so rewriting a value as it was, or rolling back,
// would prove nothing), and fails as every write would on a full disk, a
// read-only file or file system, or a write lock held for good by someone
// else. A table of its own would need a migration for one row.
func (s *Store) CheckWrite(ctx context.Context) error {
	err := s.Update(ctx, func(tx *Tx) error {
		if _, err := tx.exec(`INSERT INTO remote_actors (iri, key_id, public_key_pem, fetched_at) VALUES (?, '', '', ?)`,
			healthIRI, ms(tx.Now)); err != nil {
			return err
		}
		_, err := tx.exec(`DELETE FROM remote_actors WHERE iri = ?`, healthIRI)
		return err
	})
	if err != nil {
		return fmt.Errorf("write check: %w", err)
	}
	return nil
}
