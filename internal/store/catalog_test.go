package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// TestCatalog: seen targets name their target, board and arch accounts;
// a target seen again changes nothing unless its arch becomes known or
// changes; unknown and invalid names find nothing.
func TestCatalog(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	ctx := context.Background()
	see := func(want int, targets ...store.CatalogTarget) {
		t.Helper()
		if err := db.Update(ctx, func(tx *store.Tx) error {
			n, err := tx.SeeTargets(targets)
			if err == nil && n != want {
				t.Errorf("SeeTargets changed %d rows, want %d", n, want)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	see(3,
		store.CatalogTarget{Target: "rv-virt:citest", Board: "rv-virt", Config: "citest", Arch: "risc-v"},
		store.CatalogTarget{Target: "rv-virt:python", Board: "rv-virt", Config: "python"},
		store.CatalogTarget{Target: "sim:nsh", Board: "sim", Config: "nsh", Arch: "sim"})
	see(0, store.CatalogTarget{Target: "rv-virt:citest", Board: "rv-virt", Config: "citest", Arch: "risc-v"},
		store.CatalogTarget{Target: "sim:nsh", Board: "sim", Config: "nsh"})
	see(1, store.CatalogTarget{Target: "rv-virt:python", Board: "rv-virt", Config: "python", Arch: "risc-v"})

	for name, want := range map[string]store.FeedAccount{
		"rv-virt.citest": {Username: "rv-virt.citest", Kind: store.KindTarget, Target: "rv-virt:citest", Board: "rv-virt", Config: "citest", Arch: "risc-v"},
		"RV-Virt.Python": {Username: "rv-virt.python", Kind: store.KindTarget, Target: "rv-virt:python", Board: "rv-virt", Config: "python", Arch: "risc-v"},
		"rv-virt":        {Username: "rv-virt", Kind: store.KindBoard, Board: "rv-virt"},
		"arch.risc-v":    {Username: "arch.risc-v", Kind: store.KindArch, Arch: "risc-v"},
		"arch.sim":       {Username: "arch.sim", Kind: store.KindArch, Arch: "sim"},
		"sim":            {Username: "sim", Kind: store.KindBoard, Board: "sim"},
	} {
		var got *store.FeedAccount
		if err := db.View(ctx, func(tx *store.Tx) (err error) {
			got, err = tx.FeedAccountNamed(name)
			return err
		}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if *got != want {
			t.Errorf("%s: got %+v, want %+v", name, *got, want)
		}
	}
	for _, name := range []string{"rv-virt.nsh", "arch.arm", "rv", "arch.", "", "rv-virt:citest", "a/b", "arch"} {
		err := db.View(ctx, func(tx *store.Tx) error {
			_, err := tx.FeedAccountNamed(name)
			return err
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%q: %v, want not found", name, err)
		}
	}
	var targets map[string]store.CatalogTarget
	if err := db.View(ctx, func(tx *store.Tx) (err error) {
		targets, err = tx.CatalogTargets()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(targets) != 3 || targets["rv-virt:python"].Arch != "risc-v" || targets["sim:nsh"].Arch != "sim" {
		t.Errorf("catalog: %+v", targets)
	}
}
