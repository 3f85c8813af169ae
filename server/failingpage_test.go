package server

import (
	"fmt"
	"html/template"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/nuttx-feed/nuttx-feed/feed"
	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/natsort"
	"github.com/nuttx-feed/nuttx-feed/internal/promtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/web"
)

// failingNames lists the targets of the failing table's rows on doc.
func failingNames(doc *goquery.Document) []string {
	var names []string
	doc.Find("section.failing table.targets tbody tr a.target").Each(func(_ int, a *goquery.Selection) {
		names = append(names, a.Text())
	})
	return names
}

// failingView is the directory's view of the targets failing now.
const failingView = "/targets?kind=target&state=failing"

// TestFailingPagePages: with 212 targets failing, the directory's view of
// the failing targets lists them all over three pages of at most 100, in
// natural order, each row linking the target's page, its build log,
// history and thread, with its build hosts and for how long it has
// failed; the pages link each other. The profile counts all 212 in its
// heading, lists the first 50 (the first rows of the view) and links the
// 162 more to it. Pages past the last answer 404, and a page that is not
// a number 400.
func TestFailingPagePages(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.HistoryURLTemplate = feed.DefaultHistoryTemplate })
	var want []string
	for i := range 212 {
		board := fmt.Sprintf("board%d", i)
		ts.failTarget(t, board, "nsh", "hostA", fmt.Sprintf("%040d", i), "error")
		want = append(want, board+":nsh")
	}
	slices.SortFunc(want, natsort.Compare)

	var got []string
	url, pages := ts.URL+failingView, 0
	for url != "" {
		doc := getPage(t, url, http.StatusOK)
		pages++
		if h := doc.Find("section.failing h2").Text(); h != "Failing now (212)" {
			t.Errorf("%s: heading %q", url, h)
		}
		names := failingNames(doc)
		if len(names) > directoryPageRows {
			t.Errorf("%s lists %d targets", url, len(names))
		}
		first := len(got) + 1
		if r := doc.Find("p.range").Text(); !strings.HasPrefix(r, fmt.Sprintf("Accounts %d to %d of 212", first, len(got)+len(names))) {
			t.Errorf("%s: range %q", url, r)
		}
		got = append(got, names...)
		if prev := doc.Find(`nav.pages a[rel="prev"]`).AttrOr("href", ""); pages > 1 && prev == "" || pages == 1 && prev != "" {
			t.Errorf("page %d links back to %q", pages, prev)
		}
		url = doc.Find(`nav.pages a[rel="next"]`).AttrOr("href", "")
		if pages == 1 {
			checkFailingRow(t, ts, doc.Find("section.failing tbody tr").First(), want[0])
		}
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Errorf("%d pages list %d targets:\n%q\nwant\n%q", pages, len(got), got, want)
	}
	if got := getPage(t, ts.URL+failingView+"&page=2", http.StatusOK).Find(`nav.pages a[rel="prev"]`).AttrOr("href", ""); got != ts.URL+failingView {
		t.Errorf("page 2 links back to %q", got)
	}

	profile := getPage(t, ts.URL+"/@nuttx_build", http.StatusOK)
	if h := profile.Find("section.failing h2").Text(); h != "Failing now (212)" {
		t.Errorf("the profile's heading %q", h)
	}
	if names := failingNames(profile); !slices.Equal(names, want[:failingRows]) {
		t.Errorf("the profile lists %q", names)
	}
	more := profile.Find("section.failing p.more")
	if more.Text() != "And 162 more failing targets." || more.Find("a").AttrOr("href", "") != ts.URL+failingView {
		t.Errorf("the profile's more: %q linking %q", more.Text(), more.Find("a").AttrOr("href", ""))
	}

	for q, status := range map[string]int{"4": http.StatusNotFound, "0": http.StatusBadRequest, "x": http.StatusBadRequest, "-1": http.StatusBadRequest} {
		doc := getPage(t, ts.URL+failingView+"&page="+q, status)
		if msg := doc.Find("main p").First().Text(); status == http.StatusBadRequest && !strings.Contains(msg, "page must be a number from 1") ||
			status == http.StatusNotFound && !strings.Contains(msg, "no page 4 of the directory: 212 accounts found, on 3 pages") {
			t.Errorf("page=%s: %q", q, msg)
		}
	}
}

// checkFailingRow checks a row of the failing targets: target, arch,
// handle, since and for how long, hosts and links, and no error excerpt.
func checkFailingRow(t *testing.T, ts *testServer, row *goquery.Selection, target string) {
	t.Helper()
	board, config, _ := strings.Cut(target, ":")
	if got := row.Find("a.target").AttrOr("href", ""); got != ts.URL+"/targets/"+target {
		t.Errorf("target link %q", got)
	}
	if got := row.Find("th .arch").Text(); got != "risc-v" {
		t.Errorf("arch %q", got)
	}
	if got, want := row.Find("code.copy-handle").Text(), "@"+board+"."+config+"@127.0.0.1"; got != want {
		t.Errorf("handle %q, want %q", got, want)
	}
	if got := row.Find("span.hosts").Text(); got != "hostA" {
		t.Errorf("hosts %q", got)
	}
	if got := row.Find("span.for").Text(); !strings.HasPrefix(got, "for ") {
		t.Errorf("failing for %q", got)
	}
	if _, err := time.Parse(time.RFC3339, row.Find("time").AttrOr("datetime", "")); err != nil {
		t.Errorf("since: %v", err)
	}
	hist := "https://nuttx-dashboard.org/d/fe2q876wubc3kc/nuttx-build-history?var-board=" + board + "&var-config=" + config
	for sel, ok := range map[string]func(string) bool{
		"a.log":     func(h string) bool { return strings.HasPrefix(h, "https://logs.example/") },
		"a.history": func(h string) bool { return h == hist },
		"a.thread":  func(h string) bool { return strings.HasPrefix(h, ts.URL+"/@nuttx_build/") },
	} {
		if h := row.Find(sel).AttrOr("href", ""); !ok(h) {
			t.Errorf("%s links %q", sel, h)
		}
	}
	if row.Find("pre").Length() != 0 {
		t.Error("a row of /targets shows an excerpt")
	}
}

// TestFailingPageWorstCase: 150 targets failing with the longest names,
// three long build hosts each and long log links (a third of them of
// 2 KB) make pages of the directory (the failing targets, and all its
// accounts) each under 100 KB and accessible, which together list every
// target once, in order.
func TestFailingPageWorstCase(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.HistoryURLTemplate = feed.DefaultHistoryTemplate })
	var want []string
	for i := range 150 {
		hash := fmt.Sprintf("%0256d", i) // a log link of 277 bytes (failTarget's https://logs.example/HASH)
		if i%3 == 0 {
			hash = fmt.Sprintf("%0*d", maxURLBytes-len("https://logs.example/"), i)
		}
		for h := range 3 {
			ts.failTarget(t, fmt.Sprint(longBoard, i), longConfig, fmt.Sprint("a-rather-long-build-host-name-", h), hash[:len(hash)-1]+fmt.Sprint(h), "error")
		}
		want = append(want, fmt.Sprint(longBoard, i, ":", longConfig))
	}
	slices.SortFunc(want, natsort.Compare)
	var got []string
	pages := followPages(t, ts.URL+failingView, `nav.pages a[rel="next"]`, func(url string, doc *goquery.Document, size int) {
		names := failingNames(doc)
		if size >= maxPageBytes || len(names) == 0 {
			t.Errorf("%s: %d bytes, %d targets", url, size, len(names))
		}
		t.Logf("%s: %d targets, %d bytes", url, len(names), size)
		got = append(got, names...)
		checkAccessible(t, url, doc)
	})
	if !slices.Equal(got, want) || pages < 2 {
		t.Errorf("%d pages list\n%q\nwant\n%q", pages, got, want)
	}
	accounts := 0 // the whole directory: 150 boards, then 150 targets
	followPages(t, ts.URL+"/targets", `nav.pages a[rel="next"]`, func(url string, doc *goquery.Document, size int) {
		rows := doc.Find("table.directory tbody tr").Length()
		if size >= maxPageBytes || rows == 0 {
			t.Errorf("%s: %d bytes, %d accounts", url, size, rows)
		}
		accounts += rows
		checkAccessible(t, url, doc)
	})
	if accounts != 301 { // and risc-v
		t.Errorf("the directory lists %d accounts, want 301", accounts)
	}
}

// closedPortURL is an http URL of a loopback port nothing listens on:
// a Prometheus that never answers.
func closedPortURL(t *testing.T) string {
	t.Helper()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer closed.Close()
	return "http://" + closed.Addr().String()
}

// feedStatusText is what the failing section of a page says of the feed.
func feedStatusText(t *testing.T, url string) (status, none string) {
	t.Helper()
	doc := getPage(t, url, http.StatusOK)
	return doc.Find("section.failing p.feed-status").Text(), doc.Find("section.failing p.none").Text()
}

// TestFailingFeedStatus: the profile's failing section and /targets say
// how current their list is. With no Prometheus URL, that the feed is
// off; with a Prometheus that never answers (a closed port), that the
// feed has not reached it since the server started; with a real one, as
// of its last poll and, nothing failing, "Nothing is failing."; then it
// lists a failure pushed to it, and once Prometheus stops and the clock
// passes three poll intervals and the longest backoff, says that the
// feed has not reached it since that poll. Only a fresh list says
// "Nothing is failing.".
func TestFailingFeedStatus(t *testing.T) {
	t.Parallel()
	stack := promtest.Start(t)
	dead := closedPortURL(t)

	check := func(t *testing.T, ts *testServer, wantStatus, wantNone string) {
		t.Helper()
		for _, url := range []string{ts.URL + "/@nuttx_build", ts.URL + failingView} {
			status, none := feedStatusText(t, url)
			if !strings.Contains(status, wantStatus) || none != wantNone {
				t.Errorf("%s: %q, %q; want %q, %q", url, status, none, wantStatus, wantNone)
			}
		}
	}
	const notRecorded = "No target is recorded as failing."
	utc := func(t time.Time) string { return t.UTC().Format("2 Jan 15:04 UTC") }

	t.Run("off", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t)
		check(t, ts, "The build feed is off on this server (no Prometheus URL is set)", notRecorded)
	})
	t.Run("dead from the start", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, func(c *Config) { c.PrometheusURL, c.PollInterval = dead, 100*time.Millisecond })
		eventually.True(t, 10*time.Second, "a failed poll in the log", func() bool { return strings.Contains(ts.logs.String(), "feed: poll failed") })
		check(t, ts, "The build feed has not reached Prometheus since this server started at "+utc(ts.started)+": this list may be out of date.", notRecorded)
	})
	t.Run("live, then stopped", func(t *testing.T) {
		clock := &testClock{}
		ln := listen(t)
		cfg := startConfig(t, ln)
		cfg.PrometheusURL, cfg.PollInterval, cfg.Query = stack.PromURL, 100*time.Millisecond, "build_score < 0.5"
		ts := startWith(t, cfg, ln, withClock(clock.now))
		eventually.True(t, 30*time.Second, "a successful poll", func() bool { return !ts.feed.LastSuccess().IsZero() })
		check(t, ts, "As of the last poll of Prometheus, ", "Nothing is failing.")
		stack.Push(t, promtest.Labels{"user": "nuttxpr", "target": "rv-virt:citest", "board": "rv-virt", "config": "citest", "arch": "risc-v",
			"nuttx_hash": "0481533", "url": "https://gist.github.com/nuttxpr/1"}, 0)
		eventually.True(t, 30*time.Second, "the failure on /targets", func() bool {
			return slices.Equal(failingNames(getPage(t, ts.URL+failingView, http.StatusOK)), []string{"rv-virt:citest"})
		})
		check(t, ts, "As of the last poll of Prometheus, ", "")
		stack.StopPrometheus()
		clock.advance(ts.feed.StaleAfter() + time.Second)
		last := ts.feed.LastSuccess() // the feed may have polled once more before the stop
		check(t, ts, "The build feed has not reached Prometheus since "+utc(last)+": this list may be out of date.", "")
	})
}

// TestFailingPageHostileLabels: names of '+' (written "&#43;", 5 bytes
// each) and log links of "é" (written %C3%A9, 3 bytes a byte) keep
// /targets and the profile's failing table under 100 KB: their budgets
// count what the page writes, not the raw or html.EscapeString length
// (review 540d48c, 202d95f).
func TestFailingPageHostileLabels(t *testing.T) {
	t.Parallel()
	for name, mk := range map[string]func(i int) (board, hash string){
		"log links of é": func(i int) (string, string) { return fmt.Sprint("board", i), fmt.Sprint(i) + strings.Repeat("é", 700) },
		"names of +":     func(i int) (string, string) { return fmt.Sprint("b", i, strings.Repeat("+", 700)), fmt.Sprint(i) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, func(c *Config) { c.HistoryURLTemplate = feed.DefaultHistoryTemplate })
			for i := range 100 {
				board, hash := mk(i)
				ts.failTarget(t, board, "nsh", "host", hash, "error")
			}
			profile, size := fetchPage(t, ts.site.Profile("nuttx_build"), 200)
			if size >= maxPageBytes {
				t.Errorf("profile: %d bytes, want under %d", size, maxPageBytes)
			}
			rows := len(failingNames(profile))
			more := profile.Find("section.failing p.more a").Text()
			if rows == 0 || more != fmt.Sprintf("%d more failing targets", 100-rows) {
				t.Errorf("profile: %d rows, then %q", rows, more)
			}
			seen := 0
			followPages(t, ts.URL+failingView, `nav.pages a[rel="next"]`, func(url string, doc *goquery.Document, size int) {
				seen += len(failingNames(doc))
				if size >= maxPageBytes {
					t.Errorf("%s: %d bytes, want under %d", url, size, maxPageBytes)
				}
			})
			if seen != 100 {
				t.Errorf("/targets lists %d targets, want 100", seen)
			}
		})
	}
}

// TestFailingPageAtomAlternate: /targets advertises the bot's Atom feed
// as its alternate, not "#ZgotmplZ" (the feed's status once shadowed
// Page.Feed; review rv2).
func TestFailingPageAtomAlternate(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.failTarget(t, "board1", "nsh", "hostA", strings.Repeat("1", 40), "error")
	doc := getPage(t, ts.URL+"/targets", http.StatusOK)
	alt := doc.Find(`link[rel="alternate"][type="application/atom+xml"]`)
	if href := alt.AttrOr("href", ""); alt.Length() != 1 || href != ts.site.ProfileFeed("nuttx_build") {
		t.Errorf("/targets: %d Atom alternates, href %q", alt.Length(), href)
	}
}

// TestEscapedBytes: web.TextBytes and web.URLBytes bound what html/template
// writes of each byte, as text and as a link.
func TestEscapedBytes(t *testing.T) {
	t.Parallel()
	page := template.Must(template.New("").Parse(`<p>{{.}}</p><a href="https://h/{{.}}">`))
	text := template.Must(template.New("").Parse(`<p>{{.}}</p>`))
	for _, s := range append(byteStrings(), "é", "😀", "a b", "x+y&z", `"'<>`) {
		var all, txt strings.Builder
		if err := page.Execute(&all, s); err != nil {
			t.Fatal(err)
		}
		if err := text.Execute(&txt, s); err != nil {
			t.Fatal(err)
		}
		gotText := txt.Len() - len("<p></p>")
		gotURL := all.Len() - txt.Len() - len(`<a href="https://h/">`)
		if web.TextBytes(s) < gotText || web.URLBytes(s) < gotURL {
			t.Errorf("%q: text %d, counted %d; link %d, counted %d", s, gotText, web.TextBytes(s), gotURL, web.URLBytes(s))
		}
	}
}

// byteStrings is every byte, each alone.
func byteStrings() []string {
	out := make([]string, 256)
	for b := range out {
		out[b] = string([]byte{byte(b)})
	}
	return out
}

// TestFailingRowCostBounds: a failing row of the profile's table costs at
// least the bytes the page writes of it (with its excerpt), and a row of
// the directory, of any kind, at least what /targets writes of it
// (directoryRowCost), for plain and hostile labels and handles.
func TestFailingRowCostBounds(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.HistoryURLTemplate = feed.DefaultHistoryTemplate })
	ts.failTarget(t, "b", "c", "h", "1", "e")
	ts.failTarget(t, "d+&'\"<>", "c é", "h+&<'", "2 é%", "x+y\n  <&>'\"")
	var rows []web.FailingRow
	var entries []web.DirectoryRow
	err := ts.store.View(t.Context(), func(tx *store.Tx) error {
		table, err := ts.failingTable(tx)
		if err != nil {
			return err
		}
		rows = table.Rows
		entries, err = ts.directoryRows(tx, store.DirectoryFilter{}, tx.Now)
		return err
	})
	if err != nil || len(rows) != 2 || len(entries) != 5 { // 2 targets, their 2 boards and risc-v
		t.Fatalf("%d rows, %d entries: %v", len(rows), len(entries), err)
	}
	written := func(page string, start string) []int {
		_, body := get(t, page, "text/html")
		var out []int
		for _, tr := range strings.Split(string(body), start)[1:] {
			out = append(out, len(start)+strings.Index(tr, "</tr>")+len("</tr>\n"))
		}
		return out
	}
	profile := written(ts.URL+"/@nuttx_build", "<tr>")[1:] // after the head's
	for i, r := range rows {
		if counted := failingRowContent(r) + web.TextBytes(r.Excerpt) + failingTableRowMarkup; profile[i] > counted {
			t.Errorf("profile: row of %q writes %d bytes, counted %d", r.Target, profile[i], counted)
		}
	}
	directory := written(ts.URL+"/targets", "<tr class=")
	if len(directory) != len(entries) {
		t.Fatalf("/targets writes %d rows, want %d", len(directory), len(entries))
	}
	for i, r := range entries {
		counted := directoryRowCost(r)
		if directory[i] > counted {
			t.Errorf("/targets: row of %q writes %d bytes, counted %d", r.Label, directory[i], counted)
		}
		t.Logf("/targets: row of %q writes %d bytes, counted %d", r.Label, directory[i], counted)
	}
}
