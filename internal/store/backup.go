package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"

	"github.com/nuttx-feed/nuttx-feed/migrations"
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

// Snapshot writes a consistent copy of the database at path to dst (a new
// file, readable by its owner only), only reading path: it neither
// migrates it nor waits for a server that writes to it. A dry run works on
// such a copy, so that it leaves the database's content as it was. It opens
// path for writing all the same: read only, SQLite could not remove the
// -wal and -shm files it makes, and files left by another user, root say,
// would lock the server out. So, when no server runs, closing it may fold a
// write-ahead log left by a crash into the file, as any open of it would.
func Snapshot(ctx context.Context, path, dst string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	db, err := sql.Open("sqlite", migrations.DSN(path))
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer db.Close()
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	f.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		os.Remove(dst)
		return fmt.Errorf("snapshot of %s: %w", path, err)
	}
	return nil
}
