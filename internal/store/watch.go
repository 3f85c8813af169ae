package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/nuttx-feed/nuttx-feed/migrations"
)

// WatchQueue signals on the returned channel when deliveries were queued
// by any process since the last signal, so that a post made by another
// process (`nuttx-feed post`) goes out at once rather than at the
// queue's next poll. It checks when the write-ahead log, which every
// commit writes, is written (inotify; where there is none, every
// interval), and once more an interval later: on a connection of its own, PRAGMA data_version, which
// changes only when another connection has committed, then the highest
// delivery id. An idle server does nothing for it: polling every 10 ms
// cost 2% of a core in wake-ups alone. The channel (buffered: signals never
// block) closes when ctx ends.
func (s *Store) WatchQueue(ctx context.Context, every time.Duration) <-chan struct{} {
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		db, err := sql.Open("sqlite", migrations.DSN(s.path))
		if err != nil {
			return
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		version, err := db.PrepareContext(ctx, `PRAGMA data_version`)
		if err != nil {
			return
		}
		defer version.Close()
		maxID, err := db.PrepareContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM deliveries`)
		if err != nil {
			return
		}
		defer maxID.Close()
		writes, err := walWrites(ctx, s.path)
		if err != nil {
			writes = ticks(ctx, every)
		}
		var lastVersion, lastID int64 = -1, -1
		var again <-chan time.Time // a second look after a burst of writes
		for first := true; ; first = false {
			if !first {
				select {
				case <-ctx.Done():
					return
				case _, ok := <-writes:
					if !ok {
						return
					}
					// The commit's last write comes just before SQLite
					// publishes it in the WAL index: look again shortly.
					if again == nil {
						again = time.After(every)
					}
				case <-again:
					again = nil
				}
			}
			var v int64
			if version.QueryRowContext(ctx).Scan(&v) != nil || v == lastVersion {
				continue // an error is retried at the next tick
			}
			lastVersion = v
			var id int64
			if maxID.QueryRowContext(ctx).Scan(&id) != nil {
				continue
			}
			if lastID >= 0 && id > lastID {
				select {
				case out <- struct{}{}:
				default:
				}
			}
			lastID = id
		}
	}()
	return out
}

// ticks signals every interval until ctx ends.
func ticks(ctx context.Context, every time.Duration) <-chan struct{} {
	out := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				select {
				case out <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
