package server

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
)

// browser starts headless Chromium (Debian's package; make test installs
// it). Set NUTTX_FEED_SKIP_BROWSER=1 to skip browser tests knowingly.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path != "" {
			break
		}
		path, _ = exec.LookPath(p)
	}
	if path == "" {
		if os.Getenv("NUTTX_FEED_SKIP_BROWSER") == "1" {
			t.Skip("NUTTX_FEED_SKIP_BROWSER=1")
		}
		t.Fatal("Chromium not found: install Debian's chromium (make test does), or set NUTTX_FEED_SKIP_BROWSER=1")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 1400),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

func TestProfilePageInBrowser(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	root, err := ts.publishPost(t, activitypub.Post{Content: richtext.Parse("rv-virt:citest - Build Failed\nBuild Log: https://gist.github.com/nuttxpr/1 #NuttX")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.publishPost(t, activitypub.Post{Content: richtext.Parse("rv-virt:citest recovered <ok>"), InReplyTo: root.PublicID}); err != nil {
		t.Fatal(err)
	}
	r := fedtest.New(t, "reader", fedtest.Mastodon, fedtest.FetchKeys)
	if resp, err := r.Post(ts.URL+"/inbox", r.FollowActivity(ts.URL+"/users/nuttx_build")); err != nil || resp.StatusCode != 202 {
		t.Fatalf("follow: %v", err)
	}

	b := browser(t)
	text := func(css string) string {
		t.Helper()
		v, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(css)))
		if err != nil {
			t.Fatalf("text of %s: %v", css, err)
		}
		return v
	}
	eval := func(js string) any {
		t.Helper()
		v, err := chromedp.Run(b, chromedp.Evaluate[any](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	if err := chromedp.Do(b, chromedp.Navigate(ts.URL+"/@nuttx_build"), chromedp.WaitVisible(chromedp.CSS("article.note"))); err != nil {
		t.Fatalf("profile page: %v", err)
	}
	title, err := chromedp.Run(b, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	name, handle, stats := text("header.profile h1"), text("header.profile .handle"), text(".stats")
	host := strings.Split(strings.TrimPrefix(ts.URL, "http://"), ":")[0]
	if !strings.Contains(title, "NuttX Build") || !strings.HasPrefix(name, "NuttX Build") || handle != "@nuttx_build@"+host {
		t.Errorf("title %q, name %q, handle %q", title, name, handle)
	}
	if !strings.Contains(stats, "2 posts") || !strings.Contains(stats, "1 follower") {
		t.Errorf("stats %q, want 2 posts and 1 follower", stats)
	}
	notes := eval(`document.querySelectorAll("article.note").length`)
	oldest := text("article.note:last-of-type .content")
	if notes != float64(2) || !strings.Contains(oldest, "Build Log: https://gist.github.com/nuttxpr/1") {
		t.Errorf("%v notes shown; the oldest reads %q", notes, oldest)
	}
	if alt := eval(`document.querySelector('link[rel="alternate"][type="application/activity+json"]').href`); alt != ts.URL+"/users/nuttx_build" {
		t.Errorf("alternate link %v", alt)
	}
	if w := eval(`document.querySelector("header.profile img").naturalWidth`); w != float64(256) {
		t.Errorf("avatar not loaded (naturalWidth %v): static files or the CSP are broken", w)
	}
	if mw := eval(`getComputedStyle(document.querySelector("main")).maxWidth`); mw == "none" || mw == "" {
		t.Errorf("stylesheet not applied (main max-width %v)", mw)
	}

	// Follow the root note's link to its page: the thread shows the reply.
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS("#n-"+root.PublicID+" .meta a")), chromedp.WaitVisible(chromedp.CSS("article.note.focus"))); err != nil {
		t.Fatalf("note page: %v", err)
	}
	heading, reply := text("main h2"), text("main h2 + article .content")
	if focused := eval(`document.querySelectorAll("article.note.focus").length`); heading != "Replies in this thread" ||
		reply != "rv-virt:citest recovered <ok>" || focused != float64(1) {
		t.Errorf("note page: heading %q, reply %q, %v focused notes", heading, reply, focused)
	}
	if out := os.Getenv("NUTTX_FEED_SCREENSHOT"); out != "" {
		if err := chromedp.Do(b, chromedp.Navigate(ts.URL+"/@nuttx_build")); err == nil {
			if png, err := chromedp.Run(b, chromedp.FullScreenshot(100)); err == nil {
				os.WriteFile(out, png, 0o644)
			}
		}
	}
}
