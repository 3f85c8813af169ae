package feed

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/common/model"
)

var testFormat = Formatter{DashboardURL: DefaultDashboardURL, HistoryTemplate: DefaultHistoryTemplate, MaxChars: 500}

func TestHistoryURLEscapes(t *testing.T) {
	got := testFormat.History(Build{Board: "a&b", Config: "c d"})
	if got != "https://nuttx-dashboard.org/d/fe2q876wubc3kc/nuttx-build-history?var-board=a%26b&var-config=c+d" {
		t.Errorf("History = %s", got)
	}
}

func TestTitleAndOutcome(t *testing.T) {
	for _, tt := range []struct {
		b    Build
		want string
	}{
		{Build{Target: "rv-virt:citest", Board: "rv-virt", Config: "citest", User: "nuttxpr", Score: 0}, "rv-virt : CITEST - Build Failed (nuttxpr)"},
		{Build{Target: "sim:nsh", Board: "sim", Config: "nsh", Score: 0.5}, "sim : NSH - Build Warning"},
		{Build{Target: "weird", Board: "weird", User: "u", Score: 0.8}, "weird - Build Unknown (u)"},
	} {
		if got := title(tt.b, outcome(tt.b.Score)); got != tt.want {
			t.Errorf("title = %q, want %q", got, tt.want)
		}
	}
}

func TestCutAtCharacterBoundary(t *testing.T) {
	// Combining accents and an emoji with a skin tone: the cut never leaves a
	// mark without its letter, and the result counts at most MaxChars.
	msg := strings.Repeat("e\u0301😀\U0001F44D\U0001F3FD x ", 200)
	b := Build{Target: "b:c", Board: "b", Config: "c", User: "u", URL: "https://gist.github.com/u/1", URLDisplay: "gist.github.com/u/1", Msg: msg, Arch: "arm"}
	for _, max := range []int{200, 333, 500} {
		f := testFormat
		f.MaxChars = max
		c := f.Failure(b, false)
		if n := c.Length(); n > max || n < max-8 {
			t.Errorf("MaxChars %d: post counts %d", max, n)
		}
		text := c.PlainText()
		if !utf8.ValidString(text) || !strings.Contains(text, "…\n\n#NuttX #arm") || !strings.Contains(text, "Build Log: gist.github.com/u/1") {
			t.Errorf("MaxChars %d: %q", max, text)
		}
		before, _, _ := strings.Cut(text, "…")
		last, _ := utf8.DecodeLastRuneInString(before)
		if last == '\u0301' && !strings.HasSuffix(before, "e\u0301") || last == '\U0001F3FD' && !strings.HasSuffix(before, "\U0001F44D\U0001F3FD") {
			t.Errorf("MaxChars %d: cut inside a character: %q", max, before[len(before)-12:])
		}
		if strings.HasSuffix(before, "e") {
			t.Errorf("MaxChars %d: the accent was cut off its letter", max)
		}
	}
	// A limit too small for the links: history and dashboard go first,
	// the title, build log and hashtags stay whole.
	f := testFormat
	f.MaxChars = 100
	c := f.Failure(b, false)
	if text := c.PlainText(); c.Length() > 100 || strings.Contains(text, "Build History") || !strings.HasPrefix(text, "b : C - Build Failed (u)\n") ||
		!strings.Contains(text, "Build Log: gist.github.com/u/1") || !strings.HasSuffix(text, "#NuttX #arm") {
		t.Errorf("tiny limit (%d): %q", c.Length(), text)
	}
}

func TestMessageLines(t *testing.T) {
	got := messageLines("a.c:1: error: x \n   12 |  y\\nfrom an older series\r\n\n  ")
	want := []string{"a.c:1: error: x", "  12 |  y", "from an older series"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("messageLines = %q, want %q", got, want)
	}
}

// TestRecordKeepsTheWholeMessage: a failure stores its message's lines
// whole (what search finds), and a runaway message is cut at 64 KiB on a
// character boundary.
func TestRecordKeepsTheWholeMessage(t *testing.T) {
	b := Build{Score: 0, URL: "https://log", Msg: "a.c:1: error: x \n   12 |  y"}
	if r := b.Record(); r.Msg != "a.c:1: error: x\n  12 |  y" || r.URL != "https://log" || r.Note != "" {
		t.Errorf("record = %+v", r)
	}
	b.Msg = "é" + strings.Repeat("€", 30000) // 90,002 bytes
	r := b.Record()
	if len(r.Msg) > maxStoredMsg || len(r.Msg) < maxStoredMsg-3 || !utf8.ValidString(r.Msg) {
		t.Errorf("a 90 KB message is kept as %d bytes (valid UTF-8: %v), want at most %d, cut at a character", len(r.Msg), utf8.ValidString(r.Msg), maxStoredMsg)
	}
}

func TestBreakRange(t *testing.T) {
	one, zero := 1.0, 0.0
	for _, tt := range []struct {
		b         Build
		good, bad commits
		ok        bool
	}{
		{Build{Rewind: true, Score: 0, NuttxHash: "B", AppsHash: "x", PrevNuttx: "A", PrevApps: "x", PrevScore: &one}, commits{"A", "x"}, commits{"B", "x"}, true},
		{Build{Rewind: true, Score: 1, NuttxHash: "A", AppsHash: "x", NextNuttx: "B", NextApps: "y", NextScore: &zero}, commits{"A", "x"}, commits{"B", "y"}, true},
		{Build{Rewind: true, Score: 0, NuttxHash: "B", PrevNuttx: "A", PrevScore: &zero}, commits{}, commits{}, false},
		{Build{Rewind: true, Score: 0, NuttxHash: "B"}, commits{}, commits{}, false},
		{Build{Score: 0, NuttxHash: "B", PrevNuttx: "A", PrevScore: &one}, commits{}, commits{}, false}, // not a rewind
	} {
		good, bad, ok := tt.b.breakRange()
		if ok != tt.ok || (ok && (good != tt.good || bad != tt.bad)) {
			t.Errorf("breakRange(%+v) = %v %v %v, want %v %v %v", tt.b, good, bad, ok, tt.good, tt.bad, tt.ok)
		}
	}
}

func TestIdentityFallback(t *testing.T) {
	a := Build{Target: "t", User: "u", NuttxHash: "n", Timestamp: "1"}
	b := Build{Target: "t", User: "u", NuttxHash: "n", Timestamp: "2"}
	if a.identity() != b.identity() {
		t.Error("with hashes, the timestamp must not matter")
	}
	c := Build{Target: "t", User: "u", Timestamp: "1"}
	d := Build{Target: "t", User: "u", Timestamp: "2"}
	if c.identity() == d.identity() {
		t.Error("without hashes, the timestamp tells builds apart")
	}
	e := Build{Target: "t", User: "u", URL: "https://x/1"}
	g := Build{Target: "t", User: "u", URL: "https://x/2"}
	if e.identity() == g.identity() {
		t.Error("without hashes or timestamp, the log URL tells builds apart")
	}
}

// FuzzFailurePost feeds arbitrary label values (they come from the network,
// through Prometheus) to the series reader and the post writer.
func FuzzFailurePost(f *testing.F) {
	f.Add("rv-virt:citest", "rv-virt", "citest", "nuttxpr", "risc-v", "https://gist.github.com/x#L1", "gist.github.com/x", "error: x \n y\\n z", "abc", 0.0)
	f.Add("@@@", "", "", "rewind", "", "javascript:alert(1)", "<b>", "<script>", "", 0.5)
	f.Add("", "", "", "", "", "", "", "", "", 1.0)
	f.Fuzz(func(t *testing.T, target, board, config, user, arch, url, display, msg, hash string, score float64) {
		s := &model.Sample{Value: model.SampleValue(score), Metric: model.Metric{"target": model.LabelValue(target), "board": model.LabelValue(board),
			"config": model.LabelValue(config), "user": model.LabelValue(user), "arch": model.LabelValue(arch), "url": model.LabelValue(url),
			"url_display": model.LabelValue(display), "msg": model.LabelValue(msg), "nuttx_hash": model.LabelValue(hash)}}
		b, ok := buildFromSample(s)
		if !ok {
			if user != "rewind" && (strings.TrimSpace(target) != "" || strings.TrimSpace(board) != "") {
				t.Fatalf("series with target %q board %q rejected", target, board)
			}
			return
		}
		for _, c := range []interface{ Length() int }{testFormat.Failure(b, false), testFormat.Failure(b, true)} {
			if n := c.Length(); n > testFormat.MaxChars && len([]rune(title(b, "Build Failed")))+3*23+40 < testFormat.MaxChars {
				t.Fatalf("post of %d characters for %+v", n, b)
			}
		}
		html := testFormat.Failure(b, false).HTML(func(s string) string { return "/tags/" + s })
		if strings.Contains(html, "<script") || strings.Contains(html, "javascript:") && strings.Contains(html, `href="javascript:`) {
			t.Fatalf("unsafe HTML: %s", html)
		}
		testFormat.Recovery(b)
		testFormat.Digest([]Build{b, b})
	})
}

// TestDigestsSortNaturally: digests name board2 before board10, in
// failures and recoveries alike.
func TestDigestsSortNaturally(t *testing.T) {
	var builds []Build
	for _, board := range []string{"board10", "board2", "board1"} {
		builds = append(builds, Build{Target: board + ":nsh", Board: board, Config: "nsh", Arch: "arm", NuttxHash: "abc"})
	}
	want := "arm: board1:nsh, board2:nsh, board10:nsh\n"
	if text := testFormat.Digest(builds).PlainText(); !strings.Contains(text, want) {
		t.Errorf("digest:\n%s\nwant the line %q", text, want)
	}
	if text := testFormat.RecoveryDigest(builds).PlainText(); !strings.Contains(text, want) {
		t.Errorf("recovery digest:\n%s\nwant the line %q", text, want)
	}
}
