package feed

import (
	"context"
	"fmt"
	"sync"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// The catalog: every target the feed has seen, which gives the boards,
// targets and architectures their accounts (internal/store/catalog.go).
// Each poll records the targets its observation names; the feed keeps the
// known set in memory, so a steady poll writes nothing.

// catalog is what the feed knows the store's catalog holds.
type catalog struct {
	mu    sync.Mutex
	known map[string]string // arch by target; nil until the first poll read the store
}

// catalogOf returns the targets of builds that name a board and a config
// (the others have no account), never nil.
func catalogOf(builds []Build) []store.CatalogTarget {
	out := make([]store.CatalogTarget, 0, len(builds))
	for _, b := range builds {
		if b.Board != "" && b.Config != "" {
			out = append(out, store.CatalogTarget{Target: b.Target, Board: b.Board, Config: b.Config, Arch: b.Arch})
		}
	}
	return out
}

// settleArches keeps one entry per target of seen, so that a target whose
// build hosts label it with two architectures at once (a rename reaching
// some hosts first) does not change the catalog at every poll: its known
// arch while any host still has it, else the first in order. Entries
// without an arch give way to those with one.
func settleArches(known map[string]string, seen []store.CatalogTarget) []store.CatalogTarget {
	chosen := make(map[string]int, len(seen)) // index in out, by target
	out := make([]store.CatalogTarget, 0, len(seen))
	for _, t := range seen {
		i, ok := chosen[t.Target]
		if !ok {
			chosen[t.Target] = len(out)
			out = append(out, t)
			continue
		}
		cur := out[i].Arch
		if cur == "" || t.Arch != "" && cur != known[t.Target] && (t.Arch == known[t.Target] || t.Arch < cur) {
			out[i] = t
		}
	}
	return out
}

// changes returns the targets of seen that the catalog lacks, or whose
// arch changed (an empty arch changes nothing), as SeeTargets records
// them, and known updated with them.
func changes(known map[string]string, seen []store.CatalogTarget) ([]store.CatalogTarget, map[string]string) {
	var out []store.CatalogTarget
	next := known
	for _, t := range seen {
		if t.Board == "" || t.Config == "" {
			continue
		}
		arch, ok := next[t.Target]
		if ok && (t.Arch == "" || t.Arch == arch) {
			continue
		}
		if len(out) == 0 { // copy on first write: known stays as it was
			next = make(map[string]string, len(known)+len(seen))
			for k, v := range known {
				next[k] = v
			}
		}
		if !ok || t.Arch != "" {
			next[t.Target] = t.Arch
		}
		out = append(out, t)
	}
	return out, next
}

// recordCatalog records in the store the targets obs names (those present,
// failing and building) that are new or changed arch. The first poll also
// reads the catalog, and records every target that ever failed.
func (f *Feed) recordCatalog(ctx context.Context, obs Observation) error {
	c := f.catalog
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := append(append(append([]store.CatalogTarget(nil), obs.Targets...), catalogOf(obs.Failures)...), catalogOf(obs.Successes)...)
	seen = settleArches(c.known, seen)
	if c.known != nil {
		if todo, _ := changes(c.known, seen); len(todo) == 0 {
			return nil // the steady state: no transaction at all
		}
	}
	var next map[string]string
	recorded := 0
	err := f.store.Update(ctx, func(tx *store.Tx) error {
		known, seen := c.known, seen
		if known == nil {
			stored, err := tx.CatalogTargets()
			if err != nil {
				return err
			}
			known = make(map[string]string, len(stored))
			for t, ct := range stored {
				known[t] = ct.Arch
			}
			failed, err := tx.FeedTargetLabels()
			if err != nil {
				return err
			}
			seen = append(failed, seen...)
		}
		var todo []store.CatalogTarget
		todo, next = changes(known, seen)
		var err error
		recorded, err = tx.SeeTargets(todo)
		return err
	})
	if err != nil {
		return fmt.Errorf("feed catalog: %w", err)
	}
	c.known = next
	if recorded > 0 {
		f.log.Info("feed: catalog updated", "targets", recorded, "known", len(next))
	}
	return nil
}
