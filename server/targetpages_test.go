package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/feed"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/web"
)

// failTarget records, as the feed does, that user fails board:config at
// commit hash: it posts the failure (in the target's thread when there is
// one) and records it in the feed's state, and the target in the catalog
// (as seen in Prometheus). It returns the note.
func (ts *testServer) failTarget(t *testing.T, board, config, user, hash, msg string) *store.Note {
	t.Helper()
	return ts.failTargetLog(t, board, config, user, hash, "https://logs.example/"+hash, msg)
}

// failTargetLog is failTarget with the build log at logURL.
func (ts *testServer) failTargetLog(t *testing.T, board, config, user, hash, logURL, msg string) *store.Note {
	t.Helper()
	b := feed.Build{Target: board + ":" + config, Board: board, Config: config, Arch: "risc-v", User: user,
		NuttxHash: hash, URL: logURL, Msg: msg}
	var n *store.Note
	err := ts.store.Update(t.Context(), func(tx *store.Tx) error {
		thread := ""
		if old, err := tx.FeedTarget(b.Target); err == nil {
			thread = old.Thread
		}
		f := feed.Formatter{HistoryTemplate: feed.DefaultHistoryTemplate, MaxChars: 500}
		var err error
		if n, err = ts.svc.Publish(tx, "nuttx_build", activitypub.Post{Content: f.Failure(b, false), InReplyTo: thread}); err != nil {
			return err
		}
		iri := ts.svc.NoteIRI(n)
		if thread == "" {
			thread = iri
		}
		rec := b.Record() // as the feed records it
		rec.Note = iri
		if _, err := tx.ClaimFailure(store.FailureID{Target: b.Target, User: user, NuttxHash: hash}, rec); err != nil {
			return err
		}
		if _, err := tx.SeeTargets([]store.CatalogTarget{{Target: b.Target, Board: board, Config: config, Arch: b.Arch}}); err != nil {
			return err
		}
		return tx.MarkFailing(store.FeedTarget{Target: b.Target, Board: board, Config: config, Arch: b.Arch, Thread: thread, LastNote: iri}, user)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// feedActor adds the actor of the feed account username (of kind board,
// target or arch) to the database, as the activitypub package makes it on
// first need (its key unused here).
func (ts *testServer) feedActor(t *testing.T, username, kind string) {
	t.Helper()
	err := ts.store.Update(t.Context(), func(tx *store.Tx) error {
		_, err := tx.CreateActor(&store.Actor{Username: username, Kind: kind, DisplayName: username + " builds",
			Summary: "Builds of " + username, PrivateKeyPEM: "unused", PublicKeyPEM: "unused"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// recoverTarget records, as the feed does, that target builds again
// everywhere, with a recovery post in its thread.
func (ts *testServer) recoverTarget(t *testing.T, target, user, hash string) {
	t.Helper()
	err := ts.store.Update(t.Context(), func(tx *store.Tx) error {
		ft, err := tx.FeedTarget(target)
		if err != nil {
			return err
		}
		n, err := ts.svc.Publish(tx, "nuttx_build", activitypub.Post{Content: richtext.Parse(target + " builds again"), InReplyTo: ft.Thread})
		if err != nil {
			return err
		}
		if _, err := tx.RemoveFailingUsers(target, ft.FailingUsers); err != nil {
			return err
		}
		return tx.EndIncident(store.Recovery{Target: target, User: user, NuttxHash: hash, Note: ts.svc.NoteIRI(n)})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestProfileShowsNothingFailing: with no target failing and no feed
// running, the profile says that none is recorded, not that nothing
// fails (TestFailingFeedStatus has the feed's other states).
func TestProfileShowsNothingFailing(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	doc := getPage(t, ts.URL+"/@nuttx_build", http.StatusOK)
	if got := strings.TrimSpace(doc.Find("section.failing p.none").Text()); got != "No target is recorded as failing." {
		t.Errorf("the empty failing section reads %q", got)
	}
	if n := doc.Find("section.failing table").Length(); n != 0 {
		t.Errorf("%d tables with nothing failing", n)
	}
}

// TestProfileListsFailingTargets: the profile's table lists the targets
// failing now in natural order (board2 before board10), with arch, build
// hosts, the first lines of the last error with its indentation, and
// links to the target page, the build log, the history and the thread; a
// recovered target is not listed.
func TestProfileListsFailingTargets(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.HistoryURLTemplate = feed.DefaultHistoryTemplate })
	ts.failTarget(t, "board10", "nsh", "hostA", "aaaa", "old error")
	root := ts.failTarget(t, "board2", "nsh", "hostA", "bbbb", "first")
	ts.failTarget(t, "board2", "nsh", "hostB", "cccc", "a.c:3:1: error: <x>\n   3 |   int y\n     |   ^\nfourth line")
	ts.failTarget(t, "board1", "nsh", "hostA", "dddd", "gone")
	ts.recoverTarget(t, "board1:nsh", "hostA", "eeee")

	doc := getPage(t, ts.URL+"/@nuttx_build", http.StatusOK)
	rows := doc.Find("section.failing table.targets tbody tr")
	var names []string
	rows.Each(func(_ int, r *goquery.Selection) { names = append(names, r.Find("a.target").Text()) })
	if strings.Join(names, " ") != "board2:nsh board10:nsh" {
		t.Fatalf("failing rows %q, want board2:nsh board10:nsh", names)
	}
	row := rows.First()
	if got := row.Find("a.target").AttrOr("href", ""); got != ts.URL+"/targets/board2:nsh" {
		t.Errorf("target link %q", got)
	}
	if got := row.Find("td.hosts").Text(); got != "hostA, hostB" {
		t.Errorf("hosts %q", got)
	}
	if got, want := row.Find("pre > code").Text(), "a.c:3:1: error: <x>\n  3 |   int y\n    |   ^…"; got != want {
		t.Errorf("excerpt %q, want %q", got, want)
	}
	for sel, want := range map[string]string{
		"a.log":     "https://logs.example/cccc",
		"a.history": "https://nuttx-dashboard.org/d/fe2q876wubc3kc/nuttx-build-history?var-board=board2&var-config=nsh",
		"a.thread":  ts.URL + "/@nuttx_build/" + root.PublicID,
	} {
		if got := row.Find(sel).AttrOr("href", ""); got != want {
			t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}
	if got := row.Find("td").First().Text(); got != "risc-v" {
		t.Errorf("arch %q", got)
	}
}

// TestTargetPage: a target's page shows its status, time spent failing,
// build hosts, failures with their commits and error (indentation kept),
// recoveries and breaking commits, links its thread and its Atom feed;
// it stays under 100 KB with many long failures.
func TestTargetPage(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	root := ts.failTarget(t, "rv-virt", "citest", "hostA", "1111111111", "first")
	ts.recoverTarget(t, "rv-virt:citest", "hostA", "2222222222")
	long := strings.Repeat("chip/x.c:1:1: error: something long went wrong here\n    |   ^~~~~~\n", 40)
	for i := range targetListLimit + 10 {
		ts.failTarget(t, "rv-virt", "citest", "hostB", fmt.Sprintf("3333%06d", i), long)
	}
	ts.failTarget(t, "rv-virt", "citest", "hostB", "4444444444", "x.c:9: error: bad\n   9 |   indented")
	if err := ts.store.Update(t.Context(), func(tx *store.Tx) error {
		_, err := tx.ClaimBreak(store.BreakID{Target: "rv-virt:citest", BadNuttx: "5555555555"}, "6666666666", "", "")
		return err
	}); err != nil {
		t.Fatal(err)
	}

	resp, body := get(t, ts.URL+"/targets/rv-virt:citest", "text/html")
	if resp.StatusCode != http.StatusOK || len(body) >= 100_000 {
		t.Fatalf("target page: %d, %d bytes", resp.StatusCode, len(body))
	}
	doc := getPage(t, ts.URL+"/targets/rv-virt:citest", http.StatusOK)
	if got := doc.Find("h2.target-name .handle").Text(); got != "rv-virt:citest" {
		t.Errorf("heading %q", got)
	}
	if got := doc.Find("p.status").Text(); !strings.Contains(got, "Failing") || !strings.Contains(got, "hostB") {
		t.Errorf("status %q", got)
	}
	if got := attr(t, doc, "a.thread", "href"); got != ts.URL+"/@nuttx_build/"+root.PublicID {
		t.Errorf("thread link %q", got)
	}
	if got := attr(t, doc, `link[rel="alternate"][type="application/atom+xml"]`, "href"); got != ts.URL+"/targets/rv-virt:citest.atom" {
		t.Errorf("feed link %q", got)
	}
	if got := doc.Find("section.time-failing").Text(); !strings.Contains(got, "2 incidents") {
		t.Errorf("time spent failing: %q", got)
	}
	if got := doc.Find("section.hosts li .host").Text(); got != "hostAhostB" {
		t.Errorf("hosts %q", got)
	}
	failures := doc.Find("section.failures article.failure")
	if failures.Length() != targetListLimit || !strings.Contains(doc.Find("section.failures h2").Text(), fmt.Sprint(targetListLimit+12)) {
		t.Errorf("%d failures listed under %q, want %d of %d", failures.Length(), doc.Find("section.failures h2").Text(), targetListLimit, targetListLimit+12)
	}
	first := failures.First()
	if got := first.Find("pre > code").Text(); got != "x.c:9: error: bad\n  9 |   indented" {
		t.Errorf("the latest failure's error %q", got)
	}
	if got := first.Find("a.commit").AttrOr("href", ""); got != "https://github.com/apache/nuttx/commit/4444444444" {
		t.Errorf("the latest failure's commit %q", got)
	}
	if got := first.Find("a.log").AttrOr("href", ""); got != "https://logs.example/4444444444" {
		t.Errorf("the latest failure's log %q", got)
	}
	if n := doc.Find("section.recoveries li.recovery").Length(); n != 1 {
		t.Errorf("%d recoveries", n)
	}
	if got := doc.Find("section.breaks li.break a.commit").First().Text(); got != "5555555" {
		t.Errorf("breaking commit %q", got)
	}
}

// TestTargetPageUnknown: an unknown target is 404, page and feed.
func TestTargetPageUnknown(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	getPage(t, ts.URL+"/targets/nope:nsh", http.StatusNotFound)
	if resp, _ := get(t, ts.URL+"/targets/nope:nsh.atom", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown target's feed: %d", resp.StatusCode)
	}
}

// TestTargetFeed: a target's Atom feed parses and holds the posts about it
// (failures and recovery), newest first, and not another target's.
func TestTargetFeed(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	a := ts.failTarget(t, "sim", "nsh", "hostA", "1111", "err one")
	ts.failTarget(t, "other", "nsh", "hostA", "9999", "elsewhere")
	ts.recoverTarget(t, "sim:nsh", "hostA", "2222")
	b := ts.failTarget(t, "sim", "nsh", "hostA", "3333", "err two")

	f := getFeed(t, ts.URL+"/targets/sim:nsh.atom", ts.URL+"/targets/sim:nsh", "sim:nsh")
	if len(f.Items) != 3 || f.Items[0].GUID != ts.svc.NoteIRI(b) || f.Items[2].GUID != ts.svc.NoteIRI(a) {
		t.Fatalf("%d entries, want 3 from the latest failure to the first", len(f.Items))
	}
	if !strings.Contains(f.Items[1].Content, "builds again") {
		t.Errorf("the middle entry is not the recovery: %q", f.Items[1].Content)
	}
}

// TestTargetPageIsRateLimited: the target page and its feed share the
// pages' rate limit.
func TestTargetPageIsRateLimited(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.RateLimit = 2 })
	ts.failTarget(t, "sim", "nsh", "hostA", "1111", "err")
	for _, url := range []string{ts.URL + "/targets/sim:nsh", ts.URL + "/targets/sim:nsh.atom"} {
		limited := false
		for range 10 {
			if resp, _ := get(t, url, ""); resp.StatusCode == http.StatusTooManyRequests {
				limited = true
				break
			}
		}
		if !limited {
			t.Errorf("10 quick requests for %s were never limited", url)
		}
	}
}

// TestProfileFailingTableIsBounded: with more targets failing than the
// table lists, it shows the first ones, says how many more, and the
// profile stays under 100 KB.
func TestProfileFailingTableIsBounded(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.HistoryURLTemplate = feed.DefaultHistoryTemplate })
	long := strings.Repeat("arch/risc-v/src/common/riscv_exit.c:123:45: error: implicit declaration of function\n      |   ^~~~~~~~~~\n", 20)
	for i := range failingRows + 10 {
		ts.failTarget(t, fmt.Sprintf("some-long-board-name-%d", i), "some_long_config", "nuttx-build-host", fmt.Sprintf("%040d", i), long)
	}
	resp, body := get(t, ts.URL+"/@nuttx_build", "text/html")
	if resp.StatusCode != http.StatusOK || len(body) >= 100_000 {
		t.Fatalf("profile: %d, %d bytes", resp.StatusCode, len(body))
	}
	doc := getPage(t, ts.URL+"/@nuttx_build", http.StatusOK)
	if n := doc.Find("section.failing tbody tr").Length(); n != failingRows {
		t.Errorf("%d rows, want %d", n, failingRows)
	}
	if got := doc.Find("section.failing p.more").Text(); got != "And 10 more failing targets." {
		t.Errorf("more: %q", got)
	}
}

// TestNotePageLinksItsTarget: every note of a target's thread (its root,
// the failures and recovery replying to it, and a reply to one of those)
// links to the target's page; a note in no target's thread does not.
func TestNotePageLinksItsTarget(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	root := ts.failTarget(t, "rv-virt", "citest", "hostA", "1111", "first")
	failure := ts.failTarget(t, "rv-virt", "citest", "hostB", "2222", "second")
	other := ts.failTarget(t, "sim", "nsh", "hostA", "3333", "other target")
	reply, err := ts.publishPost(t, activitypub.Post{Content: richtext.Parse("looking into it"), InReplyTo: ts.svc.NoteIRI(failure)})
	if err != nil {
		t.Fatal(err)
	}
	lone := ts.publish(t, "a post about nothing in particular")
	for _, n := range []*store.Note{root, failure, reply} {
		doc := getPage(t, ts.URL+"/@nuttx_build/"+n.PublicID, http.StatusOK)
		link := doc.Find("p.target-link a")
		if got := link.AttrOr("href", ""); got != ts.URL+"/targets/rv-virt:citest" {
			t.Errorf("note %s links the target page %q", n.PublicID, got)
		}
		if got := link.Text(); got != "All builds of rv-virt:citest" {
			t.Errorf("note %s: link text %q", n.PublicID, got)
		}
		if got := doc.Find("p.target-link .status").Text(); !strings.HasPrefix(got, "is failing since ") || !strings.HasSuffix(got, " on hostA, hostB.") {
			t.Errorf("note %s: status %q, want failing since when, on hostA and hostB", n.PublicID, got)
		}
	}
	doc := getPage(t, ts.URL+"/@nuttx_build/"+other.PublicID, http.StatusOK)
	if got := doc.Find("p.target-link a").AttrOr("href", ""); got != ts.URL+"/targets/sim:nsh" {
		t.Errorf("the other target's note links %q", got)
	}
	doc = getPage(t, ts.URL+"/@nuttx_build/"+lone.PublicID, http.StatusOK)
	if n := doc.Find("p.target-link").Length(); n != 0 {
		t.Errorf("a note in no thread links %d targets", n)
	}
}

// TestEchoPageLinksItsTarget: a feed account's note (an echo of a
// firehose note, notes.echo_of) shows the same target state line as the
// firehose note's page: the failure's echo, and the recovery's echo in
// the account's own thread (whose parent is the account's note, not the
// firehose's).
func TestEchoPageLinksItsTarget(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.feedActor(t, "rv-virt.python", store.KindTarget)
	failure := ts.failTarget(t, "rv-virt", "python", "hostA", "1111", "first")
	echo := func(of *store.Note, inReplyTo string) *store.Note {
		var n *store.Note
		err := ts.store.Update(t.Context(), func(tx *store.Tx) (err error) {
			n, err = ts.svc.Publish(tx, "rv-virt.python", activitypub.Post{Content: richtext.Parse(of.Source), InReplyTo: inReplyTo, EchoOf: of})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	line := func(user string, n *store.Note) string {
		doc := getPage(t, ts.URL+"/@"+user+"/"+n.PublicID, http.StatusOK)
		p := doc.Find("p.target-link")
		return strings.Join(strings.Fields(p.Text()), " ") + " -> " + p.Find("a").AttrOr("href", "")
	}
	first := echo(failure, "")
	if got, want := line("rv-virt.python", first), line("nuttx_build", failure); got != want || !strings.HasPrefix(got, "rv-virt:python is failing since ") {
		t.Errorf("the echo of the failure shows %q, the firehose %q", got, want)
	}
	ts.recoverTarget(t, "rv-virt:python", "hostA", "2222")
	var recovery *store.Note
	err := ts.store.View(t.Context(), func(tx *store.Tx) error {
		ft, err := tx.FeedTarget("rv-virt:python")
		if err != nil {
			return err
		}
		user, id, _ := ts.site.ParseLocalNote(ft.LastNote)
		recovery, err = tx.Note(user, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	second := echo(recovery, ts.svc.NoteIRI(first))
	want := "rv-virt:python builds again. All builds of rv-virt:python -> " + ts.URL + "/targets/rv-virt:python"
	for _, n := range []*store.Note{first, second} {
		if got := line("rv-virt.python", n); got != want {
			t.Errorf("echo %s shows %q, want %q", n.PublicID, got, want)
		}
	}
	if got := line("nuttx_build", recovery); got != want {
		t.Errorf("the firehose's recovery shows %q", got)
	}
}

// TestFailingRowOfADigest: a target announced in a digest (a post without
// its error) shows the start of its stored build error in the profile's
// table and on its page.
func TestFailingRowOfADigest(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	digest := ts.publish(t, "2 NuttX targets failed to build (nuttxpr)\narm: sim:nsh, sim:ostest")
	b := feed.Build{Target: "sim:ostest", Board: "sim", Config: "ostest", Arch: "sim", User: "nuttxpr", NuttxHash: "abcd",
		Msg: "up_ostest.c:7:2: error: 'x' undeclared \n    7 |   x++;\n      |   ^"}
	err := ts.store.Update(t.Context(), func(tx *store.Tx) error {
		rec := b.Record()
		rec.Note = ts.svc.NoteIRI(digest)
		if _, err := tx.ClaimFailure(store.FailureID{Target: b.Target, User: b.User, NuttxHash: b.NuttxHash}, rec); err != nil {
			return err
		}
		return tx.MarkFailing(store.FeedTarget{Target: b.Target, Board: b.Board, Config: b.Config, Arch: b.Arch, Thread: rec.Note, LastNote: rec.Note}, b.User)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "up_ostest.c:7:2: error: 'x' undeclared\n   7 |   x++;\n     |   ^"
	if got := getPage(t, ts.URL+"/@nuttx_build", http.StatusOK).Find("section.failing tbody tr pre > code").Text(); got != want {
		t.Errorf("the digest's target shows %q in the failing table, want %q", got, want)
	}
	if got := getPage(t, ts.URL+"/targets/sim:ostest", http.StatusOK).Find("pre > code").First().Text(); got != want {
		t.Errorf("its page shows %q, want %q", got, want)
	}
}

// TestDigestThreadListsItsTargets: a digest's thread page lists the
// targets of its burst, failing ones first in natural order, each with its
// status and page, at most 20 with a count of the rest.
func TestDigestThreadListsItsTargets(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	digest := ts.publish(t, "23 NuttX targets failed to build")
	iri := ts.svc.NoteIRI(digest)
	err := ts.store.Update(t.Context(), func(tx *store.Tx) error {
		for i := range 23 {
			b := fmt.Sprintf("board%d", i)
			if err := tx.MarkFailing(store.FeedTarget{Target: b + ":nsh", Board: b, Config: "nsh", Thread: iri, LastNote: iri}, "host"); err != nil {
				return err
			}
		}
		return tx.EndIncident(store.Recovery{Target: "board0:nsh", User: "host", NuttxHash: "r"})
	})
	if err != nil {
		t.Fatal(err)
	}
	doc := getPage(t, ts.site.NoteURL(digest.Username, digest.PublicID), http.StatusOK)
	var names []string
	doc.Find("section.thread-targets li a").Each(func(_ int, a *goquery.Selection) { names = append(names, a.Text()) })
	if len(names) != 20 || names[0] != "board1:nsh" || names[1] != "board2:nsh" || names[9] != "board10:nsh" {
		t.Errorf("targets listed %q, want 20, failing first in natural order", names)
	}
	if got := doc.Find("section.thread-targets p.more").Text(); got != "And 2 more failing, 1 building again." {
		t.Errorf("the rest: %q", got)
	}
	if doc.Find("p.target-link").Length() != 0 {
		t.Error("a digest's page names one target as its own")
	}

	// A later post in the digest's thread about one target (its recovery)
	// shows that target alone.
	ts.recoverTarget(t, "board7:nsh", "host", "beef")
	var recovery *store.Note
	if err := ts.store.View(t.Context(), func(tx *store.Tx) error {
		page, err := tx.Notes(store.NoteFilter{ActorID: digest.ActorID}, store.Page{Limit: 1})
		if err == nil {
			recovery = page.Notes[0]
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	doc = getPage(t, ts.site.NoteURL(recovery.Username, recovery.PublicID), http.StatusOK)
	if got := doc.Find("p.target-link").Text(); !strings.Contains(got, "board7:nsh builds again.") || doc.Find("section.thread-targets").Length() != 0 {
		t.Errorf("the recovery's page shows %q and %d lists, want board7:nsh's status alone", got, doc.Find("section.thread-targets").Length())
	}
}

// TestDeletedFailurePostTakesItsError: the operator deletes a failure post
// (its build log quoted a secret): the failure's stored build error goes
// too, from the target page, the profile's table and search.
func TestDeletedFailurePostTakesItsError(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	n := ts.failTarget(t, "sim", "nsh", "host", fmt.Sprintf("%040d", 1), "make: error: SECRET_TOKEN=ghp_leaked123 in the log")
	if _, body := get(t, ts.URL+"/targets/sim:nsh", "text/html"); !strings.Contains(string(body), "ghp_leaked123") {
		t.Fatal("the target page does not show the error before the delete: the test shows nothing")
	}
	if _, err := ts.svc.DeleteNote(t.Context(), ts.svc.NoteIRI(n)); err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{ts.URL + "/targets/sim:nsh", ts.site.Profile("nuttx_build")} {
		if _, body := get(t, page, "text/html"); strings.Contains(string(body), "ghp_leaked123") {
			t.Errorf("%s still shows the build error of the deleted post", page)
		}
	}
	if n := getPage(t, ts.URL+"/search?q=ghp_leaked123", http.StatusOK).Find("article.result").Length(); n != 0 {
		t.Errorf("search finds %d results for the deleted post's error", n)
	}
}

// TestFailingTableOnFirstPageOnly: the profile's older pages list posts
// only; what is failing now is on its first page.
func TestFailingTableOnFirstPageOnly(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.failTarget(t, "sim", "nsh", "host", "1111", "error: x")
	for i := range store.PageSize + 1 {
		ts.publish(t, fmt.Sprint("post ", i))
	}
	first := getPage(t, ts.URL+"/@nuttx_build", http.StatusOK)
	if first.Find("section.failing").Length() != 1 {
		t.Fatal("the first page has no failing section")
	}
	older, ok := first.Find("nav.pages a:contains('Older')").Attr("href")
	if !ok {
		t.Fatal("no older page")
	}
	if n := getPage(t, older, http.StatusOK).Find("section.failing").Length(); n != 0 {
		t.Errorf("an older page repeats the failing section")
	}
}

// TestThreadPageHostileHosts: a target failing on 30 build hosts of
// names of 2,000 '+' (each written "&#43;") keeps its thread page, the
// profile, the directory, its target page and the profiles of its
// account and its board's under 100 KB: pages show 10 hosts, names cut
// at 100 bytes, then "and 20 more" (review 97028e4).
func TestThreadPageHostileHosts(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	first := ts.failTarget(t, "sim", "nsh", "h0"+strings.Repeat("+", 2000), "hash0", "error")
	for h := 1; h < 30; h++ {
		ts.failTarget(t, "sim", "nsh", fmt.Sprint("h", h, strings.Repeat("+", 2000)), fmt.Sprint("hash", h), "error")
	}
	ts.feedActor(t, "sim.nsh", store.KindTarget)
	ts.feedActor(t, "sim", store.KindBoard)
	for url, hosts := range map[string]string{
		ts.site.NoteURL(first.Username, first.PublicID): "span.status.failing",
		ts.site.Profile("nuttx_build"):                  "section.failing td.hosts",
		ts.URL + failingView:                            "section.failing span.hosts",
		ts.URL + "/targets":                             "table.directory span.hosts",
		ts.site.Target("sim:nsh"):                       "p.status",
		ts.site.Profile("sim.nsh"):                      "section.account p.status",
		ts.site.Profile("sim"):                          "section.account span.hosts",
	} {
		doc, size := fetchPage(t, url, 200)
		if size >= maxPageBytes {
			t.Errorf("%s: %d bytes, want under %d", url, size, maxPageBytes)
		}
		text := doc.Find(hosts).First().Text()
		if !strings.Contains(text, "and 20 more") || strings.Count(text, "…") != web.MaxHostsShown {
			t.Errorf("%s: hosts %.300q...", url, text)
		}
	}
}

// TestTargetPageListsTwentyHosts: a target failed by 25 build hosts lists
// the first 20 by name and counts the rest.
func TestTargetPageListsTwentyHosts(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	for i := range 25 {
		ts.failTarget(t, "sim", "nsh", fmt.Sprintf("host-%02d", i), fmt.Sprintf("%040d", i), "error: x")
	}
	doc := getPage(t, ts.URL+"/targets/sim:nsh", http.StatusOK)
	hosts := doc.Find("section.hosts span.host")
	if hosts.Length() != targetPageHosts || hosts.First().Text() != "host-00" || doc.Find("p.more:contains('build hosts')").Text() != "And 5 more build hosts." {
		t.Errorf("%d hosts listed (first %q), then %q; want 20 from host-00, and 5 more", hosts.Length(), hosts.First().Text(), doc.Find("p.more:contains('build hosts')").Text())
	}
}
