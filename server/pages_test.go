package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/feed"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// getPage fetches url as a browser does, checks that it is an HTML page
// with status want, and parses it.
func getPage(t *testing.T, url string, want int) *goquery.Document {
	t.Helper()
	doc, _ := fetchPage(t, url, want)
	return doc
}

// attr returns the attribute name of the first element sel finds, and
// fails the test when there is none.
func attr(t *testing.T, doc *goquery.Document, sel, name string) string {
	t.Helper()
	v, ok := doc.Find(sel).First().Attr(name)
	if !ok {
		t.Errorf("no %s with %s", sel, name)
	}
	return v
}

// TestProfilePageLinksAssetsByPath: the profile page links its stylesheet,
// icon and avatar by path, so it is styled by whatever name it was opened;
// canonical and og:image stay absolute; it links its Atom feed; and the
// stylesheet it links is served.
func TestProfilePageLinksAssetsByPath(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	doc := getPage(t, ts.URL+"/@nuttx_build", http.StatusOK)
	for sel, want := range map[string]string{
		`link[rel="stylesheet"]`: "/static/style.css",
		`link[rel="icon"]`:       "/static/avatar.png",
		`header.profile img`:     "/static/avatar.png",
	} {
		name := "href"
		if strings.HasSuffix(sel, "img") {
			name = "src"
		}
		if got := attr(t, doc, sel, name); got != want {
			t.Errorf("%s %s = %q, want %q", sel, name, got, want)
		}
	}
	for sel, want := range map[string][2]string{
		`link[rel="canonical"]`:                              {"href", ts.URL + "/@nuttx_build"},
		`meta[property="og:image"]`:                          {"content", ts.URL + "/static/avatar.png"},
		`link[rel="alternate"][type="application/atom+xml"]`: {"href", ts.URL + "/@nuttx_build.atom"},
	} {
		if got := attr(t, doc, sel, want[0]); got != want[1] {
			t.Errorf("%s %s = %q, want %q", sel, want[0], got, want[1])
		}
	}
	resp, _ := get(t, ts.URL+"/static/style.css", "text/css")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("the stylesheet: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// publishFailure publishes the post the feed writes for b.
func (ts *testServer) publishFailure(t *testing.T, b feed.Build) *store.Note {
	t.Helper()
	f := feed.Formatter{DashboardURL: feed.DefaultDashboardURL, HistoryTemplate: feed.DefaultHistoryTemplate, MaxChars: 500}
	n, err := ts.publishPost(t, activitypub.Post{Content: f.Failure(b, false)})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCompilerOutputKeepsIndentation: a failure post shows its compiler
// output in <pre><code>, lines and indentation intact, escaped, on the
// note's page and in the note served to the Fediverse.
func TestCompilerOutputKeepsIndentation(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	n := ts.publishFailure(t, feed.Build{Target: "rv-virt:citest", Board: "rv-virt", Config: "citest", Arch: "risc-v", User: "nuttxpr",
		Msg: "chip/a.c:346:14: error: cast <x> \n   346 |   return (uintptr_t)addr;\n       |          ^"})
	want := "chip/a.c:346:14: error: cast <x>\n  346 |   return (uintptr_t)addr;\n      |          ^"
	doc := getPage(t, ts.URL+"/@nuttx_build/"+n.PublicID, http.StatusOK)
	code := doc.Find("article.note.focus .content pre > code")
	if code.Length() != 1 || code.Text() != want {
		t.Errorf("the note page's code block (%d found) reads %q, want %q", code.Length(), code.Text(), want)
	}
	note := getJSON(t, ts.svc.NoteIRI(n))
	if c, _ := note["content"].(string); !strings.Contains(c, "<pre><code>chip/a.c:346:14: error: cast &lt;x&gt;\n  346 |") {
		t.Errorf("the federated note's content %q lacks the code block", c)
	}
	if !strings.Contains(n.Source, "\n\n"+want+"\n\n#NuttX") {
		t.Errorf("the plain text %q lacks the output as it was", n.Source)
	}
}

// TestTagPageHasHeaderAndWayBack: the tag page shows the bot's profile
// header and links back to its profile.
func TestTagPageHasHeaderAndWayBack(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.publish(t, "rv-virt:citest broke #NuttX")
	doc := getPage(t, ts.URL+"/tags/nuttx", http.StatusOK)
	profile := ts.URL + "/@nuttx_build"
	if got := attr(t, doc, "header.profile h1 a", "href"); got != profile {
		t.Errorf("header links to %q, want %q", got, profile)
	}
	if got := attr(t, doc, "a.back", "href"); got != profile {
		t.Errorf("the way back leads to %q, want %q", got, profile)
	}
	if n := doc.Find("article.note").Length(); n != 1 || !strings.Contains(doc.Find("h2").First().Text(), "#nuttx") {
		t.Errorf("%d notes under %q", n, doc.Find("h2").First().Text())
	}
	if got := attr(t, doc, `link[rel="stylesheet"]`, "href"); got != "/static/style.css" {
		t.Errorf("stylesheet %q", got)
	}
}
