package feed

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// TestAccountProfile: each kind of feed account is named after its label
// (cut to Mastodon's limit), says what it posts, links its history (a
// target's, or the dashboard), the dashboard, the directory and the
// firehose, and is a valid profile; long labels and a long history
// template stay within the limits.
func TestAccountProfile(t *testing.T) {
	t.Parallel()
	site, err := urls.New("https://feed.example")
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 60)
	history := "https://nuttx-dashboard.org/d/fe2q876wubc3kc/nuttx-build-history?var-board=rv-virt&var-config=citest"
	firehose := "https://feed.example/@nuttx_build"
	for _, c := range []struct {
		name    string
		format  Formatter
		account store.FeedAccount
		display string
		says    []string // in the summary
		fields  []store.Field
	}{
		{"target", testFormat, store.FeedAccount{Username: "rv-virt.citest", Kind: store.KindTarget, Target: "rv-virt:citest", Board: "rv-virt", Config: "citest", Arch: "risc-v"},
			"rv-virt:citest builds", []string{"the NuttX target rv-virt:citest", "Build history: " + history + ".", "@nuttx_build@feed.example " + firehose},
			[]store.Field{{Name: "Build history", URL: history}, {Name: "Dashboard", URL: DefaultDashboardURL}, {Name: "All accounts", URL: "https://feed.example/targets"}, {Name: "Every build", URL: firehose}}},
		{"board", testFormat, store.FeedAccount{Username: "rv-virt", Kind: store.KindBoard, Board: "rv-virt"},
			"rv-virt builds", []string{"every configuration of the NuttX board rv-virt", "@nuttx_build@feed.example " + firehose},
			[]store.Field{{Name: "Dashboard", URL: DefaultDashboardURL}, {Name: "All accounts", URL: "https://feed.example/targets"}, {Name: "Every build", URL: firehose}}},
		{"arch", testFormat, store.FeedAccount{Username: "arch.risc-v", Kind: store.KindArch, Arch: "risc-v"},
			"risc-v builds", []string{"every NuttX target of the risc-v architecture", "@nuttx_build@feed.example " + firehose},
			[]store.Field{{Name: "Dashboard", URL: DefaultDashboardURL}, {Name: "All accounts", URL: "https://feed.example/targets"}, {Name: "Every build", URL: firehose}}},
		{"name without builds", testFormat, store.FeedAccount{Username: "esp32s3-devkitc.knsh_psram", Kind: store.KindTarget, Target: "esp32s3-devkitc:knsh_psram", Board: "esp32s3-devkitc", Config: "knsh_psram"},
			"esp32s3-devkitc:knsh_psram", nil, nil},
		{"name cut", testFormat, store.FeedAccount{Username: long, Kind: store.KindBoard, Board: long},
			long[:30], []string{"the NuttX board " + long}, nil},
		{"no history template, no dashboard", Formatter{}, store.FeedAccount{Username: "sim.nsh", Kind: store.KindTarget, Target: "sim:nsh", Board: "sim", Config: "nsh"},
			"sim:nsh builds", []string{"the NuttX target sim:nsh from", "@nuttx_build@feed.example"},
			[]store.Field{{Name: "All accounts", URL: "https://feed.example/targets"}, {Name: "Every build", URL: firehose}}},
		{"history too long for the bio", Formatter{HistoryTemplate: "https://h.example/" + strings.Repeat("p", 480) + "?b={board}"}, store.FeedAccount{Username: "sim.nsh", Kind: store.KindTarget, Target: "sim:nsh", Board: "sim", Config: "nsh"},
			"sim:nsh builds", []string{"one thread per target. Every target's builds: @nuttx_build@feed.example"}, nil},
		{"empty label", testFormat, store.FeedAccount{Username: "_", Kind: store.KindBoard},
			"(none) builds", nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := AccountProfile(c.format, site, "nuttx_build", c.account)
			if p.Username != c.account.Username || p.DisplayName != c.display || p.Visibility != "" {
				t.Errorf("profile = %q %q %q, want %q %q and no visibility", p.Username, p.DisplayName, p.Visibility, c.account.Username, c.display)
			}
			for _, s := range c.says {
				if !strings.Contains(p.Summary, s) {
					t.Errorf("summary %q lacks %q", p.Summary, s)
				}
			}
			if n := utf8.RuneCountInString(p.Summary); n > activitypub.MaxSummary || len(p.Fields) > activitypub.MaxFields {
				t.Errorf("summary of %d characters, %d fields: over the limits", n, len(p.Fields))
			}
			if c.fields != nil && !slices.Equal(p.Fields, c.fields) {
				t.Errorf("fields = %v, want %v", p.Fields, c.fields)
			}
		})
	}
}
