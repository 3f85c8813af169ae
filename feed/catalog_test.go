package feed

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// TestCatalogChanges: what a poll records of the targets it sees, given
// those known: new targets, and known ones whose arch changed; an empty
// arch or a target without board or config changes nothing.
// TestSettleArches: a target labelled with two arches in one poll keeps
// its known one while a host still has it, else the first in order; an
// empty arch gives way; so polls that see both change nothing.
func TestSettleArches(t *testing.T) {
	ct := func(target, arch string) store.CatalogTarget {
		board, config, _ := strings.Cut(target, ":")
		return store.CatalogTarget{Target: target, Board: board, Config: config, Arch: arch}
	}
	known := map[string]string{"flip:nsh": "armv8"}
	for _, c := range []struct {
		name string
		seen []store.CatalogTarget
		want string // the arches kept, by target
	}{
		{"the known arch stays", []store.CatalogTarget{ct("flip:nsh", "armv7"), ct("flip:nsh", "armv8")}, "flip:nsh=armv8"},
		{"the known arch stays, in any order", []store.CatalogTarget{ct("flip:nsh", "armv8"), ct("flip:nsh", "armv7")}, "flip:nsh=armv8"},
		{"a new target: the first in order", []store.CatalogTarget{ct("new:nsh", "z"), ct("new:nsh", "a"), ct("new:nsh", "m")}, "new:nsh=a"},
		{"an empty arch gives way", []store.CatalogTarget{ct("new:nsh", ""), ct("new:nsh", "x")}, "new:nsh=x"},
		{"one arch gone: the other", []store.CatalogTarget{ct("flip:nsh", "armv7")}, "flip:nsh=armv7"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, x := range settleArches(known, c.seen) {
				got = append(got, x.Target+"="+x.Arch)
			}
			if strings.Join(got, " ") != c.want {
				t.Errorf("settled %v, want %s", got, c.want)
			}
		})
	}
	if todo, _ := changes(known, settleArches(known, []store.CatalogTarget{ct("flip:nsh", "armv7"), ct("flip:nsh", "armv8")})); len(todo) != 0 {
		t.Errorf("a poll seeing both arches records %v, want nothing", todo)
	}
}

func TestCatalogChanges(t *testing.T) {
	ct := func(target, arch string) store.CatalogTarget {
		board, config, _ := strings.Cut(target, ":")
		return store.CatalogTarget{Target: target, Board: board, Config: config, Arch: arch}
	}
	known := map[string]string{"rv-virt:citest": "risc-v", "sim:nsh": ""}
	for _, c := range []struct {
		name string
		seen []store.CatalogTarget
		want []string // targets recorded
		next map[string]string
	}{
		{"nothing new", []store.CatalogTarget{ct("rv-virt:citest", "risc-v"), ct("sim:nsh", "")}, nil, known},
		{"an empty arch changes nothing", []store.CatalogTarget{ct("rv-virt:citest", "")}, nil, known},
		{"a new target", []store.CatalogTarget{ct("esp32:wifi", "xtensa")}, []string{"esp32:wifi"},
			map[string]string{"rv-virt:citest": "risc-v", "sim:nsh": "", "esp32:wifi": "xtensa"}},
		{"an arch changed, an arch learnt", []store.CatalogTarget{ct("rv-virt:citest", "riscv"), ct("sim:nsh", "sim")},
			[]string{"rv-virt:citest", "sim:nsh"}, map[string]string{"rv-virt:citest": "riscv", "sim:nsh": "sim"}},
		{"the same new target twice", []store.CatalogTarget{ct("a:b", ""), ct("a:b", "")}, []string{"a:b"},
			map[string]string{"rv-virt:citest": "risc-v", "sim:nsh": "", "a:b": ""}},
		{"no board or config: no account", []store.CatalogTarget{{Target: "lonely", Board: "lonely"}, {Target: ":x", Config: "x"}}, nil, known},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := maps.Clone(known)
			todo, next := changes(known, c.seen)
			var got []string
			for _, x := range todo {
				got = append(got, x.Target)
			}
			if !slices.Equal(got, c.want) || !maps.Equal(next, c.next) {
				t.Errorf("changes: %v, known %v; want %v, %v", got, next, c.want, c.next)
			}
			if !maps.Equal(known, before) {
				t.Errorf("changes modified the known set: %v", known)
			}
		})
	}
}

// catalogRows returns the catalog as "target arch handles" lines.
func catalogRows(t *testing.T, e *env) string {
	t.Helper()
	rows, err := e.db.SQL.Query(`SELECT target, arch, target_handle, board_handle, arch_handle FROM feed_catalog ORDER BY target`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var target, arch, th, bh, ah string
		if err := rows.Scan(&target, &arch, &th, &bh, &ah); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s @%s @%s @%s", target, arch, th, bh, ah))
	}
	return strings.Join(out, "\n")
}

// TestCatalogFromPrometheus: the first poll records every target present
// in Prometheus, failing or not, and every target that ever failed; a
// steady poll writes nothing, nor does the first poll of a restarted feed;
// an arch change is recorded; a partial answer records nothing.
func TestCatalogFromPrometheus(t *testing.T) {
	t.Parallel()
	broken := failing("esp32-devkitc", "wifi", "nuttxpr", "7a7a7a7a", "8b8b8b8b")
	broken["arch"] = "xtensa"
	fine := failing("sim", "nsh", "nuttxpr", "7a7a7a7a", "8b8b8b8b")
	fine["arch"], fine["msg"] = "sim", ""
	present := []*model.Sample{sample(failing("rv-virt", "citest", "nuttxpr", "7a7a7a7a", "8b8b8b8b"), 1), sample(fine, 1)}
	answer := func(failures, present []*model.Sample) func(string, int) apiAnswer {
		return func(q string, _ int) apiAnswer {
			switch q {
			case DefaultQuery:
				return apiAnswer{vector: failures}
			case presentQuery:
				return apiAnswer{vector: append(append(model.Vector(nil), failures...), present...)}
			}
			return apiAnswer{} // recovery queries: nothing builds
		}
	}
	p := newFakePrometheus(t, answer([]*model.Sample{sample(broken, 0)}, present))
	e := newFakeEnv(t, p)
	// A target that failed long ago, no longer in Prometheus.
	if err := e.db.Update(e.ctx, func(tx *store.Tx) error {
		return tx.MarkFailing(store.FeedTarget{Target: "Old+Board:x", Board: "Old+Board", Config: "x", Arch: "arm", Thread: base + "/x", LastNote: base + "/x"}, "u")
	}); err != nil {
		t.Fatal(err)
	}
	if res := e.poll(); res.Posts != 1 {
		t.Fatalf("first poll: %+v", res)
	}
	want := strings.Join([]string{
		"Old+Board:x arm @old_board.x @old_board @arch.arm",
		"esp32-devkitc:wifi xtensa @esp32-devkitc.wifi @esp32-devkitc @arch.xtensa",
		"rv-virt:citest risc-v @rv-virt.citest @rv-virt @arch.risc-v",
		"sim:nsh sim @sim.nsh @sim @arch.sim",
	}, "\n")
	if got := catalogRows(t, e); got != want {
		t.Fatalf("catalog after the first poll:\n%s\nwant\n%s", got, want)
	}

	before := dump(t, e)
	e.poll()
	e.feed = e.newFeed() // a restart reads the catalog, and finds nothing to add
	e.poll()
	if after := dump(t, e); after != before {
		t.Fatalf("steady polls changed the database:\n%s\n->\n%s", before, after)
	}

	fine["arch"] = "sim2"
	p.setAnswer(withWarnings(answer([]*model.Sample{sample(broken, 0)}, []*model.Sample{sample(fine, 1)}),
		func(q string) bool { return q == presentQuery }, "one shard did not answer"))
	if _, err := e.feed.Poll(e.ctx); err == nil || !strings.Contains(err.Error(), "partial answer") {
		t.Fatalf("a partial answer of the targets present: %v, want the partial answer refused", err)
	}
	if after := dump(t, e); after != before {
		t.Fatalf("a partial answer changed the database:\n%s\n->\n%s", before, after)
	}
	p.setAnswer(answer([]*model.Sample{sample(broken, 0)}, []*model.Sample{sample(fine, 1)}))
	e.poll()
	if got := catalogRows(t, e); !strings.Contains(got, "sim:nsh sim2 @sim.nsh @sim @arch.sim2") || !strings.Contains(got, "rv-virt:citest risc-v") {
		t.Errorf("catalog after sim:nsh changed arch (and rv-virt:citest left Prometheus):\n%s", got)
	}
}

// TestCatalogFromFailures: a source that does not report the targets
// present (nil) still catalogs the targets of its failures, and a failure
// reaches the catalog in the poll that announces it.
func TestCatalogFromFailures(t *testing.T) {
	t.Parallel()
	e := newFarmEnv(t)
	e.poll()
	if got := catalogRows(t, e); got != "" {
		t.Fatalf("catalog of an empty farm: %q", got)
	}
	e.push(failing("rv-virt", "citest", "nuttxpr", "7a7a7a7a", "8b8b8b8b"), 0)
	e.poll()
	if got := catalogRows(t, e); got != "rv-virt:citest risc-v @rv-virt.citest @rv-virt @arch.risc-v" {
		t.Errorf("catalog: %q", got)
	}
}
