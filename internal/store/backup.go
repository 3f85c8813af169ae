package store

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// Backup writes a consistent copy of the database to path (VACUUM INTO),
// while other connections and processes go on reading and writing. path
// must not exist; the copy is created readable by its owner only, as it
// holds the actors' private keys. It returns the copy's size.
func (s *Store) Backup(ctx context.Context, path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, os.ErrExist) {
		return 0, fmt.Errorf("backup: %s exists already; choose a new file", path)
	}
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	f.Close() // VACUUM INTO fills an empty file and keeps its mode
	if _, err := s.rdb.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		os.Remove(path)
		return 0, fmt.Errorf("backup: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	return fi.Size(), nil
}
