package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// directoryDB fills a database with a catalog of seven targets over five
// boards and two architectures (one target of unknown arch, labels with
// % and _), three of them failing, a failing target the catalog has not
// seen, and actors: rv-virt.citest with two followers, arch.risc-v with
// one, rv-virt with none, and a bot named sim with a follower (a bot's
// followers are not the board sim's). It returns when each target started
// failing.
func directoryDB(t *testing.T) (*storetest.DB, map[string]time.Time) {
	t.Helper()
	db := storetest.Open(t)
	start := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	since := map[string]time.Time{}
	at := 0
	update := func(fn func(tx *store.Tx) error) {
		t.Helper()
		at++
		if err := db.Update(context.Background(), func(tx *store.Tx) error {
			tx.Now = start.Add(time.Duration(at) * time.Minute)
			return fn(tx)
		}); err != nil {
			t.Fatal(err)
		}
	}
	update(func(tx *store.Tx) error {
		_, err := tx.SeeTargets([]store.CatalogTarget{
			{Target: "rv-virt:citest", Board: "rv-virt", Config: "citest", Arch: "risc-v"},
			{Target: "rv-virt:python", Board: "rv-virt", Config: "python", Arch: "risc-v"},
			{Target: "esp32c3-devkit:nsh", Board: "esp32c3-devkit", Config: "nsh", Arch: "risc-v"},
			{Target: "sim:nsh", Board: "sim", Config: "nsh", Arch: "sim"},
			{Target: "sim:python", Board: "sim", Config: "python", Arch: "sim"},
			{Target: "x%y:nsh", Board: "x%y", Config: "nsh"},
			{Target: "xzy:a_b", Board: "xzy", Config: "a_b"},
		})
		return err
	})
	fail := func(target, arch string) {
		board, config, _ := strings.Cut(target, ":")
		update(func(tx *store.Tx) error {
			since[target] = tx.Now
			return tx.MarkFailing(store.FeedTarget{Target: target, Board: board, Config: config, Arch: arch, Thread: "t", LastNote: "n"}, "host")
		})
	}
	fail("rv-virt:citest", "risc-v")
	fail("sim:nsh", "sim")
	fail("x%y:nsh", "")
	fail("old:nsh", "arm") // never seen by the catalog
	fail("rv-virt:python", "risc-v")
	update(func(tx *store.Tx) error { // rv-virt:python recovered: it has a row, not failing
		delete(since, "rv-virt:python")
		return tx.EndIncident(store.Recovery{Target: "rv-virt:python", User: "host"})
	})
	followed := map[string]struct {
		kind      string
		followers int
	}{"rv-virt.citest": {store.KindTarget, 2}, "arch.risc-v": {store.KindArch, 1}, "rv-virt": {store.KindBoard, 0}, "sim": {store.KindBot, 1}}
	update(func(tx *store.Tx) error {
		for name, a := range followed {
			if _, err := tx.CreateActor(&store.Actor{Username: name, Kind: a.kind}); err != nil {
				return err
			}
			if err := storetest.AddFollowers(tx, name, a.followers); err != nil {
				return err
			}
		}
		return nil
	})
	return db, since
}

// entryText writes a directory entry in one line: kind, handle, label,
// arch, followers, failing of targets, and whether it has a start.
func entryText(e store.DirectoryEntry) string {
	return fmt.Sprintf("%s %s %s arch=%s followers=%d failing=%d/%d since=%v", e.Kind, e.Handle, e.Label, e.Arch, e.Followers, e.Failing, e.Targets, !e.Since.IsZero())
}

// TestDirectory: the directory lists every architecture, board and
// target of the catalog (and a failing target the catalog lacks, without
// a handle) with the followers of the feed actor of its handle (none
// without a row, never a bot's), and its state: a target failing since
// when, a board or architecture N of M failing since its longest-failing
// target. The search keeps a handle or label holding the query in any
// case, % and _ being plain characters; a target the feed recorded has
// its thread, a failing one its build hosts; kind, failing and "targets of"
// filters combine with it; an unknown kind is an error.
func TestDirectory(t *testing.T) {
	t.Parallel()
	db, since := directoryDB(t)
	all := []string{
		"arch arch.risc-v risc-v arch= followers=1 failing=1/3 since=true",
		"arch arch.sim sim arch= followers=0 failing=1/2 since=true",
		"board esp32c3-devkit esp32c3-devkit arch= followers=0 failing=0/1 since=false",
		"board rv-virt rv-virt arch= followers=0 failing=1/2 since=true",
		"board sim sim arch= followers=0 failing=1/2 since=true",
		"board x_y x%y arch= followers=0 failing=1/1 since=true",
		"board xzy xzy arch= followers=0 failing=0/1 since=false",
		"target  old:nsh arch=arm followers=0 failing=1/1 since=true",
		"target esp32c3-devkit.nsh esp32c3-devkit:nsh arch=risc-v followers=0 failing=0/1 since=false",
		"target rv-virt.citest rv-virt:citest arch=risc-v followers=2 failing=1/1 since=true",
		"target rv-virt.python rv-virt:python arch=risc-v followers=0 failing=0/1 since=false",
		"target sim.nsh sim:nsh arch=sim followers=0 failing=1/1 since=true",
		"target sim.python sim:python arch=sim followers=0 failing=0/1 since=false",
		"target x_y.nsh x%y:nsh arch= followers=0 failing=1/1 since=true",
		"target xzy.a_b xzy:a_b arch= followers=0 failing=0/1 since=false",
	}
	pick := func(want ...string) []string {
		var out []string
		for _, line := range all {
			for _, w := range want {
				if strings.HasPrefix(line, w+" ") {
					out = append(out, line)
				}
			}
		}
		return out
	}
	for _, c := range []struct {
		name string
		f    store.DirectoryFilter
		want []string
	}{
		{"all", store.DirectoryFilter{}, all},
		{"by handle, any case", store.DirectoryFilter{Query: "RV-VIRT."}, pick("target rv-virt.citest", "target rv-virt.python")},
		{"by label", store.DirectoryFilter{Query: "virt:cit"}, pick("target rv-virt.citest")},
		{"by arch label and handle", store.DirectoryFilter{Query: "risc"}, pick("arch arch.risc-v")},
		{"% is a character", store.DirectoryFilter{Query: "x%"}, pick("board x_y", "target x_y.nsh")},
		{"_ is a character", store.DirectoryFilter{Query: "a_b"}, pick("target xzy.a_b")},
		{"_ matches no other character", store.DirectoryFilter{Query: "x_"}, pick("board x_y", "target x_y.nsh")},
		{"backslash", store.DirectoryFilter{Query: `\`}, nil},
		{"nothing", store.DirectoryFilter{Query: "nosuch"}, nil},
		{"kind", store.DirectoryFilter{Kind: store.KindBoard}, pick("board")},
		{"kind and query", store.DirectoryFilter{Kind: store.KindArch, Query: "sim"}, pick("arch arch.sim")},
		{"failing", store.DirectoryFilter{Failing: true}, pick("arch", "board rv-virt", "board sim", "board x_y", "target  old:nsh",
			"target rv-virt.citest", "target sim.nsh", "target x_y.nsh")},
		{"failing targets", store.DirectoryFilter{Failing: true, Kind: store.KindTarget, Query: "sim"}, pick("target sim.nsh")},
		{"of a board", store.DirectoryFilter{Of: "rv-virt"}, pick("target rv-virt.citest", "target rv-virt.python")},
		{"of an arch, failing", store.DirectoryFilter{Of: "Arch.RISC-V", Failing: true}, pick("target rv-virt.citest")},
		{"of an arch, searched", store.DirectoryFilter{Of: "arch.risc-v", Query: "esp"}, pick("target esp32c3-devkit.nsh")},
		{"of nothing", store.DirectoryFilter{Of: "arch.arm"}, nil},
	} {
		var got []store.DirectoryEntry
		if err := db.View(context.Background(), func(tx *store.Tx) (err error) {
			got, err = tx.Directory(c.f)
			return err
		}); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var lines []string
		for _, e := range got {
			lines = append(lines, entryText(e))
		}
		slices.Sort(lines)
		if !slices.Equal(lines, c.want) {
			t.Errorf("%s (%+v):\n%s\nwant\n%s", c.name, c.f, strings.Join(lines, "\n"), strings.Join(c.want, "\n"))
		}
		recorded := map[string]bool{"rv-virt:citest": true, "sim:nsh": true, "x%y:nsh": true, "old:nsh": true, "rv-virt:python": true}
		for _, e := range got {
			wantHosts := []string{}
			if e.Kind == store.KindTarget && e.Failing > 0 {
				wantHosts = []string{"host"}
			}
			if (e.Thread != "") != (e.Kind == store.KindTarget && recorded[e.Label]) || !slices.Equal(e.Hosts, wantHosts) {
				t.Errorf("%s: %s has thread %q and hosts %q", c.name, e.Label, e.Thread, e.Hosts)
			}
			if e.Kind == store.KindTarget && e.Failing > 0 && !e.Since.Equal(since[e.Label]) {
				t.Errorf("%s: %s fails since %v, want %v", c.name, e.Label, e.Since, since[e.Label])
			}
			if e.Handle == "rv-virt" && !e.Since.Equal(since["rv-virt:citest"]) || e.Handle == "arch.risc-v" && !e.Since.Equal(since["rv-virt:citest"]) {
				t.Errorf("%s: %s fails since %v, want its target's %v", c.name, e.Handle, e.Since, since["rv-virt:citest"])
			}
		}
	}
	err := db.View(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Directory(store.DirectoryFilter{Kind: "bot"})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), `directory: no kind "bot"`) {
		t.Errorf("kind bot: %v", err)
	}
}

// BenchmarkDirectory reads the whole directory of a catalog of 1,600
// targets (400 boards of 4 configs over 20 architectures, 200 failing)
// with 300 feed actors followed by 1 to 5 followers each, and a search
// in it: what one page of /targets costs the database.
func BenchmarkDirectory(b *testing.B) {
	db := storetest.Open(b)
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		targets := storetest.Catalog(400, 4, 20)
		if _, err := tx.SeeTargets(targets); err != nil {
			return err
		}
		for i, t := range targets[:200] {
			if err := tx.MarkFailing(store.FeedTarget{Target: t.Target, Board: t.Board, Config: t.Config, Arch: t.Arch, Thread: "t", LastNote: "n"}, fmt.Sprint("host", i%3)); err != nil {
				return err
			}
		}
		for i, t := range targets[:300] {
			name := t.Board + "." + t.Config
			if _, err := tx.CreateActor(&store.Actor{Username: name, Kind: store.KindTarget}); err != nil {
				return err
			}
			if err := storetest.AddFollowers(tx, name, 1+i%5); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for name, f := range map[string]store.DirectoryFilter{"all": {}, "search": {Query: "board-12"}, "failing": {Failing: true, Kind: store.KindTarget}, "of an arch": {Of: "arch.arch7"}} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				var n int
				if err := db.View(context.Background(), func(tx *store.Tx) error {
					entries, err := tx.Directory(f)
					n = len(entries)
					return err
				}); err != nil || n == 0 {
					b.Fatalf("%d entries: %v", n, err)
				}
			}
		})
	}
}
