package server

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/handles"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/web"
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
	maxHashBytes  = 100      // a commit hash as the feed keeps it (feed.maxNameLabel)
	storedReplies = 200      // remote replies in the worst thread (store's former page cap)
	longBoard     = "esp32s3-devkit-with-a-very-long-board-name-as-some-vendors-write-them"
	longConfig    = "some_rather_long_configuration_name_nsh"
)

// longestPost publishes the longest post the bot may publish: a hashtag,
// then lines of compiler output with the word "overflow" (for the search)
// and long runs of escaped punctuation (the search's excerpts must stay
// short). It finds the length once, by halving, and returns the note.
func (ts *testServer) longestPost(t *testing.T, chars *int, inReplyTo, prefix string) *store.Note {
	t.Helper()
	return ts.longestPostAs(t, "nuttx_build", chars, inReplyTo, prefix)
}

// longestPostAs is longestPost published as the local actor username.
func (ts *testServer) longestPostAs(t *testing.T, username string, chars *int, inReplyTo, prefix string) *store.Note {
	t.Helper()
	text := func(n int) string {
		line := "arch/xtensa/src/esp32s3/esp32s3_spiflash.c:1234:5: error: stack overflow in a long line of output\n" + strings.Repeat("<~", 1500) + "^\n"
		body := strings.Repeat(line, n/len(line)+1)[:n]
		return prefix + " #NuttX\n" + body
	}
	publish := func(n int) (note *store.Note, err error) {
		err = ts.store.Update(t.Context(), func(tx *store.Tx) error {
			note, err = ts.svc.Publish(tx, username, activitypub.Post{Content: richtext.Parse(text(n)), InReplyTo: inReplyTo})
			return err
		})
		return note, err
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
	// Compiler output quoting C full of "&&" and "<": escaped, it is up to
	// five times longer on the page than in the database.
	longError := strings.Repeat("arch/xtensa/src/esp32s3/esp32s3_spiflash.c:1234:56: error: implicit declaration of function 'spiflash_x' [-Werror]\n"+
		"  1234 |     if (a && b && c && d && e && f && g && h && i && j && k && l && m && n && o && p && q && \"s\" < 'c') spiflash_x(&dev, <arg>);\n       |     ^~~~~~~~~~\n", 20)
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
	fs.saveRemoteReplies(t, storedReplies, fs.svc.NoteIRI(fs.thread))
	fs.saveRemoteReplies(t, store.MaxMentions+5, ts.site.Actor("nuttx_build")) // mentions of the bot
	fs.fillFeedAccounts(t, chars, longError)
	return fs
}

// fillFeedAccounts gives the feed accounts their worst case: rv-virt:citest
// with full lists of failures (long build hosts and errors, log links of
// 2 KB) and recoveries, its board rv-virt with more targets than its
// profile lists (the longest names a handle allows, each failing on long
// hosts with 2 KB log links), their architecture risc-v with all of
// those, and each account's actor with more of the longest posts, and
// mentions, than its profile's first page shows. Commit hashes are as
// long as the feed keeps them.
func (fs *fullSite) fillFeedAccounts(t *testing.T, chars int, longError string) {
	t.Helper()
	hash := func(i int) string { return fmt.Sprintf("%0*d", maxHashBytes, i) }
	longLog := func(i int) string {
		return fmt.Sprintf("https://logs.example/%0*d", maxURLBytes-len("https://logs.example/"), i)
	}
	for i := range 2 * accountPageLists.items {
		fs.failTargetLog(t, "rv-virt", "citest", fmt.Sprint(strings.Repeat("h", web.MaxHostBytes), i), hash(i), longLog(i), longError)
		if i%2 == 1 {
			fs.recoverTarget(t, "rv-virt:citest", strings.Repeat("r", web.MaxHostBytes), hash(i))
		}
	}
	fs.failTargetLog(t, "rv-virt", "citest", "h", hash(99), longLog(99), longError) // failing now
	config := strings.Repeat("c", handles.MaxLength-len("rv-virt.")-2)
	for i := range accountTargetRows + 10 {
		for h := range 3 {
			fs.failTargetLog(t, "rv-virt", fmt.Sprint(config, i), fmt.Sprint(strings.Repeat("h", web.MaxHostBytes-1), h), hash(1000*i+h), longLog(1000*i+h), "error")
		}
	}
	for name, kind := range map[string]string{"rv-virt.citest": store.KindTarget, "rv-virt": store.KindBoard, "arch.risc-v": store.KindArch} {
		fs.feedActor(t, name, kind)
		for i := range 5 {
			fs.longestPostAs(t, name, &chars, "", fmt.Sprint(name, " post ", i))
		}
		fs.saveRemoteReplies(t, store.MaxMentions+5, fs.site.Actor(name))
	}
}

// saveRemoteReplies stores n replies in thread (a note's, or an actor's
// for its mentions) as the inbox would after sanitizing them, each at the
// size limits: content, name, links.
func (fs *fullSite) saveRemoteReplies(t *testing.T, n int, thread string) {
	t.Helper()
	link := func(kind string, i int) string {
		u := fmt.Sprintf("https://remote.example/%s/%d/%x/", kind, i, sha256.Sum256([]byte(thread)))
		return u + strings.Repeat("x", maxURLBytes-len(u))
	}
	para := "<p>" + strings.Repeat("a reply that goes on ", maxReplyBytes/21) + "</p>"
	content := para[:maxReplyBytes-4] + "</p>"
	err := fs.store.Update(t.Context(), func(tx *store.Tx) error {
		for i := range n {
			r := &store.RemoteReply{NoteID: link("notes", i), InReplyTo: thread, Thread: thread,
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

// sitePage is a page to check: its URL, the status it answers with, and
// a key element (by selector) with a text it holds.
type sitePage struct {
	name, url string
	status    int
	key, text string
}

// pages lists one of every page of fs, error pages included.
func (fs *fullSite) pages() []sitePage {
	u := fs.URL
	note := func(n *store.Note) string { return fs.site.NoteURL(n.Username, n.PublicID) }
	return []sitePage{
		{"profile", u + "/@nuttx_build", http.StatusOK, "section.failing tbody tr:first-child a.target", longBoard + "0:" + longConfig},
		{"thread", note(fs.thread), http.StatusOK, "article.note.focus .content", "thread #NuttX"},
		{"deleted note", note(fs.deleted), http.StatusGone, "article.note.deleted.focus .content", "This post was deleted on"},
		{"tag", u + "/tags/nuttx", http.StatusOK, "main h2", "Posts tagged #nuttx"},
		{"target", u + "/targets/" + fs.target, http.StatusOK, "h2.target-name", fs.target},
		{"directory", u + "/targets", http.StatusOK, "table.directory tbody tr:first-child th", "risc-v"},
		{"failing targets", u + failingView, http.StatusOK, "section.failing tbody tr:first-child a.target", longBoard + "0:" + longConfig},
		{"directory search", u + "/targets?q=RV-VIRT.ci", http.StatusOK, "table.directory tbody tr:first-child code.copy-handle", "@rv-virt.citest@"},
		{"directory of a board", u + "/targets?of=rv-virt&state=failing", http.StatusOK, "p.of code.copy-handle", "@rv-virt@"},
		{"directory search without result", u + "/targets?q=%25nosuch_", http.StatusOK, "p.none", "No account matches."},
		{"directory past the last page", u + "/targets?page=99", http.StatusNotFound, "main p", "no page 99 of the directory"},
		{"bad directory page", u + "/targets?page=x", http.StatusBadRequest, "main p", "page must be a number from 1"},
		{"bad directory kind", u + "/targets?kind=bot", http.StatusBadRequest, "main p", "kind must be arch, board or target"},
		{"bad directory state", u + "/targets?state=ok", http.StatusBadRequest, "main p", "state must be failing"},
		{"bad directory of", u + "/targets?of=rv-virt.citest", http.StatusBadRequest, "main p", "of must be the handle of a board or an architecture"},
		{"too long a directory search", u + "/targets?q=" + strings.Repeat("x", maxDirectorySearch+1), http.StatusBadRequest, "main p", "q must be at most 100 characters"},
		{"target account", u + "/@rv-virt.citest", http.StatusOK, "section.account h2", "Target rv-virt:citest"},
		{"board account", u + "/@rv-virt", http.StatusOK, "section.account h2", "Board rv-virt"},
		{"architecture account", u + "/@arch.risc-v", http.StatusOK, "section.account h2", "Architecture risc-v"},
		{"search form", u + "/search", http.StatusOK, "main h2", "Search the posts"},
		{"search", u + "/search?q=overflow", http.StatusOK, "article.result:first-of-type pre.snippet mark", "overflow"},
		{"search without result", u + "/search?q=nosuchword", http.StatusOK, "main p", "No posts found."},
		{"search of punctuation", u + "/search?q=%21%21", http.StatusOK, "main p", "punctuation alone finds nothing"},
		{"remote follow refused", u + "/follow?server=" + url.QueryEscape("not a server"), http.StatusBadRequest, "main p", "your server's domain"},
		{"unknown user", u + "/@nobody", http.StatusNotFound, "main h1", "Not found"},
		{"unknown note", u + "/@nuttx_build/nosuchnote", http.StatusNotFound, "main h1", "Not found"},
		{"unknown target", u + "/targets/nope:nsh", http.StatusNotFound, "main p", `no build target "nope:nsh"`},
		{"bad cursor", u + "/@nuttx_build?max_id=x", http.StatusBadRequest, "main p", "max_id must be a number"},
		{"bad replies cursor", note(fs.thread) + "?replies_after=1-x-2", http.StatusBadRequest, "main p", "replies_after must be TIME-l-ID or TIME-r-ID"},
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

// TestEveryPage: with the database at its worst (the longest posts, 60
// failing targets with long names and errors, a thread of long notes with
// 200 remote replies of 16 KiB and long local ones), every page, error
// pages included, answers through the real router with its status, as
// HTML, with its key element; it is under 100 KB, and so is every page of
// the profile, the tag and the thread's replies (which show every reply
// once); and every one of them passes the accessibility rules.
func TestEveryPage(t *testing.T) {
	t.Parallel()
	fs := startFullSite(t)
	for _, p := range fs.pages() {
		doc, size := fetchPage(t, p.url, p.status)
		if got := doc.Find(p.key).First().Text(); !strings.Contains(got, p.text) {
			t.Errorf("%s: %s reads %q, want %q in it", p.name, p.key, got, p.text)
		}
		if size >= maxPageBytes {
			t.Errorf("%s (%s): %d bytes", p.name, p.url, size)
		}
		t.Logf("%s: %d bytes", p.name, size)
		checkAccessible(t, p.name, doc)
	}
	check := func(url string, doc *goquery.Document, size int) {
		if size >= maxPageBytes {
			t.Errorf("%s: %d bytes", url, size)
		}
		checkAccessible(t, url, doc)
	}
	if n := followPages(t, fs.URL+"/@nuttx_build", "nav.pages a:contains('Older')", check); n < 2 {
		t.Errorf("the profile has %d pages", n)
	}
	followPages(t, fs.URL+"/tags/nuttx", "nav.pages a:contains('Older')", check)
	for _, account := range []string{"rv-virt.citest", "rv-virt", "arch.risc-v"} {
		if n := followPages(t, fs.site.Profile(account), "nav.pages a:contains('Older')", check); n < 2 {
			t.Errorf("the profile of %s has %d pages", account, n)
		}
	}
	for _, view := range []string{"/targets", failingView, "/targets?of=arch.risc-v"} {
		if n := followPages(t, fs.URL+view, `nav.pages a[rel="next"]`, check); n < 2 {
			t.Errorf("%s has %d pages", view, n)
		}
	}
	var shown []string
	pages := followPages(t, fs.site.NoteURL(fs.thread.Username, fs.thread.PublicID), "p.more-replies a", func(url string, doc *goquery.Document, size int) {
		check(url, doc, size)
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

// vagueLinkText is link text that does not say where the link goes.
var vagueLinkText = map[string]bool{"here": true, "click here": true, "link": true, "this": true, "more": true, "read more": true}

// checkAccessible fails the test where page breaks a rule of the web
// face: a language, one h1, the header, nav, main and footer landmarks,
// alt text on every image (an avatar names whose it is), link text that
// says where it goes, and a label for every field and button.
func checkAccessible(t *testing.T, page string, doc *goquery.Document) {
	t.Helper()
	if lang := doc.Find("html").AttrOr("lang", ""); lang == "" {
		t.Errorf("%s: no lang attribute", page)
	}
	for sel, want := range map[string]int{"h1": 1, "main": 1, "body > header": 1, "body > header nav": 1, "body > footer": 1} {
		if n := doc.Find(sel).Length(); n != want {
			t.Errorf("%s: %d %s, want %d", page, n, sel, want)
		}
	}
	doc.Find("img").Each(func(_ int, img *goquery.Selection) {
		if _, ok := img.Attr("alt"); !ok {
			t.Errorf("%s: an image without alt text: %s", page, img.AttrOr("src", ""))
		}
	})
	avatars := map[string]string{"header.profile": "h1 a", "header.author": ".name"}
	for header, name := range avatars {
		doc.Find(header).Each(func(_ int, h *goquery.Selection) {
			alt := h.Find("img").AttrOr("alt", "")
			if h.Find("img").Length() > 0 && (alt == "" || !strings.Contains(alt, h.Find(name).Text())) {
				t.Errorf("%s: avatar alt %q does not name %q", page, alt, h.Find(name).Text())
			}
		})
	}
	doc.Find("a").Each(func(_ int, a *goquery.Selection) {
		text := strings.TrimSpace(a.Text())
		if label := a.AttrOr("aria-label", ""); text == "" && label == "" || vagueLinkText[strings.ToLower(text)] || a.AttrOr("href", "") == "" {
			t.Errorf("%s: link %q to %q says not where it goes", page, text, a.AttrOr("href", ""))
		}
	})
	doc.Find("input, select, textarea").Not("[type=hidden]").Each(func(_ int, in *goquery.Selection) {
		id := in.AttrOr("id", "")
		if id == "" || strings.TrimSpace(doc.Find(`label[for="`+id+`"]`).Text()) == "" {
			t.Errorf("%s: field %q (id %q) has no label", page, in.AttrOr("name", ""), id)
		}
	})
	doc.Find("button").Each(func(_ int, b *goquery.Selection) {
		if strings.TrimSpace(b.Text()) == "" && b.AttrOr("aria-label", "") == "" {
			t.Errorf("%s: a button without text", page)
		}
	})
}

// TestHomeRedirectsToProfile: / sends a browser to the bot's profile.
func TestHomeRedirectsToProfile(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	resp, _ := get(t, ts.URL+"/", "text/html")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != ts.URL+"/@nuttx_build" {
		t.Errorf("/: %d to %q, want 302 to the profile", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestThreadPageOrdersAndPagesReplies: a thread page shows our replies and
// the Fediverse's together in the order published; past its budget it
// links the next page, which links back to the first and shows the rest.
func TestThreadPageOrdersAndPagesReplies(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	root := ts.publish(t, "sim:nsh broke")
	iri := ts.svc.NoteIRI(root)
	remote := func(i int, content string) {
		t.Helper()
		err := ts.store.Update(t.Context(), func(tx *store.Tx) error {
			id := fmt.Sprint("https://remote.example/notes/", i)
			return tx.SaveRemoteReply(&store.RemoteReply{NoteID: id, InReplyTo: iri, Thread: iri, Author: "https://remote.example/users/alice",
				AuthorName: "Alice", AuthorHandle: "@alice@remote.example", AuthorURL: "https://remote.example/@alice", Content: content, URL: id,
				Published: time.Now()})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	local := func(text string) {
		t.Helper()
		if _, err := ts.publishPost(t, activitypub.Post{Content: richtext.Parse(text), InReplyTo: root.PublicID}); err != nil {
			t.Fatal(err)
		}
	}
	local("first, ours")
	time.Sleep(5 * time.Millisecond)
	remote(1, "<p>second, Alice's</p>")
	time.Sleep(5 * time.Millisecond)
	local("third, ours")
	long := "<p>" + strings.Repeat("long ", threadPageBudget/10+1000) + "</p>" // over half the budget: two do not share a page
	for i := 4; i <= 5; i++ {
		time.Sleep(5 * time.Millisecond)
		remote(i, long)
	}
	replies := func(doc *goquery.Document) string {
		var out []string
		doc.Find("h2#replies ~ article .content").Each(func(_ int, c *goquery.Selection) {
			out = append(out, strings.Fields(c.Text())[0])
		})
		return strings.Join(out, " ")
	}
	page := ts.site.NoteURL(root.Username, root.PublicID)
	doc := getPage(t, page, http.StatusOK)
	if got := replies(doc); got != "first, second, third, long" {
		t.Errorf("the first page shows %q", got)
	}
	if got := doc.Find("article.focus .meta span").Text(); got != "5 replies" {
		t.Errorf("the note counts %q, want every reply", got)
	}
	if doc.Find("p.first-replies").Length() != 0 {
		t.Error("the first page links the first page")
	}
	more := attr(t, doc, "p.more-replies a", "href")
	if !strings.HasPrefix(more, page+"?replies_after=") || !strings.HasSuffix(more, "#replies") {
		t.Fatalf("more replies at %q", more)
	}
	doc = getPage(t, strings.TrimSuffix(more, "#replies"), http.StatusOK)
	if got := replies(doc); got != "long" || doc.Find("p.more-replies").Length() != 0 {
		t.Errorf("the second page shows %q and links %d more", got, doc.Find("p.more-replies").Length())
	}
	if got := attr(t, doc, "p.first-replies a", "href"); got != page+"#replies" {
		t.Errorf("the way back to the first replies: %q", got)
	}
	for _, bad := range []string{"x", "1-r", "1-q-2", "-1-r-2", "1-r-x"} {
		getPage(t, page+"?replies_after="+bad, http.StatusBadRequest)
	}
}

// TestFitNotes: a list page keeps the notes that fit its budget, at least
// one: the newest going older (the rest its Older page), the oldest going
// newer (the rest its Newer page); a page that fits is left alone.
func TestFitNotes(t *testing.T) {
	t.Parallel()
	var notes []*store.Note // newest first, 1 KB each with the markup
	for i := 5; i >= 1; i-- {
		notes = append(notes, &store.Note{Seq: int64(i), Content: strings.Repeat("x", 1000-store.ReplyOverhead)})
	}
	seqs := func(p store.NotePage) string {
		var out []string
		for _, n := range p.Notes {
			out = append(out, fmt.Sprint(n.Seq))
		}
		return fmt.Sprintf("%s older=%v newer=%v", strings.Join(out, ","), p.Older, p.Newer)
	}
	for _, c := range []struct {
		asked  store.Page
		budget int
		want   string
	}{
		{store.Page{}, 10_000, "5,4,3,2,1 older=false newer=false"},
		{store.Page{}, 2_500, "5,4 older=true newer=false"},
		{store.Page{MaxID: 9}, 1, "5 older=true newer=false"},
		{store.Page{MinID: 0, FromOldest: true}, 3_000, "3,2,1 older=false newer=true"},
		{store.Page{MinID: 1, FromOldest: true}, 1, "1 older=false newer=true"},
	} {
		if got := seqs(fitNotes(store.NotePage{Notes: notes}, c.asked, c.budget)); got != c.want {
			t.Errorf("%+v in %d bytes: %s, want %s", c.asked, c.budget, got, c.want)
		}
	}
}
