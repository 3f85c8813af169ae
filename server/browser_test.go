package server

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
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

// evaluator returns a func that evaluates JavaScript in the page of b and
// fails the test on an error.
func evaluator(t *testing.T, b context.Context) func(js string) any {
	return func(js string) any {
		t.Helper()
		v, err := chromedp.Run(b, chromedp.Evaluate[any](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
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
	eval := evaluator(t, b)
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

// xssPayload sets window.xss if any of its parts runs: a script, an
// image's onerror, an svg's onload, a javascript: link (clicked).
const xssPayload = `<p>fixed in #17373 <script>window.xss="script"</script><img src="/static/no-such.png" onerror="window.xss='img'">` +
	`<svg onload="window.xss='svg'"></svg><a class="js" href="javascript:void(window.xss='link')">run me</a></p>`

// TestThreadInBrowser: Chromium opens a profile with posts, a failing
// target and a thread holding two replies carrying XSS payloads, one
// stored through the inbox (sanitized), one stored raw (as if the
// sanitizer failed: the CSP must hold). It follows the failing table's
// link to the thread, sees the replies, and no script of theirs runs, not
// even by clicking their javascript: link. It saves a full screenshot
// (PNG); the dark theme gives the page another background; at 400 px the
// profile and the thread do not scroll sideways.
func TestThreadInBrowser(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	root := ts.failTarget(t, "esp32c3-devkit", "nsh", "nuttxpr", "1111111111", "riscv_exit.c:42:5: error: implicit declaration\n   42 |     up_exit();\n      |     ^~~~~~~")
	ts.publish(t, "A post about nothing failing #NuttX")
	ts.failTarget(t, "sim", "nsh", "nuttxpr", "2222222222", "arch/sim/src/"+strings.Repeat("a_long_directory_name/", 14)+"up_idle.c:7:1: error: expected ';' before '}' token")
	alice := fedtest.New(t, "alice", fedtest.Mastodon, fedtest.FetchKeys)
	alice.DisplayName = "Alice"
	iri := ts.svc.NoteIRI(root)
	postReply(t, ts, alice, alice.NoteActivity("Create", alice.ActorID()+"/statuses/1", iri, "<p>sanitized:</p>"+xssPayload))
	err := ts.store.Update(t.Context(), func(tx *store.Tx) error {
		id := alice.ActorID() + "/statuses/2"
		return tx.SaveRemoteReply(&store.RemoteReply{NoteID: id, InReplyTo: iri, Thread: iri, Author: alice.ActorID(), AuthorName: "Mallory",
			AuthorHandle: "@mallory@evil.example", AuthorURL: "https://evil.example/@mallory", Content: "<p>raw:</p>" + xssPayload, URL: id,
			Published: time.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}

	b := browser(t)
	eval := evaluator(t, b)
	if err := chromedp.Do(b, chromedp.Navigate(ts.URL+"/@nuttx_build"), chromedp.WaitVisible(chromedp.CSS("section.failing a.thread"))); err != nil {
		t.Fatalf("profile page: %v", err)
	}
	if n := eval(`document.querySelectorAll("article.note").length`); n != float64(3) {
		t.Errorf("the profile shows %v posts, want 3", n)
	}
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS("section.failing a.thread")), chromedp.WaitVisible(chromedp.CSS("article.remote-reply"))); err != nil {
		t.Fatalf("from the failing table to the thread: %v", err)
	}
	if url := eval(`location.href`); url != ts.site.NoteURL(root.Username, root.PublicID) {
		t.Errorf("the thread link led to %v", url)
	}
	replies := eval(`Array.from(document.querySelectorAll("article.remote-reply .content"), e => e.innerText.replace(/\s+/g, " ").trim()).join(" | ")`)
	if replies != "sanitized: fixed in #17373 run me | raw: fixed in #17373 run me" {
		t.Errorf("the replies read %q", replies)
	}
	// The raw reply's script and handlers are on the page: only the CSP
	// keeps them from running.
	if n := eval(`document.querySelectorAll("article.remote-reply script, [onerror], [onload]").length`); n != float64(3) {
		t.Errorf("%v raw payload elements on the page, want 3 (the check would prove nothing)", n)
	}
	xss := func(when string) {
		t.Helper()
		if got := eval(`typeof window.xss === "undefined" ? "" : String(window.xss)`); got != "" {
			t.Errorf("%s: a reply's script ran: window.xss = %q", when, got)
		}
	}
	time.Sleep(200 * time.Millisecond) // let the image fail to load
	xss("on load")
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS("article.remote-reply:last-of-type a.js"))); err != nil {
		t.Fatalf("clicking the javascript: link: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	xss("after a click on the javascript: link")

	png, err := chromedp.Run(b, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.TempDir(), "thread.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 1000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot %s: %v, %d bytes, not a PNG", shot, err, len(png))
	}

	background := `getComputedStyle(document.body).backgroundColor`
	light := eval(background)
	dark := []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}
	if _, err := chromedp.Call(b, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: dark}); err != nil {
		t.Fatal(err)
	}
	if got := eval(background); got == light || got != "rgb(17, 22, 31)" {
		t.Errorf("dark theme background %v (light %v), want the dark --bg", got, light)
	}

	if err := chromedp.Do(b, chromedp.EmulateViewport(400, 900)); err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{ts.URL + "/@nuttx_build", ts.site.NoteURL(root.Username, root.PublicID), ts.URL + "/targets/esp32c3-devkit:nsh",
		ts.URL + "/search?q=error", ts.URL + "/search?q=up_idle.c"} {
		if err := chromedp.Do(b, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
			t.Fatal(err)
		}
		width := eval(`[document.documentElement.clientWidth, document.scrollingElement.scrollWidth].join(" ")`)
		if width != "400 400" {
			t.Errorf("%s at 400 px: viewport and page width %v, want no sideways scroll", page, width)
		}
	}
}

// TestFailingTableFitsInBrowser: at 1000 and 400 px the failing tables
// of the profile and /targets fit their scroll box (no sideways scroll to
// reach the Links column) however long an error's lines, a build host's
// name or a target's name: the error wraps in its cell and keeps its
// indentation (review rv2, item 3).
func TestFailingTableFitsInBrowser(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	msg := "src/" + strings.Repeat("very_long_path/", 8) + "up_idle.c:12:3: error: '" + strings.Repeat("x", 80) + "' undeclared\n    12 |   x = 1;"
	ts.failTarget(t, "esp32c3-devkit", "nsh", "host-"+strings.Repeat("h", 90), "abc", msg)
	ts.failTarget(t, "board-"+strings.Repeat("b", 90), "nsh", "hostA", "def", msg)
	b := browser(t)
	eval := evaluator(t, b)
	for _, width := range []int64{1000, 400} {
		if err := chromedp.Do(b, chromedp.EmulateViewport(width, 900)); err != nil {
			t.Fatal(err)
		}
		for _, page := range []string{ts.URL + "/@nuttx_build", ts.URL + failingView} {
			if err := chromedp.Do(b, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("table.targets"))); err != nil {
				t.Fatal(err)
			}
			box := eval(`(() => { const s = document.querySelector("section.failing .scroll"); return s.clientWidth + " " + s.scrollWidth })()`).(string)
			if w := strings.Fields(box); w[0] != w[1] {
				t.Errorf("%s at %d px: table box %s wide, its table %s: the Links column is cut off", page, width, w[0], w[1])
			}
			if got := eval(`[document.documentElement.clientWidth, document.scrollingElement.scrollWidth].join(" ")`); got != fmt.Sprintf("%d %d", width, width) {
				t.Errorf("%s at %d px: viewport and page width %v", page, width, got)
			}
		}
	}
	if err := chromedp.Do(b, chromedp.Navigate(ts.URL+"/@nuttx_build"), chromedp.WaitVisible(chromedp.CSS("table.targets code"))); err != nil {
		t.Fatal(err)
	}
	if ws, text := eval(`getComputedStyle(document.querySelector("table.targets code")).whiteSpace`), eval(`document.querySelector("table.targets code").textContent`).(string); ws != "pre-wrap" || !strings.Contains(text, "\n   12 |   x = 1;") {
		t.Errorf("error excerpt white-space %v, text %q: want it wrapped with its indentation", ws, text)
	}
}

// TestDirectoryInBrowser: Chromium searches the directory with its form
// (no script: the server searches), sees the one account found with its
// handle, which one click selects whole (user-select: all, from the
// stylesheet the CSP lets in), follows its profile link to the account's
// profile with its target's state, and at 400 px neither page scrolls
// sideways.
func TestDirectoryInBrowser(t *testing.T) {
	t.Parallel()
	ts := directoryServer(t)
	b := browser(t)
	eval := evaluator(t, b)
	if err := chromedp.Do(b, chromedp.Navigate(ts.URL+"/targets"), chromedp.WaitVisible(chromedp.CSS("#dir-q")),
		chromedp.SendKeys(chromedp.CSS("#dir-q"), "CITEST"), chromedp.Submit(chromedp.CSS("#dir-q")),
		chromedp.WaitVisible(chromedp.CSS(`#dir-q[value="CITEST"]`))); err != nil {
		t.Fatalf("search: %v", err)
	}
	if url := eval(`location.href`); url != ts.URL+"/targets?q=CITEST&kind=&state=" {
		t.Errorf("the form led to %v", url)
	}
	handle := "@rv-virt.citest@127.0.0.1"
	if rows, text := eval(`document.querySelectorAll("table.directory tbody tr").length`), eval(`document.querySelector("code.copy-handle").textContent`); rows != float64(1) || text != handle {
		t.Fatalf("%v rows found, the first handle %q", rows, text)
	}
	if us := eval(`getComputedStyle(document.querySelector("code.copy-handle")).userSelect`); us != "all" {
		t.Errorf("user-select %v: the stylesheet did not apply", us)
	}
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS("code.copy-handle"))); err != nil {
		t.Fatal(err)
	}
	if sel := eval(`window.getSelection().toString()`); sel != handle {
		t.Errorf("a click on the handle selects %q, want %q", sel, handle)
	}
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS("table.directory a.profile")), chromedp.WaitVisible(chromedp.CSS("section.account"))); err != nil {
		t.Fatalf("to the profile: %v", err)
	}
	if url, h := eval(`location.href`), eval(`document.querySelector("section.account h2").textContent`); url != ts.URL+"/@rv-virt.citest" || h != "Target rv-virt:citest" {
		t.Errorf("the profile link led to %v, reading %q", url, h)
	}
	if err := chromedp.Do(b, chromedp.EmulateViewport(400, 900)); err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{ts.URL + "/targets", ts.URL + "/@rv-virt.citest", ts.URL + "/@arch.risc-v"} {
		if err := chromedp.Do(b, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
			t.Fatal(err)
		}
		if width := eval(`[document.documentElement.clientWidth, document.scrollingElement.scrollWidth].join(" ")`); width != "400 400" {
			t.Errorf("%s at 400 px: viewport and page width %v, want no sideways scroll", page, width)
		}
	}
}

// wordBreaks is JavaScript that lists the places where the elements
// matching the selector in sel wrap a line other than after one of the
// characters in allowed (or a space): "TEXT breaks after PREFIX", one a
// line; "" when every line ends where it may.
const wordBreaks = `((sel, allowed) => { const bad = [];
	for (const el of document.querySelectorAll(sel)) {
		const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
		let top = null, prev = "", text = "";
		for (let n = walk.nextNode(); n; n = walk.nextNode()) {
			for (let i = 0; i < n.length; i++) {
				const r = document.createRange(); r.setStart(n, i); r.setEnd(n, i + 1);
				const box = r.getClientRects()[0];
				if (!box) continue;
				if (top !== null && box.top > top + 2 && !(allowed + " ").includes(prev)) bad.push(el.textContent + " breaks after " + text);
				top = box.top; prev = n.data[i]; text += n.data[i];
			}
		}
	}
	return bad.join("\n"); })`

// TestDirectoryWrapsWholeWords: at 1000, 600 and 400 px the directory's
// column headers ("Followers") and kinds ("Architecture") keep their
// words whole, its handles wrap only after a ".", "-" or "@", and one
// click still selects a handle whole (the <wbr> in it copy as nothing).
func TestDirectoryWrapsWholeWords(t *testing.T) {
	t.Parallel()
	ts := directoryServer(t)
	ts.seeTargets(t, store.CatalogTarget{Target: "esp32s3-devkitc-longboard:knsh_sdmmc", Board: "esp32s3-devkitc-longboard", Config: "knsh_sdmmc", Arch: "xtensa-longarchitecture"})
	b := browser(t)
	eval := evaluator(t, b)
	for _, width := range []int64{1000, 600, 400} {
		if err := chromedp.Do(b, chromedp.EmulateViewport(width, 900), chromedp.Navigate(ts.URL+"/targets"), chromedp.WaitVisible(chromedp.CSS("table.directory"))); err != nil {
			t.Fatal(err)
		}
		if bad := eval(wordBreaks + `("table.directory thead th, table.directory th .kind", "")`); bad != "" {
			t.Errorf("at %d px a header or kind breaks inside a word:\n%s", width, bad)
		}
		if bad := eval(wordBreaks + `("code.copy-handle", ".-@")`); bad != "" {
			t.Errorf("at %d px a handle breaks inside a word:\n%s", width, bad)
		}
		if got := eval(`[document.documentElement.clientWidth, document.scrollingElement.scrollWidth].join(" ")`); got != fmt.Sprintf("%d %d", width, width) {
			t.Errorf("at %d px: viewport and page width %v", width, got)
		}
	}
	handle := "@esp32s3-devkitc-longboard.knsh_sdmmc@127.0.0.1"
	sel := `code.copy-handle`
	if err := chromedp.Do(b, chromedp.Navigate(ts.URL+"/targets?q=knsh_sdmmc"), chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatal(err)
	}
	if got := eval(`window.getSelection().toString()`); got != handle {
		t.Errorf("a click on the handle selects %q, want %q", got, handle)
	}
}
