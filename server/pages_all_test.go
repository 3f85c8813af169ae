package server

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// The web face as a whole: every page through the real router, in the
// worst case the database allows, bounded and accessible.

// maxPageBytes is what no page may reach (issue 9: "Every page is under
// 100 KB").
const maxPageBytes = 100_000

// Worst-case sizes of what the database holds.
const (
	maxReplyBytes = 16 << 10 // a remote reply's content (activitypub.maxReplyContent)
	maxURLBytes   = 2048     // a remote reply's links (activitypub.maxLinkLength)
	maxNameChars  = 100      // a remote author's name (activitypub.maxAuthorName)
	storedReplies = 200      // remote replies in the worst thread (store's former page cap)
	longBoard     = "esp32s3-devkit-with-a-very-long-board-name-as-some-vendors-write-them"
	longConfig    = "some_rather_long_configuration_name_nsh"
)

// longestPost publishes the longest post the bot may publish, its words
// wrapped in lines of text with a hashtag and the word "overflow" (for
// the search); it finds the length once, by halving, and returns the note.
func (ts *testServer) longestPost(t *testing.T, chars *int, inReplyTo, prefix string) *store.Note {
	t.Helper()
	text := func(n int) string {
		line := "arch/xtensa/src/esp32s3/esp32s3_spiflash.c:1234:5: error: stack overflow in a long line of output\n"
		body := strings.Repeat(line, n/len(line)+1)[:n]
		return prefix + " #NuttX\n" + body
	}
	publish := func(n int) (*store.Note, error) {
		return ts.publishPost(t, activitypub.Post{Content: richtext.Parse(text(n)), InReplyTo: inReplyTo})
	}
	if *chars == 0 {
		lo, hi := 1000, 60_000 // lo is accepted, hi is not
		for hi-lo > 100 {
			mid := (lo + hi) / 2
			if _, err := publish(mid); errors.Is(err, activitypub.ErrInvalid) {
				hi = mid
			} else if err != nil {
				t.Fatal(err)
			} else {
				lo = mid
			}
		}
		*chars = lo - 200 // room for a longer prefix and a parent
	}
	n, err := publish(*chars)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// fullSite is a server whose database is filled with the worst case
// each page can meet, and the pages to look at.
type fullSite struct {
	*testServer
	thread  *store.Note // a long note answering a long one, with the most replies
	deleted *store.Note
	target  string
}

// startFullSite fills a server's database with the worst case: the
// longest posts (a thread of them, tagged, all matching one search),
// 60 failing targets with long names and errors, and a thread with 200
// remote replies of 16 KiB with the longest names and links, and long
// local replies among them.
func startFullSite(t *testing.T) *fullSite {
	t.Helper()
	ts := startServer(t)
	fs := &fullSite{testServer: ts, target: longBoard + "0:" + longConfig}
	longError := strings.Repeat("arch/xtensa/src/esp32s3/esp32s3_spiflash.c:1234:56: error: implicit declaration of function 'spiflash_x' [-Werror]\n  1234 |     spiflash_x(&dev, <arg>);\n       |     ^~~~~~~~~~\n", 20)
	for i := range failingRows + 10 {
		ts.failTarget(t, fmt.Sprint(longBoard, i), longConfig, "a-rather-long-build-host-name", fmt.Sprintf("%040d", i), longError)
	}
	for i := range targetListLimit + 10 { // the target page's lists are full
		ts.failTarget(t, longBoard+"0", longConfig, fmt.Sprint("another-long-build-host-name-", i), fmt.Sprintf("%039d1", i), longError)
	}
	chars := 0
	parent := ts.longestPost(t, &chars, "", "parent")
	fs.thread = ts.longestPost(t, &chars, ts.svc.NoteIRI(parent), "thread")
	for i := range store.PageSize + 30 {
		ts.longestPost(t, &chars, "", fmt.Sprint("post ", i))
	}
	fs.deleted = ts.longestPost(t, &chars, "", "deleted")
	if _, err := ts.svc.DeleteNote(t.Context(), ts.svc.NoteIRI(fs.deleted)); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		ts.longestPost(t, &chars, ts.svc.NoteIRI(fs.thread), fmt.Sprint("local reply ", i))
	}
	fs.saveRemoteReplies(t, storedReplies)
	return fs
}

// saveRemoteReplies stores n replies to fs.thread as the inbox would
// after sanitizing them, each at the size limits: content, name, links.
func (fs *fullSite) saveRemoteReplies(t *testing.T, n int) {
	t.Helper()
	link := func(kind string, i int) string {
		u := fmt.Sprintf("https://remote.example/%s/%d/", kind, i)
		return u + strings.Repeat("x", maxURLBytes-len(u))
	}
	para := "<p>" + strings.Repeat("a reply that goes on ", maxReplyBytes/21) + "</p>"
	content := para[:maxReplyBytes-4] + "</p>"
	err := fs.store.Update(t.Context(), func(tx *store.Tx) error {
		for i := range n {
			r := &store.RemoteReply{NoteID: link("notes", i), InReplyTo: fs.svc.NoteIRI(fs.thread), Thread: fs.svc.NoteIRI(fs.thread),
				Author: link("users", i), AuthorName: strings.Repeat("N", maxNameChars), AuthorHandle: "@" + strings.Repeat("u", 30) + "@remote.example",
				AuthorAvatar: link("avatars", i), AuthorURL: link("profiles", i), Content: content, URL: link("notes", i),
				Published: time.Date(2026, 11, 29, 10, 0, i, 0, time.UTC)}
			if err := tx.SaveRemoteReply(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sitePage is a page to check: its URL and the status it answers with.
type sitePage struct {
	name, url string
	status    int
}

// pages lists one of every page of fs, error pages included.
func (fs *fullSite) pages() []sitePage {
	u := fs.URL
	note := func(n *store.Note) string { return fs.site.NoteURL(n.Username, n.PublicID) }
	return []sitePage{
		{"profile", u + "/@nuttx_build", http.StatusOK},
		{"thread", note(fs.thread), http.StatusOK},
		{"deleted note", note(fs.deleted), http.StatusGone},
		{"tag", u + "/tags/nuttx", http.StatusOK},
		{"target", u + "/targets/" + fs.target, http.StatusOK},
		{"search form", u + "/search", http.StatusOK},
		{"search", u + "/search?q=overflow", http.StatusOK},
		{"search without result", u + "/search?q=nosuchword", http.StatusOK},
		{"search of punctuation", u + "/search?q=%21%21", http.StatusOK},
		{"remote follow refused", u + "/follow?server=" + url.QueryEscape("not a server"), http.StatusBadRequest},
		{"unknown user", u + "/@nobody", http.StatusNotFound},
		{"unknown note", u + "/@nuttx_build/nosuchnote", http.StatusNotFound},
		{"unknown target", u + "/targets/nope:nsh", http.StatusNotFound},
		{"bad cursor", u + "/@nuttx_build?max_id=x", http.StatusBadRequest},
	}
}

// fetchPage GETs url as a browser does and wants an HTML page with status
// want; it returns the page and its size.
func fetchPage(t *testing.T, url string, want int) (*goquery.Document, int) {
	t.Helper()
	resp, body := get(t, url, "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
	if resp.StatusCode != want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s: %d %s, want %d and an HTML page", url, resp.StatusCode, resp.Header.Get("Content-Type"), want)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return doc, len(body)
}

// followPages fetches url and every page its rel-next link (sel) leads to,
// and calls check on each; it returns how many there were.
func followPages(t *testing.T, url, sel string, check func(url string, doc *goquery.Document, size int)) int {
	t.Helper()
	n := 0
	for url != "" && n < 1000 {
		doc, size := fetchPage(t, url, http.StatusOK)
		check(url, doc, size)
		url = doc.Find(sel).AttrOr("href", "")
		n++
	}
	return n
}

// TestEveryPageStaysUnder100KB: with the database at its worst (the
// longest posts, 60 failing targets with long names and errors, a thread
// of long notes with 200 remote replies of 16 KiB and long local ones),
// every page and every page of the profile, the tag and the thread's
// replies is under 100 KB; the thread's pages show every reply once, in
// order.
func TestEveryPageStaysUnder100KB(t *testing.T) {
	t.Parallel()
	fs := startFullSite(t)
	for _, p := range fs.pages() {
		if _, size := fetchPage(t, p.url, p.status); size >= maxPageBytes {
			t.Errorf("%s (%s): %d bytes", p.name, p.url, size)
		} else {
			t.Logf("%s: %d bytes", p.name, size)
		}
	}
	under := func(url string, _ *goquery.Document, size int) {
		if size >= maxPageBytes {
			t.Errorf("%s: %d bytes", url, size)
		}
	}
	if n := followPages(t, fs.URL+"/@nuttx_build", "nav.pages a:contains('Older')", under); n < 2 {
		t.Errorf("the profile has %d pages", n)
	}
	followPages(t, fs.URL+"/tags/nuttx", "nav.pages a:contains('Older')", under)
	var shown []string
	pages := followPages(t, fs.site.NoteURL(fs.thread.Username, fs.thread.PublicID), "p.more-replies a", func(url string, doc *goquery.Document, size int) {
		under(url, doc, size)
		if doc.Find("article.note.focus").Length() != 1 {
			t.Errorf("%s does not show the note", url)
		}
		doc.Find("h2#replies ~ article").Each(func(_ int, a *goquery.Selection) { shown = append(shown, a.AttrOr("id", "")) })
	})
	if want := storedReplies + 5; len(shown) != want || pages < 2 {
		t.Errorf("the thread's %d pages show %d replies, want %d", pages, len(shown), want)
	}
	seen := map[string]bool{}
	for _, id := range shown {
		if seen[id] {
			t.Errorf("reply %s shown twice", id)
		}
		seen[id] = true
	}
}
