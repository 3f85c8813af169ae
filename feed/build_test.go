package feed

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nuttx-feed/nuttx-feed/internal/promtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// TestBuildFromSampleCapsLabels: a series' names are cut at
// maxNameLabel bytes on a character boundary, its log link's text at
// maxURLLabel, and its log link kept only when it is an absolute http(s)
// URL of at most maxURLLabel bytes. The cut is a prefix: the same series
// reads the same on every poll, and so is the same failure.
func TestBuildFromSampleCapsLabels(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 150) // 300 bytes; byte 100 starts a character
	l := failing("b"+long, "c"+long, "u"+long, "n"+long, "a"+long)
	l["arch"], l["subarch"], l["group"], l["url_display"] = long, long, long, strings.Repeat("d", 3000)
	b, ok := buildFromSample(sample(l, 0))
	if !ok {
		t.Fatal("series rejected")
	}
	for name, v := range map[string]string{"board": b.Board, "config": b.Config, "user": b.User, "arch": b.Arch,
		"subarch": b.Subarch, "group": b.Group, "nuttx_hash": b.NuttxHash, "apps_hash": b.AppsHash} {
		if len(v) > maxNameLabel || len(v) < maxNameLabel-1 || !utf8.ValidString(v) {
			t.Errorf("%s: %d bytes, valid %v", name, len(v), utf8.ValidString(v))
		}
	}
	if b.Target != b.Board+":"+b.Config || len(b.URLDisplay) != maxURLLabel {
		t.Errorf("target %q, log text of %d bytes", b.Target, len(b.URLDisplay))
	}
	l["user"] = "u" + long + "another host, the same past the cut"
	again, _ := buildFromSample(sample(l, 0))
	if again.identity() != b.identity() {
		t.Errorf("identity changes past the cut:\n%+v\n%+v", again.identity(), b.identity())
	}

	target := strings.Repeat("t", 300) // a target label alone (no board, config)
	b, _ = buildFromSample(sample(promtest.Labels{"target": target, "user": "u"}, 0))
	if b.Target != target[:maxTargetLabel] {
		t.Errorf("target label of 300 bytes read as %d", len(b.Target))
	}
}

// TestLogURLOnlyHTTP: the url label is the build log's link only when it
// is an absolute http(s) URL of at most maxURLLabel bytes; else it is
// dropped (a cut link would lead elsewhere).
func TestLogURLOnlyHTTP(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]bool{
		"https://gist.github.com/x#L1": true,
		"  http://logs.example/a b  ":  true,
		"HTTPS://logs.example/x":       true,
		"https://logs.example/" + strings.Repeat("x", maxURLLabel-len("https://logs.example/")): true,
		"https://logs.example/" + strings.Repeat("x", maxURLLabel):                              false,
		"javascript:alert(1)":  false,
		"/logs/relative":       false,
		"ftp://logs.example/x": false,
		"https:///no-host":     false,
		"http://[::1":          false,
		"":                     false,
	} {
		l := failing("sim", "nsh", "host", "abc", "def")
		l["url"] = url
		b, _ := buildFromSample(sample(l, 0))
		if got := b.URL != ""; got != want || got && b.URL != strings.TrimSpace(url) {
			t.Errorf("url %.40q: kept %q, want kept %v", url, b.URL, want)
		}
	}
}

// TestHostileLabelsThroughPrometheus: a failure pushed with a build host
// of 300 '+' and a javascript: log link, polled twice from Prometheus,
// is posted once, without its log line, and recorded failing on the
// host's first 100 bytes.
func TestHostileLabelsThroughPrometheus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := failing("sim", "nsh", strings.Repeat("+", 300), "abc", "def")
	l["url"] = "javascript:alert(1)"
	e.push(l, 0)
	e.poll()
	e.poll()
	n := e.wantNotes(1)[0]
	if strings.Contains(n.Content, "javascript:") || strings.Contains(n.Content, "Build Log") {
		t.Errorf("note links its log: %s", n.Content)
	}
	err := e.db.View(e.ctx, func(tx *store.Tx) error {
		ft, err := tx.FeedTarget("sim:nsh")
		if err == nil && (len(ft.FailingUsers) != 1 || ft.FailingUsers[0] != strings.Repeat("+", maxNameLabel)) {
			t.Errorf("failing on %q", ft.FailingUsers)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
