package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// TestIdentityKept: the first serve stores its base URL and username;
// later commands use them without flags and refuse different ones, with
// the reason.
func TestIdentityKept(t *testing.T) {
	clearSettingsEnv(t)
	dir := newData(t) // the first serve, on the defaults
	code, out, stderr := run("post", "--data", dir, "hello")
	if code != 0 || !strings.HasPrefix(out, "http://localhost:8080/users/nuttx_build/statuses/") {
		t.Fatalf("post without --base-url: exit %d, %q %q; want a note of http://localhost:8080", code, out, stderr)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"post on another base URL", []string{"post", "--data", dir, "--base-url", "https://nuttx-feed.org", "hi"},
			"this database belongs to http://localhost:8080"},
		{"post as another bot", []string{"post", "--data", dir, "--username", "other", "hi"}, "this database's bot is nuttx_build"},
		{"feed status on another base URL", []string{"feed", "status", "--data", dir, "--base-url", "https://nuttx-feed.org"}, "cannot move an actor"},
	} {
		code, _, stderr := run(c.args...)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, %q; want exit 1 and %q", c.name, code, stderr, c.want)
		}
	}
	t.Setenv("NUTTX_FEED_BASE_URL", "https://nuttx-feed.org")
	if code, _, stderr := run("post", "--data", dir, "hi"); code != 1 || !strings.Contains(stderr, "this database belongs to") {
		t.Errorf("base URL from the environment: exit %d, %q; want it refused", code, stderr)
	}
	t.Setenv("NUTTX_FEED_BASE_URL", "HTTP://LOCALHOST:8080/") // the same URL, spelt otherwise
	if code, _, stderr := run("post", "--data", dir, "hi"); code != 0 {
		t.Errorf("the same base URL spelt otherwise: exit %d, %q", code, stderr)
	}

	cfg := defaultConfig()
	cfg.DataDir, cfg.PrometheusURL, cfg.BaseURL = dir, "", "https://nuttx-feed.org"
	cfg.given = 1 << settingIndex("base-url")
	if _, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), WithListener(listen(t))); err == nil ||
		!strings.Contains(err.Error(), "the Fediverse cannot move an actor to another URL") {
		t.Errorf("serve on another base URL: %v; want it refused with the reason", err)
	}
}

// TestIdentityOfAnOlderDatabase: a database made before identities were
// stored keeps the base URL its activities were minted under; a command
// other than serve never stores a guess.
func TestIdentityOfAnOlderDatabase(t *testing.T) {
	clearSettingsEnv(t)
	older := func(t *testing.T) string { // a bot, with no identity stored
		dir := newData(t)
		db := storetest.OpenAt(t, filepath.Join(dir, store.FileName))
		if _, err := db.SQL.Exec(`DELETE FROM identity`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		return dir
	}
	identityOf := func(t *testing.T, dir string) string {
		db := storetest.OpenAt(t, filepath.Join(dir, store.FileName))
		defer db.Close()
		var base string
		db.SQL.QueryRow(`SELECT base_url FROM identity`).Scan(&base)
		return base
	}
	serveOn := func(dir, base string) error {
		cfg := defaultConfig()
		cfg.DataDir, cfg.PrometheusURL, cfg.BaseURL = dir, "", base
		cfg.given = 1 << settingIndex("base-url")
		s, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), WithListener(listen(t)))
		if err == nil {
			s.close()
		}
		return err
	}

	t.Run("published under one base URL", func(t *testing.T) {
		dir := older(t)
		if code, _, stderr := run("post", "--data", dir, "before the upgrade"); code != 0 {
			t.Fatal(stderr)
		}
		if err := serveOn(dir, "https://nuttx-feed.org"); err == nil || !strings.Contains(err.Error(), "belongs to http://localhost:8080") {
			t.Errorf("serve on another base URL: %v; want it refused", err)
		}
		if code, out, stderr := run("post", "--data", dir, "after"); code != 0 || !strings.HasPrefix(out, "http://localhost:8080/") {
			t.Errorf("post after the upgrade: exit %d, %q %q", code, out, stderr)
		}
	})
	t.Run("nothing published: a command stores no guess", func(t *testing.T) {
		dir := older(t)
		if code, _, stderr := run("profile", "show", "--data", dir); code != 0 {
			t.Fatal(stderr)
		}
		if base := identityOf(t, dir); base != "" {
			t.Fatalf("profile show stored the identity %q", base)
		}
		if err := serveOn(dir, "https://nuttx-feed.org"); err != nil {
			t.Fatalf("serve of a bot that published nothing: %v", err)
		}
		if base := identityOf(t, dir); base != "https://nuttx-feed.org" {
			t.Errorf("serve stored %q, want its --base-url", base)
		}
	})
	t.Run("one stray id under the default", func(t *testing.T) {
		dir := older(t)
		db := storetest.OpenAt(t, filepath.Join(dir, store.FileName))
		for _, iri := range []string{"http://localhost:8080/users/nuttx_build/statuses/a/activity",
			"https://nuttx-feed.org/users/nuttx_build/statuses/b/activity", "https://nuttx-feed.org/users/nuttx_build/statuses/c/activity"} {
			if _, err := db.SQL.Exec(`INSERT INTO activities (iri, actor_id, type, body, created_at) VALUES (?, 1, 'Create', '{}', 0)`, iri); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
		if err := serveOn(dir, "http://localhost:8080"); err != nil { // given, and used by one activity
			t.Errorf("serve on the base URL of one activity: %v", err)
		}
		dir = older(t)
		db = storetest.OpenAt(t, filepath.Join(dir, store.FileName))
		db.SQL.Exec(`INSERT INTO activities (iri, actor_id, type, body, created_at) VALUES ('https://nuttx-feed.org/users/nuttx_build#updates/x', 1, 'Update', '{}', 0)`)
		db.Close()
		if code, out, stderr := run("post", "--data", dir, "x"); code != 0 || !strings.HasPrefix(out, "https://nuttx-feed.org/") {
			t.Errorf("post without --base-url: exit %d, %q %q; want the base URL its activities used", code, out, stderr)
		}
	})
}

// pngOf returns a small PNG of one colour.
// pngFile writes pngOf(c) to a temporary file and returns its path, for
// profile set --avatar.
func pngFile(t *testing.T, c color.Color) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "avatar.png")
	if err := os.WriteFile(path, pngOf(t, c), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pngOf(t *testing.T, c color.Color) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for x := range 4 {
		for y := range 4 {
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestProfileSet: the profile lives in the database. profile set changes
// it while the server runs and sends one Update, signed, to a follower;
// the same change again sends nothing; a restart with other profile flags
// changes nothing; the visibility addresses the next post.
func TestProfileSet(t *testing.T) {
	clearSettingsEnv(t)
	ts := startServer(t)
	actorURL := ts.URL + "/users/nuttx_build"
	r := followedBy(t, ts, "alice", actorURL)

	avatar := pngFile(t, color.RGBA{R: 200, A: 255})
	args := []string{"profile", "set", "--data", ts.Dir, "--display-name", "NuttX CI", "--avatar", avatar,
		"--field", "Dashboard=https://dash.example", "--field", "Source=https://github.com/apache/nuttx", "--visibility", "unlisted"}
	if code, out, stderr := run(args...); code != 0 || !strings.Contains(out, "Profile saved") {
		t.Fatalf("profile set: exit %d, %q %q", code, out, stderr)
	}
	d := r.WaitDeliveries(t, 2, 10*time.Second)[1]
	obj, _ := d.Activity["object"].(map[string]any)
	if d.VerifyErr != nil || d.Activity["type"] != "Update" || obj["name"] != "NuttX CI" {
		t.Fatalf("second delivery: %v %v; want a verified Update with the new name", d.VerifyErr, d.Activity)
	}
	icon, _ := obj["icon"].(map[string]any)
	iconURL, _ := icon["url"].(string)
	if icon["mediaType"] != "image/png" || !strings.HasPrefix(iconURL, actorURL+"/images/avatar?v=") {
		t.Fatalf("icon %v; want the uploaded PNG", icon)
	}
	resp, body := get(t, iconURL, "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(body, pngOf(t, color.RGBA{R: 200, A: 255})) {
		t.Errorf("GET avatar: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	if resp, _ := get(t, actorURL+"/images/header", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET header without one: %d, want 404", resp.StatusCode)
	}
	// The running server serves the new profile within its cache's time.
	eventually.True(t, 15*time.Second, "the actor shows the new name", func() bool {
		return getJSON(t, actorURL)["name"] == "NuttX CI"
	})

	// The web page and WebFinger show the new avatar too.
	eventually.True(t, 15*time.Second, "the profile page shows the new avatar", func() bool {
		_, page := get(t, ts.URL+"/@nuttx_build", "text/html")
		iconPath := strings.TrimPrefix(iconURL, ts.URL) // the page shows it by path
		return strings.Contains(string(page), `<img src="`+iconPath+`"`) && strings.Contains(string(page), `og:image" content="`+iconURL+`"`)
	})
	jrd := getJSON(t, ts.URL+"/.well-known/webfinger?resource=acct:nuttx_build@127.0.0.1")
	if !strings.Contains(fmt.Sprint(jrd["links"]), iconURL) {
		t.Errorf("WebFinger links %v; want the avatar %s", jrd["links"], iconURL)
	}

	// The same change again: nothing saved, nothing sent.
	if code, out, stderr := run(args...); code != 0 || !strings.Contains(out, "Nothing changed") {
		t.Errorf("profile set again: exit %d, %q %q", code, out, stderr)
	}
	code, out, _ := run("profile", "show", "--data", ts.Dir, "--json")
	if code != 0 || !strings.Contains(out, `"display_name": "NuttX CI"`) || !strings.Contains(out, `"visibility": "unlisted"`) ||
		!strings.Contains(out, `"url": "https://dash.example"`) {
		t.Errorf("profile show --json: exit %d\n%s", code, out)
	}

	// An unlisted post: to the followers, Public in cc.
	eventually.True(t, 15*time.Second, "the server sees the visibility", func() bool {
		n := ts.publish(t, "unlisted?")
		return n.Visibility == store.Unlisted
	})
	deliveries := r.WaitDeliveries(t, 3, 10*time.Second)
	create := deliveries[len(deliveries)-1].Activity
	if !sameList(create["to"], actorURL+"/followers") || !sameList(create["cc"], "https://www.w3.org/ns/activitystreams#Public") {
		t.Errorf("unlisted Create addressed to %v cc %v", create["to"], create["cc"])
	}
	time.Sleep(300 * time.Millisecond) // time for a stray second Update to arrive
	var updates int
	for _, d := range r.Deliveries() {
		if d.Activity["type"] == "Update" {
			updates++
		}
	}
	if updates != 1 {
		t.Errorf("the follower got %d Updates, want 1", updates)
	}

	// A restart with other profile flags keeps the stored profile and warns.
	ts.Stop(t)
	cfg := ts.cfg
	cfg.DisplayName = "Flag Name"
	cfg.given = 1 << settingIndex("display-name")
	ts2 := startWith(t, cfg, listen(t))
	if name := getJSON(t, ts2.URL+"/users/nuttx_build")["name"]; name != "NuttX CI" {
		t.Errorf("after a restart with --display-name: name %v, want the stored NuttX CI", name)
	}
	if !strings.Contains(ts2.logs.String(), "--display-name only seeds a new bot's profile") {
		t.Errorf("no warning for the ignored --display-name:\n%s", ts2.logs.String())
	}
}

// sameList reports whether a JSON value is the list of exactly want.
func sameList(v any, want ...string) bool {
	l, ok := v.([]any)
	if !ok || len(l) != len(want) {
		return false
	}
	for i := range l {
		if l[i] != want[i] {
			return false
		}
	}
	return true
}

// TestProfileSetRefusals: bad values get one line and change nothing.
func TestProfileSetRefusals(t *testing.T) {
	clearSettingsEnv(t)
	dir := newData(t)
	text := filepath.Join(t.TempDir(), "not-an-image.png")
	os.WriteFile(text, []byte("hello, I am text"), 0o600)
	big := filepath.Join(t.TempDir(), "big.png")
	os.WriteFile(big, append(pngOf(t, color.Black), make([]byte, 3<<20)...), 0o600)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no flag", nil, "nothing to change"},
		{"long name", []string{"--display-name", strings.Repeat("n", 31)}, "at most 30"},
		{"blank name", []string{"--display-name", " "}, "display name is empty"},
		{"bad visibility", []string{"--visibility", "private"}, "want public or unlisted"},
		{"field without URL", []string{"--field", "Docs=ftp://x"}, "needs a name and an http(s) URL"},
		{"field without =", []string{"--field", "Docs"}, "want NAME=URL"},
		{"five fields", []string{"--field", "a=https://a", "--field", "b=https://b", "--field", "c=https://c", "--field", "d=https://d", "--field", "e=https://e"}, "at most 4"},
		{"fields and none", []string{"--field", "a=https://a", "--no-fields"}, "contradict"},
		{"text avatar", []string{"--avatar", text}, "want PNG, JPEG, GIF or WebP"},
		{"big header", []string{"--header", big}, "more than 2097152 bytes"},
		{"missing file", []string{"--avatar", filepath.Join(dir, "nope.png")}, "no such file"},
	} {
		code, _, stderr := run(append([]string{"profile", "set", "--data", dir}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%s: exit %d, %q; want exit 2 and one line with %q", c.name, code, stderr, c.want)
		}
	}
	code, out, _ := run("profile", "show", "--data", dir)
	if code != 0 || !strings.Contains(out, "display name:  "+defaultDisplayName) || !strings.Contains(out, "avatar:        (none)") {
		t.Errorf("profile after the refusals: exit %d\n%s", code, out)
	}
}

// TestProfileImageChecks: an image must decode whole, within bounds.
func TestProfileImageChecks(t *testing.T) {
	clearSettingsEnv(t)
	dir := newData(t)
	write := func(name string, data []byte) string {
		p := filepath.Join(t.TempDir(), name)
		os.WriteFile(p, data, 0o600)
		return p
	}
	good := pngOf(t, color.White)
	var huge bytes.Buffer // a valid PNG header announcing 100000x100000 pixels
	png.Encode(&huge, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := huge.Bytes()
	copy(b[16:24], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0})
	binary.BigEndian.PutUint32(b[29:33], crc32.ChecksumIEEE(b[12:29])) // the IHDR chunk's checksum
	for _, c := range []struct {
		name string
		file string
		want string
	}{
		{"PNG signature before HTML", write("polyglot.png", append(good[:16:16], []byte("<html><script>alert(1)</script>")...)), "want PNG, JPEG, GIF or WebP"},
		{"truncated PNG", write("cut.png", good[:len(good)-20]), "does not decode"},
		{"100000x100000", write("huge.png", b), "100000x100000 pixels"},
		{"SVG", write("logo.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)), "want PNG, JPEG, GIF or WebP"},
	} {
		code, _, stderr := run("profile", "set", "--data", dir, "--avatar", c.file)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, %q; want exit 2 and %q", c.name, code, stderr, c.want)
		}
	}
	if code, out, stderr := run("profile", "set", "--data", dir, "--avatar", write("ok.png", good)); code != 0 || !strings.Contains(out, "Profile saved") {
		t.Errorf("a good PNG: exit %d %q %q", code, out, stderr)
	}
}

// TestDashboardLinkFollows: the profile's dashboard link follows a given
// --dashboard-url, announced with one Update; the default changes nothing.
func TestDashboardLinkFollows(t *testing.T) {
	clearSettingsEnv(t)
	dir := newData(t) // seeded with the default dashboard
	restart := func(dashboard string, given bool) {
		cfg := defaultConfig()
		cfg.DataDir, cfg.PrometheusURL, cfg.DashboardURL = dir, "", dashboard
		if given {
			cfg.given = 1 << settingIndex("dashboard-url")
		}
		s, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), WithListener(listen(t)))
		if err != nil {
			t.Fatal(err)
		}
		s.close()
	}
	dashboard := func() string {
		_, out, _ := run("profile", "show", "--data", dir)
		for _, line := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(line, "  NuttX Dashboard = "); ok {
				return v
			}
		}
		return ""
	}
	if d := dashboard(); d != "https://nuttx-dashboard.org" {
		t.Fatalf("seeded dashboard link %q", d)
	}
	restart("https://dash.example/nuttx", true)
	if d := dashboard(); d != "https://dash.example/nuttx" {
		t.Errorf("after --dashboard-url: %q", d)
	}
	restart("https://nuttx-dashboard.org", false) // the default, not given
	if d := dashboard(); d != "https://dash.example/nuttx" {
		t.Errorf("after a restart on the default: %q, want the link kept", d)
	}
	db := storetest.OpenAt(t, filepath.Join(dir, store.FileName))
	defer db.Close()
	var updates int
	db.SQL.QueryRow(`SELECT COUNT(*) FROM activities WHERE type = 'Update'`).Scan(&updates)
	if updates != 1 {
		t.Errorf("%d Updates, want 1", updates)
	}
}
