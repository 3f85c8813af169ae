package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// TestSearchPage: through the real router, a search lists the matching
// post with its words in <mark>, a note's "<script>" comes out as text,
// an empty query shows the form alone, hostile FTS5 syntax is 200 and
// 10 KB of text is a clear 400.
func TestSearchPage(t *testing.T) {
	t.Parallel()
	ts := startSearchServer(t)
	ts.publish(t, "esp32c3-devkit:nsh broke: arch/risc-v/src/common/riscv_exit.c:42: error: implicit declaration <script>alert(1)</script>")
	ts.publish(t, "sim:nsh is fine")
	search := func(q string) string { return ts.URL + "/search?q=" + url.QueryEscape(q) }
	doc := getPage(t, search("riscv_exit.c"), http.StatusOK)
	if n := doc.Find("article.result").Length(); n != 1 {
		t.Fatalf("%d results, want 1", n)
	}
	if got := doc.Find("article.result pre.snippet mark").Text(); got != "riscv_exit.c" {
		t.Errorf("marked %q, want riscv_exit.c", got)
	}
	if got := doc.Find("article.result h3.title a").Text(); !strings.HasPrefix(got, "esp32c3-devkit:nsh broke: arch/risc-v") {
		t.Errorf("the result's title %q, want the post's first line", got)
	}
	if doc.Find("article.result script").Length() != 0 || !strings.Contains(doc.Find("pre.snippet").Text(), "<script>alert(1)</script>") {
		t.Errorf("the note's <script> is not shown as text: %q", doc.Find("pre.snippet").Text())
	}
	if got := attr(t, doc, "form.site-search input[name=q]", "value"); got != "riscv_exit.c" {
		t.Errorf("the form shows %q", got)
	}
	if got := attr(t, doc, "article.result .meta a", "href"); !strings.HasPrefix(got, ts.URL+"/@nuttx_build/") {
		t.Errorf("result links to %q", got)
	}
	doc = getPage(t, search("implicit declaration"), http.StatusOK)
	if got := doc.Find("mark").Length(); got != 2 {
		t.Errorf("implicit declaration: %d marks, want 2", got)
	}
	doc = getPage(t, ts.URL+"/search", http.StatusOK)
	if doc.Find("article.result").Length() != 0 || doc.Find("form.site-search").Length() != 1 {
		t.Errorf("the empty search page shows results or no form")
	}
	for _, q := range []string{`"`, `NEAR(sim nsh`, `*`, `^sim -x source:sim`, `(`} {
		doc = getPage(t, search(q), http.StatusOK)
		if q == `^sim -x source:sim` && doc.Find("article.result").Length() != 0 {
			t.Errorf("%q found posts: x and source are words no post holds", q)
		}
	}
	getPage(t, search(strings.Repeat(`"(*^:-NEAR `, 1024)), http.StatusBadRequest)
}

// TestSearchPageFindsStoredBuildErrors: a word that only the stored build
// error holds (its post cut the error to fit) finds the post, labelled with
// the target whose error matched and a link to the target's page.
func TestSearchPageFindsStoredBuildErrors(t *testing.T) {
	t.Parallel()
	ts := startSearchServer(t)
	msg := "riscv_exit.c:42: error: implicit declaration\n" + strings.Repeat("  | noise from the compiler\n", 40) + "ld: zzdeeplinker: undefined reference to `up_exit'"
	n := ts.failTarget(t, "esp32c3-devkit", "nsh", "nuttxpr", "deadbeef", msg)
	if strings.Contains(n.Source, "zzdeeplinker") {
		t.Fatal("the post holds the whole error: the test needs one cut to fit")
	}
	doc := getPage(t, ts.URL+"/search?q=zzdeeplinker", http.StatusOK)
	if got := doc.Find("article.result").Length(); got != 1 {
		t.Fatalf("%d results, want the failure's post", got)
	}
	if got := doc.Find("article.result pre.snippet mark").Text(); got != "zzdeeplinker" {
		t.Errorf("marked %q, want zzdeeplinker", got)
	}
	if got := attr(t, doc, "article.result .source a", "href"); got != ts.URL+"/targets/esp32c3-devkit:nsh" {
		t.Errorf("the result's target links to %q", got)
	}
	if got := attr(t, doc, "article.result .meta a", "href"); !strings.HasSuffix(got, "/"+n.PublicID) {
		t.Errorf("the result links to %q, want the post %s", got, n.PublicID)
	}
}

// TestSearchPageTooManyToRank: a word in more than a thousand posts shows
// the newest, and the page says why they are not ranked.
func TestSearchPageTooManyToRank(t *testing.T) {
	t.Parallel()
	ts := startSearchServer(t)
	err := ts.store.Update(t.Context(), func(tx *store.Tx) error {
		a, err := tx.Actor("nuttx_build")
		if err != nil {
			return err
		}
		for i := range 1001 {
			n := store.Note{PublicID: fmt.Sprintf("%032x", i), ActorID: a.ID, Content: "<p>x</p>", Source: fmt.Sprintf("board%d:nsh error", i), Published: tx.Now}
			if err := tx.InsertNote(&n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	doc := getPage(t, ts.URL+"/search?q=error", http.StatusOK)
	if got := doc.Find("article.result").Length(); got != store.MaxSearchResults {
		t.Errorf("%d results, want %d", got, store.MaxSearchResults)
	}
	if notice := doc.Find("p.notice").Text(); !strings.Contains(notice, "the newest first") {
		t.Errorf("notice %q, want it to say the newest are shown", notice)
	}
	if got := attr(t, doc, "article.result .meta a", "href"); !strings.HasSuffix(got, fmt.Sprintf("/%032x", 1000)) {
		t.Errorf("first result %q, want the newest post", got)
	}
	// The next page goes on where the first stopped, and leads back.
	next := attr(t, doc, "nav.pages a:contains('More results')", "href")
	doc = getPage(t, next, http.StatusOK)
	if got := attr(t, doc, "article.result .meta a", "href"); !strings.HasSuffix(got, fmt.Sprintf("/%032x", 950)) {
		t.Errorf("page 2 starts at %q, want the 51st newest post", got)
	}
	if doc.Find("nav.pages a:contains('Previous results')").Length() != 1 {
		t.Error("page 2 has no way back")
	}
	for _, bad := range []string{"0", "x", "21", "-1"} {
		getPage(t, ts.URL+"/search?q=error&page="+bad, http.StatusBadRequest)
	}
	// The last page: 1,001 posts make 21 pages, past the 20 a search pages.
	doc = getPage(t, ts.URL+"/search?q=error&page=20", http.StatusOK)
	if n := doc.Find("article.result").Length(); n != store.MaxSearchResults || doc.Find("nav.pages a:contains('More results')").Length() != 0 {
		t.Errorf("page 20: %d results and a next page %d; want 50 and none", n, doc.Find("nav.pages a:contains('More results')").Length())
	}
}

// TestSearchWhenBusy: with every search slot taken, a search waits its
// time and is answered 503 with a page saying so; the other pages answer
// meanwhile, and a slot freed serves the next search.
func TestSearchWhenBusy(t *testing.T) {
	t.Parallel()
	ln := listen(t)
	ts := startWith(t, startConfig(t, ln), ln, withSearchWait(300*time.Millisecond))
	ts.publish(t, "sim:nsh broke")
	for range searchSlots {
		ts.searches <- struct{}{}
	}
	doc := getPage(t, ts.URL+"/search?q=sim", http.StatusServiceUnavailable)
	if msg := doc.Find("main").Text(); !strings.Contains(msg, "Search is busy or took too long") {
		t.Errorf("busy search page says %q", msg)
	}
	getPage(t, ts.URL+"/@nuttx_build", http.StatusOK)
	getPage(t, ts.URL+"/search", http.StatusOK) // the form alone takes no slot
	<-ts.searches
	if n := getPage(t, ts.URL+"/search?q=sim", http.StatusOK).Find("article.result").Length(); n != 1 {
		t.Errorf("with a slot free: %d results, want 1", n)
	}
}

// TestSearchPageBoundWhenEscaped: 50 results whose excerpts are text that
// escaping makes five times longer ("&") stay under 100 KB. Each stored
// error (700 bytes) is longer than its excerpt (40 tokens, 280 bytes):
// longer ones change no excerpt and make the search slow under -race.
func TestSearchPageBoundWhenEscaped(t *testing.T) {
	t.Parallel()
	ts := startSearchServer(t)
	for i := range store.MaxSearchResults + 5 {
		ts.failTarget(t, fmt.Sprint("board", i), "nsh", "host", fmt.Sprint("hash", i), strings.Repeat("a&&&&&&", 100))
	}
	doc, size := fetchPage(t, ts.URL+"/search?q=a", http.StatusOK)
	if n := doc.Find("article.result").Length(); n != store.MaxSearchResults || size >= maxPageBytes {
		t.Errorf("search page: %d results in %d bytes, want %d under %d", n, size, store.MaxSearchResults, maxPageBytes)
	}
}

// startSearchServer is startServer with a search time limit far past
// searchTimeout: -race on a loaded machine makes searches many times
// slower than they are (TestSearchWhenBusy tests the limit).
func startSearchServer(t *testing.T) *testServer {
	t.Helper()
	ln := listen(t)
	return startWith(t, startConfig(t, ln), ln, withSearchWait(time.Minute))
}
