package main

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/nuttx-feed/nuttx-feed/feed"
)

// farm is a simulated NuttX build farm: the feed.Source the real feed
// polls while the database is built. Each poll moves its clock on and
// changes a few targets: some start failing, some fail again with a newer
// commit, some build again. Every failure message is a compiler or linker
// error of the kind the farm reports.
type farm struct {
	rng     *rand.Rand
	targets []farmTarget
	failing map[int]*feed.Build // by index in targets: the failed build the query returns
	good    map[int]feed.Build  // targets that build again, until the feed sees it
	fresh   []int               // targets that never failed yet, in a random order
	clock   *clock
	polls   int
}

// farmTarget is one board:config of one arch.
type farmTarget struct{ board, config, arch string }

// clock is the simulated time: the store stamps each transaction with it.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// The farm's parts: arches with their boards' stems, configurations, build
// hosts, and the source files errors are found in.
var (
	arches = map[string][]string{
		"arm":     {"stm32f4discovery", "nucleo-h743zi", "nrf52840-dk", "sama5d4-ek", "lpcxpresso-lpc54628", "imxrt1064-evk", "rp2040-pico", "stm32l476vg-disco"},
		"arm64":   {"qemu-armv8a", "imx93-evk", "pinephone", "fvp-armv8r", "rk3399"},
		"risc-v":  {"rv-virt", "esp32c3-devkit", "bl602evb", "k210", "mpfs-icicle", "qemu-rv32", "litex-arty", "jh7110-star64"},
		"xtensa":  {"esp32-devkitc", "esp32s3-devkit", "esp32s2-saola", "esp32-wrover"},
		"sim":     {"sim"},
		"x86_64":  {"qemu-intel64"},
		"tricore": {"tc397"},
		"avr":     {"arduino-mega2560", "amber"},
		"mips":    {"pic32mz-starterkit"},
	}
	configs   = []string{"nsh", "citest", "knsh", "wifi", "usbnsh", "ble", "smp", "ostest", "lvgl", "netnsh"}
	hosts     = []string{"nuttxpr", "jerpelea", "nuttxmacos", "nuttxlinux"}
	sourceFor = map[string][]string{
		"arm":     {"arm_exit.c", "stm32_serial.c", "arm_hardfault.c", "nrf52_radio.c", "sam_lcdc.c"},
		"arm64":   {"arm64_exit.c", "arm64_mmu.c", "imx9_lpuart.c", "arm64_gicv3.c"},
		"risc-v":  {"riscv_exit.c", "riscv_exception.c", "esp32c3_wifi_adapter.c", "bl602_netdev.c", "riscv_mmu.c"},
		"xtensa":  {"xtensa_exit.c", "esp32_wifi_adapter.c", "esp32s3_spiflash.c", "xtensa_cpupause.c"},
		"sim":     {"sim_exit.c", "sim_netdriver.c", "sim_hostfs.c"},
		"x86_64":  {"intel64_exit.c", "intel64_cpu.c"},
		"tricore": {"tricore_exit.c", "tricore_irq.c"},
		"avr":     {"avr_exit.c", "at90usb_serial.c"},
		"mips":    {"mips_exit.c", "pic32mz_ethernet.c"},
	}
	functions = []string{"up_idle", "nxsched_suspend", "board_app_initialize", "up_putc", "esp_wifi_init",
		"clock_systime_timespec", "nx_wait", "pthread_mutex_lock", "mm_heap_free", "work_queue"}
)

// newFarm makes about n targets (board:config across the arches), in a
// fixed order: the same seed builds the same farm.
func newFarm(n int, seed uint64, start time.Time) *farm {
	f := &farm{rng: rand.New(rand.NewPCG(seed, 1)), failing: map[int]*feed.Build{}, good: map[int]feed.Build{}, clock: &clock{start}}
	names := slices.Sorted(maps.Keys(arches))
	for variant := 0; len(f.targets) < n; variant++ {
		for _, arch := range names {
			for _, stem := range arches[arch] {
				board := stem
				if variant > 0 {
					board = fmt.Sprintf("%s%d", stem, variant+1) // board2 before board10 on the pages
				}
				for c := range 1 + variant%3 {
					if len(f.targets) < n {
						f.targets = append(f.targets, farmTarget{board: board, config: configs[(variant+c)%len(configs)], arch: arch})
					}
				}
			}
		}
	}
	f.fresh = f.rng.Perm(len(f.targets))
	return f
}

// name is board:config of target i.
func (f *farm) name(i int) string { return f.targets[i].board + ":" + f.targets[i].config }

// Observe answers the feed's poll: the failing builds, and the builds of
// the failing targets it asks about that build again.
func (f *farm) Observe(_ context.Context, failing []string) (feed.Observation, error) {
	var obs feed.Observation
	for _, i := range slices.Sorted(maps.Keys(f.failing)) {
		obs.Failures = append(obs.Failures, *f.failing[i])
	}
	asked := map[string]bool{}
	for _, t := range failing {
		asked[t] = true
	}
	for i, b := range f.good {
		if asked[f.name(i)] {
			obs.Successes = append(obs.Successes, b)
		}
		delete(f.good, i)
	}
	return obs, nil
}

// step moves the farm on by one poll: the clock by 20 minutes, newFailures
// targets start failing (those that never failed first), each failing
// target fails again with a newer commit with probability refail, and
// builds again with probability recover. The first step may make a burst
// (a digest).
func (f *farm) step(newFailures int, refail, recover float64) {
	f.polls++
	f.clock.t = f.clock.t.Add(20 * time.Minute)
	for _, i := range slices.Sorted(maps.Keys(f.failing)) {
		switch r := f.rng.Float64(); {
		case r < recover:
			b := *f.failing[i]
			b.Score, b.Msg, b.Timestamp = 1, "", f.timestamp()
			b.NuttxHash, b.AppsHash = f.hash(), f.hash()
			f.good[i] = b
			delete(f.failing, i)
		case r < recover+refail:
			f.failing[i] = f.build(i, f.failing[i].User)
		}
	}
	for range newFailures {
		i := f.next()
		if _, ok := f.failing[i]; !ok {
			f.failing[i] = f.build(i, hosts[f.rng.IntN(len(hosts))])
		}
	}
}

// next picks a target to fail: one that never failed while some are left.
func (f *farm) next() int {
	if len(f.fresh) > 0 {
		i := f.fresh[0]
		f.fresh = f.fresh[1:]
		return i
	}
	return f.rng.IntN(len(f.targets))
}

// build is a failed build of target i on host user, at the farm's time.
func (f *farm) build(i int, user string) *feed.Build {
	t := f.targets[i]
	nuttx, apps := f.hash(), f.hash()
	return &feed.Build{
		Target: f.name(i), Board: t.board, Config: t.config, Arch: t.arch, User: user,
		URL:       fmt.Sprintf("https://github.com/NuttX/nuttx/actions/runs/%d", 9_000_000_000+f.rng.IntN(1_000_000_000)),
		Msg:       f.message(t),
		NuttxHash: nuttx, AppsHash: apps, Timestamp: f.timestamp(), Score: 0,
	}
}

func (f *farm) timestamp() string { return f.clock.t.UTC().Format("2006-01-02T15:04:05") }

func (f *farm) hash() string {
	var b strings.Builder
	for range 40 {
		b.WriteByte("0123456789abcdef"[f.rng.IntN(16)])
	}
	return b.String()
}

// message is a build log's error as the farm joins it (" \n" between
// lines): a compiler error with gcc's caret line, a linker error or a
// failed defconfig check.
func (f *farm) message(t farmTarget) string {
	files := sourceFor[t.arch]
	file := files[f.rng.IntN(len(files))]
	fn := functions[f.rng.IntN(len(functions))]
	line, col := 20+f.rng.IntN(2000), 3+f.rng.IntN(20)
	dir := "arch/" + strings.ReplaceAll(t.arch, "-", "") + "/src/common/"
	switch f.rng.IntN(5) {
	case 0, 1:
		return fmt.Sprintf("%s%s: In function '%s':\n%s%s:%d:%d: error: implicit declaration of function '%s' [-Werror=implicit-function-declaration]\n %4d |   %s();\n      |   ^~~~~~~\ncc1: all warnings being treated as errors\nmake[1]: *** [Makefile:152: %s] Error 1",
			dir, file, "up_"+t.config, dir, file, line, col, fn, line, fn, strings.TrimSuffix(file, ".c")+".o")
	case 2:
		return fmt.Sprintf("ld: nuttx section `.text' will not fit in region `flash'\nld: region `flash' overflowed by %d bytes\nmake: *** [Makefile:186: nuttx] Error 1", 100+f.rng.IntN(90000))
	case 3:
		return fmt.Sprintf("ld: %s%s:%d: undefined reference to `%s'\ncollect2: error: ld returned 1 exit status", dir, strings.TrimSuffix(file, ".c")+".o", line, fn)
	default:
		return fmt.Sprintf("%s%s:%d:%d: error: 'struct %s_dev_s' has no member named 'lock'\n %4d |   nxmutex_lock(&priv->lock);\n      |                  ^~\n[%s:%s] ERROR: defconfig is not normalized", dir, file, line, col, t.board, line, t.board, t.config)
	}
}
