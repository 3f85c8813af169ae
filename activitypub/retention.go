package activitypub

import (
	"context"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// DefaultRetention is how long the queue's history is kept.
const DefaultRetention = 30 * 24 * time.Hour

// pruneBatch bounds the rows of each kind one pruning transaction removes,
// so that the write lock is never held for long.
const pruneBatch = 2000

// RunPruner removes what is older than the retention period (store.Prune)
// at start and then every PruneEvery, until ctx ends. Without it the
// queue's history grows for ever: about 177 KB per note with 1,000
// followers. A failing database is logged and tried again next time.
func (s *Service) RunPruner(ctx context.Context) error {
	t := time.NewTicker(s.pruneEvery)
	defer t.Stop()
	for {
		if p, err := s.Prune(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("pruning failed; trying again later", "err", err, "retry_in", s.pruneEvery)
		} else if p.Total() > 0 {
			s.log.Info("pruned", "deliveries", p.Deliveries, "attempts", p.Attempts, "activities", p.Activities,
				"older_than", s.retention)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Prune removes, in short transactions, everything older than the
// retention period that nothing needs any more, and returns the count.
func (s *Service) Prune(ctx context.Context) (store.Pruned, error) {
	var total store.Pruned
	for {
		var p store.Pruned
		err := s.update(ctx, func(tx *store.Tx) (err error) {
			p, err = tx.Prune(tx.Now.Add(-s.retention), pruneBatch)
			return err
		})
		total.Add(p)
		if err != nil || p.Total() == 0 {
			return total, err
		}
	}
}
