package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/nuttx-feed/nuttx-feed/feed"
	"github.com/nuttx-feed/nuttx-feed/internal/handles"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// directoryServer is a server whose catalog holds rv-virt:citest (failing
// on hostA), rv-virt:python and sim:nsh (never failed), x%y:nsh (no
// arch), with the actors of rv-virt.citest (two followers) and
// arch.risc-v (one follower), and a follower of the bot.
func directoryServer(t *testing.T) *testServer {
	t.Helper()
	ts := startServer(t, func(c *Config) { c.HistoryURLTemplate = feed.DefaultHistoryTemplate })
	ts.failTarget(t, "rv-virt", "citest", "hostA", strings.Repeat("1", 40), "error: x")
	ts.seeTargets(t, store.CatalogTarget{Target: "rv-virt:python", Board: "rv-virt", Config: "python", Arch: "risc-v"},
		store.CatalogTarget{Target: "sim:nsh", Board: "sim", Config: "nsh", Arch: "sim"},
		store.CatalogTarget{Target: "x%y:nsh", Board: "x%y", Config: "nsh"})
	ts.feedActor(t, "rv-virt.citest", store.KindTarget)
	ts.feedActor(t, "arch.risc-v", store.KindArch)
	ts.addFollowers(t, "rv-virt.citest", 2)
	ts.addFollowers(t, "arch.risc-v", 1)
	ts.addFollowers(t, "nuttx_build", 1)
	return ts
}

// seeTargets records targets in the catalog, as the feed does when it
// sees them in Prometheus.
func (ts *testServer) seeTargets(t *testing.T, targets ...store.CatalogTarget) {
	t.Helper()
	err := ts.store.Update(t.Context(), func(tx *store.Tx) error {
		_, err := tx.SeeTargets(targets)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// addFollowers stores n remote followers of the local actor username.
func (ts *testServer) addFollowers(t *testing.T, username string, n int) {
	t.Helper()
	if err := ts.store.Update(t.Context(), func(tx *store.Tx) error { return storetest.AddFollowers(tx, username, n) }); err != nil {
		t.Fatal(err)
	}
}

// directoryRowText writes a row of the directory in one line: its
// account (kind, label, arch, handle), followers, state and the links it
// has (by class).
func directoryRowText(tr *goquery.Selection) string {
	var links []string
	tr.Find("a").Each(func(_ int, a *goquery.Selection) { links = append(links, a.AttrOr("class", "")) })
	state := strings.Join(strings.Fields(tr.Find("td.state").Text()), " ")
	if tr.Find("td.state time").Length() > 0 { // a failing target: its time varies
		state = "failing since TIME on " + tr.Find("span.hosts").Text()
	}
	return fmt.Sprintf("%s | %s | %s | %s | %s", strings.Join(strings.Fields(tr.Find("th").Text()), " "), tr.Find("td.followers").Text(), state,
		strings.Join(links, " "), tr.Find("code.copy-handle").Text())
}

// directoryRows lists the directory's rows on doc as directoryRowText.
func directoryRows(doc *goquery.Document) []string {
	var rows []string
	doc.Find("table.directory tbody tr").Each(func(_ int, tr *goquery.Selection) { rows = append(rows, directoryRowText(tr)) })
	return rows
}

// checkDirectoryRows checks that doc, the directory as query asks it,
// lists the rows of all at the positions in picked, and returns those.
func checkDirectoryRows(t *testing.T, doc *goquery.Document, query string, all []string, picked []int) []string {
	t.Helper()
	var rows []string
	for _, i := range picked {
		rows = append(rows, all[i])
	}
	if got := directoryRows(doc); !slices.Equal(got, rows) {
		t.Errorf("%s lists\n%s\nwant\n%s", query, strings.Join(got, "\n"), strings.Join(rows, "\n"))
	}
	return rows
}

// TestDirectoryPage: /targets lists the architectures, then the boards,
// then the targets of the catalog, each with its handle to copy, its
// followers (of its actor; 0 without one, never the bot's), its state
// and its links: its profile, a board's or arch's targets, a target's
// history, and a failing target's page, build log and thread. The search
// keeps what holds q in its handle or label (% a character), the kind
// and state filters and "of" narrow it, the form shows what was asked,
// the firehose's profile links the directory, and the page keeps the CSP.
func TestDirectoryPage(t *testing.T) {
	t.Parallel()
	ts := directoryServer(t)
	resp, body := get(t, ts.URL+"/targets", "text/html")
	if got := resp.Header.Get("Content-Security-Policy"); got != contentSecurityPolicy {
		t.Errorf("CSP %q", got)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	host := "@127.0.0.1"
	want := []string{
		"Architecture risc-v @arch.risc-v" + host + " | 1 | 1 of 2 targets failing | profile targets-of | @arch.risc-v" + host,
		"Architecture sim @arch.sim" + host + " | 0 | ok: 1 target | profile targets-of | @arch.sim" + host,
		"Board rv-virt @rv-virt" + host + " | 0 | 1 of 2 targets failing | profile targets-of | @rv-virt" + host,
		"Board sim @sim" + host + " | 0 | ok: 1 target | profile targets-of | @sim" + host,
		"Board x%y @x_y" + host + " | 0 | ok: 1 target | profile targets-of | @x_y" + host,
		"Target rv-virt:citest risc-v @rv-virt.citest" + host + " | 2 | failing since TIME on hostA | target profile log history thread | @rv-virt.citest" + host,
		"Target rv-virt:python risc-v @rv-virt.python" + host + " | 0 | ok | profile history | @rv-virt.python" + host,
		"Target sim:nsh sim @sim.nsh" + host + " | 0 | ok | profile history | @sim.nsh" + host,
		"Target x%y:nsh @x_y.nsh" + host + " | 0 | ok | profile history | @x_y.nsh" + host,
	}
	if got := directoryRows(doc); !slices.Equal(got, want) {
		t.Errorf("/targets lists\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if h := doc.Find("section.directory h2").Text(); h != "Accounts (9)" {
		t.Errorf("heading %q", h)
	}
	citest := doc.Find("table.directory tr.target").First()
	for sel, href := range map[string]string{
		"a.target":  ts.URL + "/targets/rv-virt:citest",
		"a.profile": ts.URL + "/@rv-virt.citest",
		"a.log":     "https://logs.example/" + strings.Repeat("1", 40),
		"a.history": "https://nuttx-dashboard.org/d/fe2q876wubc3kc/nuttx-build-history?var-board=rv-virt&var-config=citest",
	} {
		if got := citest.Find(sel).AttrOr("href", ""); got != href {
			t.Errorf("rv-virt:citest's %s links %q, want %q", sel, got, href)
		}
	}
	if got := citest.Find("span.for").Text(); got != "for under a minute" {
		t.Errorf("rv-virt:citest failing %q", got)
	}
	if got := doc.Find("table.directory tr.board a.targets-of").First().AttrOr("href", ""); got != ts.URL+"/targets?of=rv-virt" {
		t.Errorf("rv-virt's targets at %q", got)
	}

	for _, c := range []struct {
		query string
		want  []int // rows of want
	}{
		{"q=RV-VIRT.", []int{5, 6}},
		{"q=X%25", []int{4, 8}},
		{"q=x_", []int{4, 8}},
		{"q=%5C", nil},
		{"kind=board", []int{2, 3, 4}},
		{"state=failing", []int{0, 2, 5}},
		{"kind=target&state=failing", []int{5}},
		{"of=arch.risc-v", []int{5, 6}},
		{"of=rv-virt&q=python", []int{6}},
	} {
		doc := getPage(t, ts.URL+"/targets?"+c.query, http.StatusOK)
		rows := checkDirectoryRows(t, doc, c.query, want, c.want)
		v, _ := url.ParseQuery(c.query)
		if q, kind, state := doc.Find("#dir-q").AttrOr("value", ""), doc.Find("#dir-kind option[selected]").AttrOr("value", ""),
			doc.Find("#dir-state option[selected]").AttrOr("value", ""); q != v.Get("q") || kind != v.Get("kind") || state != v.Get("state") {
			t.Errorf("%s: the form shows q %q, kind %q, state %q", c.query, q, kind, state)
		}
		if of := doc.Find(`form.directory-search input[name="of"]`).AttrOr("value", ""); of != v.Get("of") {
			t.Errorf("%s: the form keeps of=%q", c.query, of)
		}
		if len(rows) == 0 && doc.Find("p.none").Text() != "No account matches." {
			t.Errorf("%s: %q", c.query, doc.Find("p.none").Text())
		}
	}
	// The handles the directory shows to copy find their accounts, with
	// our host with or without its port, in any case.
	hostPort := strings.TrimPrefix(ts.URL, "http://")
	for _, c := range []struct {
		query string
		want  []int
	}{
		{"q=" + url.QueryEscape("@rv-virt.citest"+host), []int{5}},
		{"q=" + url.QueryEscape(" @RV-VIRT.CITEST@"+hostPort+" "), []int{5}},
		{"q=" + url.QueryEscape("@sim"), []int{1, 3, 7}},
		{"q=" + url.QueryEscape("@rv-virt.citest@elsewhere.example"), nil},
		{"of=" + url.QueryEscape("@arch.risc-v"+host), []int{5, 6}},
		{"of=" + url.QueryEscape("@rv-virt@"+hostPort), []int{5, 6}},
	} {
		checkDirectoryRows(t, getPage(t, ts.URL+"/targets?"+c.query, http.StatusOK), c.query, want, c.want)
	}
	if got := getPage(t, ts.URL+"/targets?of=arch.risc-v", http.StatusOK).Find("p.of").Text(); got != "The targets of @arch.risc-v"+host+" only; the whole directory." {
		t.Errorf("of: %q", got)
	}
	profile := getPage(t, ts.URL+"/@nuttx_build", http.StatusOK)
	if got := profile.Find("p.directory-link a").AttrOr("href", ""); got != ts.URL+"/targets" {
		t.Errorf("the firehose links the directory at %q", got)
	}
}

// TestDirectoryPaging: 150 targets searched make two pages whose links
// keep the search, the second linking back to the first; each page is
// the same for every reader.
func TestDirectoryPaging(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	var targets []store.CatalogTarget
	for i := range 150 {
		targets = append(targets, store.CatalogTarget{Target: fmt.Sprint("b", i, ":nsh"), Board: fmt.Sprint("b", i), Config: "nsh", Arch: "arm"})
	}
	ts.seeTargets(t, targets...)
	base := ts.URL + "/targets?kind=target&q=nsh"
	first := getPage(t, base, http.StatusOK)
	next := first.Find(`nav.pages a[rel="next"]`).AttrOr("href", "")
	if next != ts.URL+"/targets?kind=target&page=2&q=nsh" {
		t.Fatalf("next page %q", next)
	}
	second := getPage(t, next, http.StatusOK)
	got := append(directoryRows(first), directoryRows(second)...)
	if len(directoryRows(first)) != directoryPageRows || len(got) != 150 || !strings.HasPrefix(got[0], "Target b0:nsh") || !strings.HasPrefix(got[149], "Target b149:nsh") {
		t.Errorf("the pages list %d and %d rows: %q ... %q", len(directoryRows(first)), len(directoryRows(second)), got[0], got[len(got)-1])
	}
	if prev := second.Find(`nav.pages a[rel="prev"]`).AttrOr("href", ""); prev != base {
		t.Errorf("back to %q", prev)
	}
	if again := directoryRows(getPage(t, next, http.StatusOK)); !slices.Equal(again, directoryRows(second)) {
		t.Error("page 2 changed between two reads")
	}
}

// TestFeedAccountProfiles: the profile of a target's account shows its
// state, its latest failures and recoveries and links its target page;
// a board's or architecture's lists its targets failing first, says how
// many fail and links the directory of its targets; an account of a
// target that never failed says so. Each has the follow form and links
// the directory, under the pages' CSP.
func TestFeedAccountProfiles(t *testing.T) {
	t.Parallel()
	ts := directoryServer(t)
	ts.recoverTarget(t, "rv-virt:citest", "hostA", strings.Repeat("2", 40))
	ts.failTarget(t, "rv-virt", "citest", "hostB", strings.Repeat("3", 40), "error: y")
	ts.feedActor(t, "rv-virt", store.KindBoard)
	ts.feedActor(t, "rv-virt.python", store.KindTarget)

	resp, body := get(t, ts.URL+"/@rv-virt.citest", "text/html")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") != contentSecurityPolicy {
		t.Fatalf("/@rv-virt.citest: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	account := doc.Find("section.account")
	status := strings.Join(strings.Fields(account.Find("p.status").Text()), " ")
	if h := account.Find("h2").Text(); h != "Target rv-virt:citest" || !strings.HasPrefix(status, "Failing since ") || !strings.HasSuffix(status, " on hostB.") {
		t.Errorf("heading %q, status %q", h, status)
	}
	if n, logs := account.Find("article.failure").Length(), account.Find("article.failure a.log").First().AttrOr("href", ""); n != 2 || logs != "https://logs.example/"+strings.Repeat("3", 40) {
		t.Errorf("%d failures, the latest's log %q", n, logs)
	}
	if n := account.Find("li.recovery").Length(); n != 1 {
		t.Errorf("%d recoveries", n)
	}
	for sel, href := range map[string]string{"a.target-page": ts.URL + "/targets/rv-virt:citest", "a.directory": ts.URL + "/targets"} {
		if got := account.Find(sel).AttrOr("href", ""); got != href {
			t.Errorf("%s links %q, want %q", sel, got, href)
		}
	}
	if user := doc.Find(`form.remote-follow input[name="user"]`).AttrOr("value", ""); user != "rv-virt.citest" {
		t.Errorf("the follow form follows %q", user)
	}
	if got := doc.Find(".stats").Text(); !strings.Contains(got, "2 followers") {
		t.Errorf("stats %q", got)
	}

	board := getPage(t, ts.URL+"/@rv-virt", http.StatusOK).Find("section.account")
	wantRows := []string{"Target rv-virt:citest risc-v @rv-virt.citest@127.0.0.1 | 2 | failing since TIME on hostB | target profile log history thread | @rv-virt.citest@127.0.0.1",
		"Target rv-virt:python risc-v @rv-virt.python@127.0.0.1 | 0 | ok | profile history | @rv-virt.python@127.0.0.1"}
	var rows []string
	board.Find("table.directory tbody tr").Each(func(_ int, tr *goquery.Selection) { rows = append(rows, directoryRowText(tr)) })
	if !slices.Equal(rows, wantRows) || board.Find("p.status").Text() != "1 of 2 targets failing." {
		t.Errorf("rv-virt: %q, then\n%s", board.Find("p.status").Text(), strings.Join(rows, "\n"))
	}
	if got := board.Find("a.targets-of").Last().AttrOr("href", ""); got != ts.URL+"/targets?of=rv-virt" {
		t.Errorf("rv-virt's targets at %q", got)
	}
	arch := getPage(t, ts.URL+"/@arch.risc-v", http.StatusOK).Find("section.account")
	if h := arch.Find("h2").Text(); h != "Architecture risc-v" || arch.Find("table.directory tbody tr").Length() != 2 {
		t.Errorf("arch.risc-v: %q, %d rows", h, arch.Find("table.directory tbody tr").Length())
	}
	// A board that builds says so as its row in the directory does.
	sim := getPage(t, ts.URL+"/@sim", http.StatusOK).Find("section.account p.status").Text()
	simRow := getPage(t, ts.URL+"/targets?kind=board&q=sim", http.StatusOK).Find("td.state").Text()
	if sim != "ok: 1 target." || simRow != "ok: 1 target" {
		t.Errorf("sim builds: the profile says %q, the directory %q", sim, simRow)
	}
	python := getPage(t, ts.URL+"/@rv-virt.python", http.StatusOK).Find("section.account")
	if got := python.Find("p.status").Text(); got != "No failure recorded: it builds." || python.Find("a.target-page").Length() != 0 {
		t.Errorf("rv-virt.python: %q, %d target page links", got, python.Find("a.target-page").Length())
	}
}

// TestFeedAccountProfileWithoutRow: the profile of a feed account whose
// actor has no row yet (ID 0, as the activitypub package answers for a
// known name) shows what it follows, the follow form, no posts (not every
// actor's) and no followers, and writes nothing.
func TestFeedAccountProfileWithoutRow(t *testing.T) {
	t.Parallel()
	ts := directoryServer(t)
	before := ts.snapshot(t)
	for _, a := range []*store.Actor{
		{Username: "sim.nsh", Kind: store.KindTarget, DisplayName: "sim:nsh builds"},
		{Username: "rv-virt", Kind: store.KindBoard, DisplayName: "rv-virt builds"},
	} {
		var data any
		err := ts.store.View(t.Context(), func(tx *store.Tx) error {
			p, err := ts.profilePage(tx, a, store.Page{})
			data = p
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", a.Username, err)
		}
		var buf bytes.Buffer
		if err := ts.pages.Render(&buf, "profile", data); err != nil {
			t.Fatal(err)
		}
		doc, err := goquery.NewDocumentFromReader(&buf)
		if err != nil {
			t.Fatal(err)
		}
		stats := doc.Find(".stats").Text()
		if n := doc.Find("article.note").Length(); n != 0 || stats != "0 posts0 followers" {
			t.Errorf("%s: %d posts shown, stats %q", a.Username, n, stats)
		}
		if user := doc.Find(`form.remote-follow input[name="user"]`).AttrOr("value", ""); user != a.Username {
			t.Errorf("%s: the follow form follows %q", a.Username, user)
		}
		status := doc.Find("section.account p.status").Text()
		if a.Kind == store.KindTarget && status != "No failure recorded: it builds." || a.Kind == store.KindBoard && status != "1 of 2 targets failing." {
			t.Errorf("%s: %q", a.Username, status)
		}
		// Instead of "No posts yet.": when it posts, and the firehose's
		// thread of what fails now.
		noPosts, threads := doc.Find("p.no-posts"), doc.Find("p.no-posts a.thread")
		label := map[string]string{"sim.nsh": "sim:nsh", "rv-virt": "rv-virt"}[a.Username]
		want := "This account posts from its first follower on: the news of " + label + " after someone follows it."
		if a.Kind == store.KindBoard {
			want += " What fails now is in the firehose's thread: rv-virt:citest."
			if href := doc.Find("table.directory tr.target a.thread").AttrOr("href", ""); threads.Length() != 1 || threads.AttrOr("href", "") != href || href == "" {
				t.Errorf("%s links %d threads, %q, want %q", a.Username, threads.Length(), threads.AttrOr("href", ""), href)
			}
		}
		if got := noPosts.Text(); got != want || strings.Contains(doc.Text(), "No posts yet") {
			t.Errorf("%s: %q, want %q", a.Username, got, want)
		}
		checkAccessible(t, a.Username, doc)
	}
	after := ts.snapshot(t)
	for table, n := range before {
		if after[table] != n {
			t.Errorf("%s: %d rows, %d before", table, after[table], n)
		}
	}
}

// TestDirectoryRefusesBadQueries: a kind, state, page, "of" or search
// the directory cannot take is refused with 400 saying what it takes.
func TestDirectoryRefusesBadQueries(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	for query, msg := range map[string]string{
		"kind=bot":          "kind must be arch, board or target",
		"state=ok":          "state must be failing (or left out)",
		"page=0":            "page must be a number from 1",
		"of=rv-virt.citest": "of must be the handle of a board or an architecture",
		"of=a%2Fb":          "of must be the handle of a board or an architecture",
		"q=" + strings.Repeat("é", maxDirectorySearch+1): "q must be at most 100 characters",
	} {
		doc := getPage(t, ts.URL+"/targets?"+query, http.StatusBadRequest)
		if got := doc.Find("main p").First().Text(); !strings.Contains(got, msg) {
			t.Errorf("%s: %q, want %q", query, got, msg)
		}
		if back := doc.Find("main a.back").AttrOr("href", ""); back != ts.URL+"/targets" {
			t.Errorf("%s: the error page leads back to %q", query, back)
		}
	}
	// "of" naming no board or architecture (nor a target's handle) is
	// not found, not an empty search.
	for _, of := range []string{"nosuchboard", "arch.nosuch", "@nosuchboard@127.0.0.1"} {
		doc := getPage(t, ts.URL+"/targets?of="+url.QueryEscape(of), http.StatusNotFound)
		if got := doc.Find("main p").First().Text(); !strings.Contains(got, "no board or architecture has the handle @"+strings.TrimSuffix(strings.TrimPrefix(of, "@"), "@127.0.0.1")+"@127.0.0.1") {
			t.Errorf("of=%s: %q", of, got)
		}
	}
	// One page of no account: said in the singular.
	doc := getPage(t, ts.URL+"/targets?page=2", http.StatusNotFound)
	if got := doc.Find("main p").First().Text(); !strings.HasSuffix(got, "no page 2 of the directory: 0 accounts found, on 1 page") ||
		doc.Find("main a.back").AttrOr("href", "") != ts.URL+"/targets" {
		t.Errorf("page 2 of 1: %q", got)
	}
	if back := getPage(t, ts.URL+"/targets/nosuch:target", http.StatusNotFound).Find("main a.back").AttrOr("href", ""); back != ts.URL+"/targets" {
		t.Errorf("an unknown target page leads back to %q", back)
	}
	if n := getPage(t, ts.URL+"/@nosuchuser", http.StatusNotFound).Find("main a.back").Length(); n != 0 {
		t.Errorf("an unknown profile leads to the directory (%d links)", n)
	}
	if doc := getPage(t, ts.URL+"/targets?q="+strings.Repeat("é", maxDirectorySearch), http.StatusOK); doc.Find("p.none").Text() != "No account matches." {
		t.Errorf("a search of %d characters: %q", maxDirectorySearch, doc.Find("p.none").Text())
	}
}

// BenchmarkDirectoryPage serves pages of /targets over loopback HTTP with
// a catalog of 1,600 targets (400 boards of 4 configs over 20
// architectures, 200 failing): the whole directory's first page, a
// search, and the failing targets.
func BenchmarkDirectoryPage(b *testing.B) {
	ln := listen(b)
	cfg := Config{BaseURL: "http://" + ln.Addr().String(), Listen: ln.Addr().String(), DataDir: b.TempDir(), Username: "nuttx_build",
		DisplayName: defaultDisplayName, Summary: defaultSummary, AllowPrivateNetworks: true, LogFormat: "text", DashboardURL: feed.DefaultDashboardURL}
	s := runBenchServer(b, cfg, ln)
	err := s.store.Update(b.Context(), func(tx *store.Tx) error {
		targets := storetest.Catalog(400, 4, 20)
		if _, err := tx.SeeTargets(targets); err != nil {
			return err
		}
		for _, t := range targets[:200] {
			if err := tx.MarkFailing(store.FeedTarget{Target: t.Target, Board: t.Board, Config: t.Config, Arch: t.Arch, Thread: "t", LastNote: "n"}, "host"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for name, query := range map[string]string{"all": "", "search": "?q=board-12", "failing": "?kind=target&state=failing"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				resp, err := http.Get(cfg.BaseURL + "/targets" + query)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %d", query, resp.StatusCode)
				}
			}
		})
	}
}

// TestDirectorySortIgnoresCase: the directory's natural order ignores
// case, as README promises: arch "arm" before "Xtensa LX6", board
// "Board2" before "board10".
func TestDirectorySortIgnoresCase(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.seeTargets(t, store.CatalogTarget{Target: "board10:nsh", Board: "board10", Config: "nsh", Arch: "Xtensa LX6"},
		store.CatalogTarget{Target: "Board2:nsh", Board: "Board2", Config: "nsh", Arch: "arm"})
	var got []string
	getPage(t, ts.URL+"/targets?kind=arch", http.StatusOK).Find("table.directory tbody tr span.label").Each(func(_ int, s *goquery.Selection) {
		got = append(got, s.Text())
	})
	getPage(t, ts.URL+"/targets?kind=board", http.StatusOK).Find("table.directory tbody tr span.label").Each(func(_ int, s *goquery.Selection) {
		got = append(got, s.Text())
	})
	if want := []string{"arm", "Xtensa LX6", "Board2", "board10"}; !slices.Equal(got, want) {
		t.Errorf("the directory sorts %q, want %q", got, want)
	}
}

// TestDirectoryLongHandle: a target whose handle would pass 64
// characters (handles.MaxLength) is listed with "no account" and no
// profile, as README says, while its board has its account.
func TestDirectoryLongHandle(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	long := strings.Repeat("c", handles.MaxLength)
	ts.seeTargets(t, store.CatalogTarget{Target: "sim:" + long, Board: "sim", Config: long, Arch: "sim"})
	rows := directoryRows(getPage(t, ts.URL+"/targets?kind=target", http.StatusOK))
	if want := []string{"Target sim:" + long + " sim no account | 0 | ok |  | "}; !slices.Equal(rows, want) {
		t.Errorf("the directory lists\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
}

// TestDirectoryBoardNamedLikeTheBot: a board whose handle is the bot's
// username has no account (the name is the bot's: following it would
// follow the firehose), while its target keeps one.
func TestDirectoryBoardNamedLikeTheBot(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.seeTargets(t, store.CatalogTarget{Target: "nuttx_build:x", Board: "nuttx_build", Config: "x", Arch: "arm"})
	rows := directoryRows(getPage(t, ts.URL+"/targets?q=nuttx_build", http.StatusOK))
	if len(rows) != 2 || !strings.HasPrefix(rows[0], "Board nuttx_build no account") || !strings.Contains(rows[1], "@nuttx_build.x@") {
		t.Errorf("the directory lists\n%s\nwant the board without an account and its target with one", strings.Join(rows, "\n"))
	}
}

// TestAtomNamedAccountHasItsPage: the account of target x:atom, whose
// /@x.atom is board x's Atom feed, has its profile page at /users/x.atom.
func TestAtomNamedAccountHasItsPage(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.seeTargets(t, store.CatalogTarget{Target: "x:atom", Board: "x", Config: "atom", Arch: "arm"})
	if resp, body := get(t, ts.URL+"/users/x.atom", "text/html"); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "x:atom builds") {
		t.Errorf("/users/x.atom: %d, want the profile page of x:atom", resp.StatusCode)
	}
	if resp, _ := get(t, ts.URL+"/@x.atom", "text/html"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/atom+xml") {
		t.Errorf("/@x.atom: %d %s, want the Atom feed of board x", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// TestDirectoryWhenBusy: with every search slot taken, the directory
// waits its time and answers 503; a slot freed serves it.
func TestDirectoryWhenBusy(t *testing.T) {
	t.Parallel()
	ln := listen(t)
	ts := startWith(t, startConfig(t, ln), ln, withSearchWait(300*time.Millisecond))
	ts.seeTargets(t, store.CatalogTarget{Target: "sim:nsh", Board: "sim", Config: "nsh", Arch: "sim"})
	for range searchSlots {
		ts.searches <- struct{}{}
	}
	getPage(t, ts.URL+"/targets", http.StatusServiceUnavailable)
	<-ts.searches
	if rows := directoryRows(getPage(t, ts.URL+"/targets", http.StatusOK)); len(rows) != 3 {
		t.Errorf("with a slot free: %d rows, want 3", len(rows))
	}
}
