package feed

import (
	"context"
	"fmt"
	"html"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/promtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// TestFailureReachesFollower: a failure pushed the way the farm pushes it
// reaches a follower as a correctly formatted note, by the feed's own loop.
func TestFailureReachesFollower(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.PollInterval = 50 * time.Millisecond })
	polls := e.countPolls()
	r := e.follow()
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { e.feed.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	pushed := time.Now()
	e.stack.Push(t, failing("rv-virt", "citest", "nuttxpr", "0481533a1b2c", "b08c296d3e4f"), 0)
	d := r.WaitDeliveries(t, 2, 20*time.Second)[1]
	t.Logf("push to delivery: %v", time.Since(pushed).Round(time.Millisecond))
	if d.VerifyErr != nil {
		t.Fatalf("delivery rejected: %v", d.VerifyErr)
	}
	obj := d.Activity["object"].(map[string]any)
	wantHTML := `<p>rv-virt : CITEST - Build Failed (nuttxpr)<br>` +
		`NuttX Dashboard: <a href="https://nuttx-dashboard.org" rel="nofollow noopener noreferrer" target="_blank">https://nuttx-dashboard.org</a><br>` +
		`Build History: <a href="https://nuttx-dashboard.org/d/fe2q876wubc3kc/nuttx-build-history?var-board=rv-virt&amp;var-config=citest" rel="nofollow noopener noreferrer" target="_blank">https://nuttx-dashboard.org/d/fe2q876wubc3kc/nuttx-build-history?var-board=rv-virt&amp;var-config=citest</a><br>` +
		`Build Log: <a href="https://gist.github.com/nuttxpr/abc123#file-ci-risc-v-01-log-L123" rel="nofollow noopener noreferrer" target="_blank">gist.github.com/nuttxpr/abc123#file-ci-risc-v-01-log-L123</a></p>` +
		"<pre><code>virtio/virtio-mmio.c:346:14: error: cast from pointer to integer of different size\n  346 |   return (uintptr_t)addr;</code></pre>" +
		`<p><a href="https://nuttx-feed.org/tags/nuttx" class="mention hashtag" rel="tag">#<span>NuttX</span></a> ` +
		`<a href="https://nuttx-feed.org/tags/risc_v" class="mention hashtag" rel="tag">#<span>risc_v</span></a></p>`
	if obj["content"] != wantHTML {
		t.Errorf("content\n got %s\nwant %s", obj["content"], wantHTML)
	}
	if obj["inReplyTo"] != nil {
		t.Errorf("the first failure of a target must start its thread; inReplyTo = %v", obj["inReplyTo"])
	}
	tags := obj["tag"].([]any)
	if len(tags) != 2 || tags[1].(map[string]any)["name"] != "#risc_v" {
		t.Errorf("tags = %v", tags)
	}
	// Nothing more: the same series on every later poll is not news. A
	// second note would be in the database when its poll ends, and queued
	// for delivery there.
	eventually.True(t, 10*time.Second, "the deliveries recorded", func() bool {
		var pending int
		e.db.SQL.QueryRow(`SELECT COUNT(*) FROM deliveries WHERE state != 'delivered'`).Scan(&pending)
		return pending == 0
	})
	before := dump(t, e)
	e.waitPolls(polls, 3)
	e.wantNotes(1)
	if after := dump(t, e); after != before {
		t.Errorf("more polls of the same failure changed the database:\n%s\n->\n%s", before, after)
	}
	if n := len(r.Deliveries()); n != 2 {
		t.Errorf("%d deliveries after more polls of the same failure, want 2", n)
	}
}

func TestSameFailureNeverTwice(t *testing.T) {
	t.Parallel()
	e := newFarmEnv(t)
	l := failing("sim", "nsh", "nuttxpr", "aaaaaaa1", "bbbbbbb1")
	e.push(l, 0)
	if res := e.poll(); res.Posts != 1 {
		t.Fatalf("first poll posted %d, want 1", res.Posts)
	}
	e.push(l, 0) // pushed again, identical
	if res := e.poll(); res.Posts != 0 {
		t.Fatalf("the same failure pushed again posted %d", res.Posts)
	}
	l["timestamp"] = "2024-12-07T00:00:00" // a rebuild at the same commits: same failure
	e.push(l, 0)
	e.feed = e.newFeed() // a restarted server
	if res := e.poll(); res.Posts != 0 {
		t.Fatalf("after a restart the feed posted %d again", res.Posts)
	}
	e.wantNotes(1)
}

func TestOtherHostAndNewCommitReplyInThread(t *testing.T) {
	t.Parallel()
	e := newFarmEnv(t)
	e.push(failing("rv-virt", "nsh", "nuttxpr", "1111111a", "2222222a"), 0)
	e.poll()
	root := e.wantNotes(1)[0]

	e.push(failing("rv-virt", "nsh", "nuttxmacos", "1111111a", "2222222a"), 0) // another build host
	e.poll()
	e.push(failing("rv-virt", "nsh", "nuttxpr", "3333333b", "2222222a"), 0) // a new commit
	e.poll()
	notes := e.wantNotes(3)
	for _, n := range notes[1:] {
		if n.InReplyTo != root.ID {
			t.Errorf("reply %q is in reply to %q, want the thread root %s", firstLine(n.Source), n.InReplyTo, root.ID)
		}
	}
	if !strings.Contains(notes[1].Source, "Build Failed (nuttxmacos)") {
		t.Errorf("second note: %s", notes[1].Source)
	}
	// A different target starts its own thread.
	e.push(failing("rv-virt", "citest64", "nuttxpr", "3333333b", "2222222a"), 0)
	e.poll()
	if n := e.wantNotes(4)[3]; n.InReplyTo != "" {
		t.Errorf("another target's failure replied to %s", n.InReplyTo)
	}
}

func TestRecoveryThenRegression(t *testing.T) {
	t.Parallel()
	e := newFarmEnv(t)
	e.push(failing("esp32-devkitc", "wifi", "nuttxpr", "aaaa0001", "bbbb0001"), 0)
	e.push(failing("esp32-devkitc", "wifi", "nuttxmacos", "aaaa0001", "bbbb0001"), 0)
	e.poll()
	root := e.wantNotes(2)[0]

	ok := failing("esp32-devkitc", "wifi", "nuttxpr", "aaaa0002", "bbbb0002")
	ok["timestamp"], ok["msg"] = "2024-12-07T01:00:00", ""
	e.push(ok, 1)
	if res := e.poll(); res.Posts != 0 || res.StateChanges != 1 {
		t.Fatalf("one of two hosts recovered: %+v, want a state change and no post", res)
	}
	okMac := failing("esp32-devkitc", "wifi", "nuttxmacos", "aaaa0002", "bbbb0002")
	okMac["timestamp"], okMac["msg"] = "2024-12-07T01:05:00", ""
	e.push(okMac, 1)
	if res := e.poll(); res.Posts != 1 {
		t.Fatalf("the last host recovered: %+v, want one post", res)
	}
	if res := e.poll(); res.Posts != 0 {
		t.Fatalf("recovery posted again: %+v", res)
	}
	notes := e.wantNotes(3)
	rec := notes[2]
	if rec.InReplyTo != root.ID || !strings.HasPrefix(rec.Source, "esp32-devkitc : WIFI - Build Recovered (nuttxmacos)") ||
		!strings.Contains(rec.Content, `href="https://github.com/apache/nuttx/commit/aaaa0002"`) {
		t.Errorf("recovery note (in reply to %s):\n%s\n%s", rec.InReplyTo, rec.Source, rec.Content)
	}

	again := failing("esp32-devkitc", "wifi", "nuttxpr", "aaaa0003", "bbbb0003")
	again["timestamp"] = "2024-12-08T00:00:00"
	e.push(again, 0)
	e.poll()
	reg := e.wantNotes(4)[3]
	if reg.InReplyTo != root.ID || !strings.HasPrefix(reg.Source, "Regressed: esp32-devkitc:wifi fails again after recovering.") {
		t.Errorf("regression note (in reply to %s): %s", reg.InReplyTo, reg.Source)
	}
	st, _ := e.feed.Status(e.ctx)
	if len(st) != 1 || st[0].Target != "esp32-devkitc:wifi" || st[0].Thread != root.ID || strings.Join(st[0].Users, ",") != "nuttxpr" {
		t.Errorf("status = %+v", st)
	}
}

func TestRecoveriesNotPosted(t *testing.T) {
	t.Parallel()
	e := newFarmEnv(t, func(c *Config) { c.PostRecoveries = false })
	e.push(failing("qemu-armv8a", "nsh", "nuttxpr", "c0ffee01", "c0ffee02"), 0)
	e.poll()
	ok := failing("qemu-armv8a", "nsh", "nuttxpr", "c0ffee03", "c0ffee02")
	ok["timestamp"] = "2024-12-09T00:00:00"
	e.push(ok, 1)
	if res := e.poll(); res.Posts != 0 || res.StateChanges != 1 {
		t.Fatalf("recovery with --post-recoveries=false: %+v", res)
	}
	if st, _ := e.feed.Status(e.ctx); len(st) != 0 {
		t.Errorf("still failing after the recovery: %+v", st)
	}
	bad := failing("qemu-armv8a", "nsh", "nuttxpr", "c0ffee04", "c0ffee02")
	bad["timestamp"] = "2024-12-10T00:00:00"
	e.push(bad, 0)
	e.poll()
	if n := e.wantNotes(2)[1]; !strings.HasPrefix(n.Source, "Regressed:") {
		t.Errorf("second note: %s", n.Source)
	}
}

// TestBurstWithLongLogURLsIsPosted: 25 failures at once whose build logs
// have 1,900-byte URLs make one digest that fits an activity (a digest
// links such a target to its history), naming 6 build hosts as 5 and the
// rest counted: before, the note was refused as too long and the feed
// stuck on it, posting nothing else.
func TestBurstWithLongLogURLsIsPosted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 25
	long := "https://github.com/apache/nuttx/actions/runs/2/job/1?q=" + strings.Repeat("a", 1900)
	for i := range n {
		l := failing(fmt.Sprintf("lv%02d", i), "nsh", fmt.Sprintf("host%d", i%6), "deadbeef0001", "feedface0001")
		l["url"] = long
		e.stack.Push(t, l, 0)
	}
	e.stack.WaitCount(t, `build_score < 0.5`, n)
	if res, err := e.feed.Poll(e.ctx); err != nil || res.Posts != 1 {
		t.Fatalf("a burst with long log URLs: %+v, %v; want one digest", res, err)
	}
	digest := e.wantNotes(1)[0]
	if strings.Contains(digest.Content, long) || !strings.Contains(digest.Content, `href="`+html.EscapeString(testFormat.History(Build{Board: "lv00", Config: "nsh"}))+`"`) ||
		!strings.HasPrefix(digest.Source, "25 NuttX targets failed to build (host0, host1, host2, host3, host4 and 1 more)") {
		t.Errorf("digest:\n%s\n%s", digest.Source, digest.Content)
	}
}

func TestBurstMakesOneDigest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 15
	for i := range n {
		arch := []string{"arm", "risc-v", "xtensa"}[i%3]
		l := failing(fmt.Sprintf("board%02d", i), "nsh", "nuttxpr", "deadbeef0001", "feedface0001")
		l["arch"] = arch
		l["msg"] = fmt.Sprintf("board%02d.c:12:3: error: implicit declaration of function 'quux%02d'", i, i)
		e.stack.Push(t, l, 0)
	}
	e.stack.WaitCount(t, `build_score < 0.5`, n)
	if res := e.poll(); res.Posts != 1 {
		t.Fatalf("a burst of %d failures made %d posts, want one digest", n, res.Posts)
	}
	digest := e.wantNotes(1)[0]
	// The digest shows no error, yet each failure in it is found by its own.
	var found store.SearchResults
	if err := e.db.View(e.ctx, func(tx *store.Tx) (err error) { found, err = tx.SearchNotes("quux07", 1); return err }); err != nil ||
		len(found.Results) != 1 || found.Results[0].Note.Seq == 0 || found.Results[0].Target != "board07:nsh" {
		t.Errorf("search quux07 in the digest's stored errors: %+v (%v), want the digest by board07:nsh", found.Results, err)
	} else if d := found.Results[0].Note; !strings.HasSuffix(digest.ID, "/"+d.PublicID) {
		t.Errorf("search quux07 found note %s, want the digest %s", d.PublicID, digest.ID)
	}
	if !strings.HasPrefix(digest.Source, "15 NuttX targets failed to build (nuttxpr)\nAt nuttx deadbee, apps feedfac:\narm: board00:nsh, board03:nsh") ||
		!strings.Contains(digest.Source, "xtensa: board02:nsh") {
		t.Errorf("digest:\n%s", digest.Source)
	}
	// Their recovery, a burst too, is one reply to the digest listing them
	// (issue 6: 15 separate replies made the load spikes of a soak test).
	for i := range n {
		ok := failing(fmt.Sprintf("board%02d", i), "nsh", "nuttxpr", "deadbeef0002", "feedface0001")
		ok["timestamp"], ok["arch"] = "2024-12-07T00:00:00", []string{"arm", "risc-v", "xtensa"}[i%3]
		e.stack.Push(t, ok, 1)
	}
	e.stack.WaitCount(t, `build_score == 1`, n)
	if res := e.poll(); res.Posts != 1 {
		t.Fatalf("a burst of %d recoveries made %d posts, want one", n, res.Posts)
	}
	recovered := e.wantNotes(2)[1]
	if recovered.InReplyTo != digest.ID {
		t.Errorf("the recoveries reply to %s, want the digest %s", recovered.InReplyTo, digest.ID)
	}
	if !strings.HasPrefix(recovered.Source, "15 NuttX targets build again (nuttxpr)\narm: board00:nsh, board03:nsh") ||
		!strings.Contains(recovered.Source, "xtensa: board02:nsh") {
		t.Errorf("recovery digest:\n%s", recovered.Source)
	}
	if status, err := e.feed.Status(e.ctx); err != nil || len(status) != 0 {
		t.Errorf("after the recoveries, failing = %v (%v), want none", status, err)
	}
	// Later news of a target still replies to the digest, its thread.
	e.push(failing("board04", "nsh", "nuttxpr", "deadbeef0003", "feedface0001"), 0)
	if res := e.poll(); res.Posts != 1 {
		t.Fatalf("a new failure after the recoveries made %d posts", res.Posts)
	}
	if x := e.wantNotes(3)[2]; x.InReplyTo != digest.ID || !strings.HasPrefix(x.Source, "Regressed: board04:nsh") {
		t.Errorf("the regression %q replies to %s, want the digest", firstLine(x.Source), x.InReplyTo)
	}
}

func TestDigestListsTwentyAndCountsTheRest(t *testing.T) {
	t.Parallel()
	var builds []Build
	for i := range 27 {
		builds = append(builds, Build{Target: fmt.Sprintf("b%02d:nsh", i), Board: fmt.Sprintf("b%02d", i), Config: "nsh", Arch: "arm",
			User: "nuttxpr", NuttxHash: "1234567890", AppsHash: "abcdef0123", URL: fmt.Sprintf("https://gist.github.com/x/%d", i)})
	}
	c := Formatter{DashboardURL: DefaultDashboardURL}.Digest(builds)
	text := c.PlainText()
	if !strings.Contains(text, "b19:nsh\n") || strings.Contains(text, "b20:nsh") || !strings.Contains(text, "and 7 more") {
		t.Errorf("digest:\n%s", text)
	}
	if got := strings.Count(c.HTML(func(string) string { return "" }), `href="https://gist.github.com/x/`); got != 20 {
		t.Errorf("%d target links, want 20", got)
	}
}

func TestRewindFindsBreakingCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.push(failing("rv-virt", "knsh", "nuttxpr", "badbad0000000001", "app0000000000001"), 0)
	e.poll()
	root := e.wantNotes(1)[0]
	rw := failing("rv-virt", "knsh", "rewind", "badbad0000000001", "app0000000000001")
	rw["target"] = "rv-virt:knsh@badbad0000000001@app0000000000001"
	rw["nuttx_hash_prev"], rw["apps_hash_prev"], rw["build_score_prev"] = "good000000000001", "app0000000000001", "1"
	rw["nuttx_hash_next"], rw["apps_hash_next"], rw["build_score_next"] = "badbad0000000002", "app0000000000001", "0"
	e.push(rw, 0)
	if res := e.poll(); res.Posts != 1 {
		t.Fatalf("rewind result: %+v, want one post", res)
	}
	e.push(rw, 0)
	if res := e.poll(); res.Posts != 0 {
		t.Fatalf("the same rewind result posted again: %+v", res)
	}
	b := e.wantNotes(2)[1]
	if b.InReplyTo != root.ID {
		t.Errorf("breaking commit note replies to %s, want %s", b.InReplyTo, root.ID)
	}
	want := "rv-virt : KNSH - Breaking Commit Found\nThe build broke between nuttx good000 (ok) and badbad0 (failed).\nnuttx-apps unchanged at app0000."
	if !strings.HasPrefix(b.Source, want) {
		t.Errorf("breaking commit note:\n%s\nwant it to start with\n%s", b.Source, want)
	}
	for _, link := range []string{"https://github.com/apache/nuttx/commit/good000000000001", "https://github.com/apache/nuttx/commit/badbad0000000001",
		"https://github.com/apache/nuttx-apps/commit/app0000000000001"} {
		if !strings.Contains(b.Content, `href="`+link+`"`) {
			t.Errorf("no link to %s in %s", link, b.Content)
		}
	}
	if st, _ := e.feed.Status(e.ctx); len(st) != 1 || strings.Join(st[0].Users, ",") != "nuttxpr" {
		t.Errorf("a rewind must not change who is failing: %+v", st)
	}
}

func TestLabelsAndMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	long := strings.Repeat("ün erreur très longue <avec> des & caractères ", 30)
	cases := []struct {
		name   string
		labels promtest.Labels
		check  func(t *testing.T, n note)
	}{
		{"missing labels", promtest.Labels{"target": "sim:ostest", "user": "nuttxlinux", "timestamp": "2024-12-01T00:00:00"},
			func(t *testing.T, n note) {
				want := "sim : OSTEST - Build Failed (nuttxlinux)\nNuttX Dashboard: https://nuttx-dashboard.org\n" +
					"Build History: https://nuttx-dashboard.org/d/fe2q876wubc3kc/nuttx-build-history?var-board=sim&var-config=ostest\n#NuttX"
				if n.Source != want {
					t.Errorf("got\n%s\nwant\n%s", n.Source, want)
				}
			}},
		{"only board and config", promtest.Labels{"board": "nucleo-h743zi", "config": "nsh"},
			func(t *testing.T, n note) {
				if !strings.HasPrefix(n.Source, "nucleo-h743zi : NSH - Build Failed\n") {
					t.Errorf("got %s", n.Source)
				}
			}},
		{"UTF-8, HTML and both newline forms", promtest.Labels{"target": "esp32:nsh", "user": "nuttxpr", "nuttx_hash": "e5e5e5e5",
			"msg": "chip/esp32_gpio.c:12: error: ‘GPIO’ undeclared <b>here</b> & there \n second line\\nthird line from an older series"},
			func(t *testing.T, n note) {
				if !strings.Contains(n.Content, "<pre><code>chip/esp32_gpio.c:12: error: ‘GPIO’ undeclared &lt;b&gt;here&lt;/b&gt; &amp; there\nsecond line\nthird line from an older series</code></pre>") {
					t.Errorf("content %s", n.Content)
				}
			}},
		{"over-long message", promtest.Labels{"target": "rv-virt:long", "board": "rv-virt", "config": "long", "user": "nuttxpr", "nuttx_hash": "1010101",
			"arch": "risc-v", "url": "https://gist.github.com/nuttxpr/long#L1", "url_display": "gist.github.com/nuttxpr/long#L1", "msg": long},
			func(t *testing.T, n note) {
				count := len([]rune(n.Source)) - len([]rune("https://nuttx-dashboard.org")) - len([]rune("https://nuttx-dashboard.org/d/fe2q876wubc3kc/nuttx-build-history?var-board=rv-virt&var-config=long")) -
					len([]rune("gist.github.com/nuttxpr/long#L1")) + 3*23
				if count > 500 || count < 490 {
					t.Errorf("counted as Mastodon does, the post is %d characters, want at most 500 and close to it", count)
				}
				if !strings.Contains(n.Source, "…\n\n#NuttX #risc_v") || !strings.Contains(n.Source, "Build Log: gist.github.com/nuttxpr/long#L1") {
					t.Errorf("cut post:\n%s", n.Source)
				}
				if !strings.Contains(n.Content, `<a href="https://gist.github.com/nuttxpr/long#L1"`) {
					t.Error("the build log link was cut")
				}
			}},
	}
	for _, c := range cases {
		e.stack.Push(t, c.labels, 0)
	}
	e.stack.WaitCount(t, `build_score == 0`, len(cases))
	if res := e.poll(); res.Posts != len(cases) {
		t.Fatalf("%d posts, want %d", res.Posts, len(cases))
	}
	byFirstLine := map[string]note{}
	for _, n := range e.notes() {
		byFirstLine[strings.SplitN(n.Source, " ", 2)[0]] = n
	}
	for _, c := range cases {
		key := c.labels["board"]
		if key == "" {
			key = strings.Split(c.labels["target"], ":")[0]
		}
		n, ok := byFirstLine[key]
		if !ok {
			t.Errorf("%s: no post", c.name)
			continue
		}
		t.Run(c.name, func(t *testing.T) { c.check(t, n) })
	}
}

// TestPrometheusOutage stops Prometheus mid-run: the feed keeps going,
// logs the outage once, posts nothing twice and catches up afterwards.
func TestPrometheusOutage(t *testing.T) {
	t.Parallel()
	// Its own stack: it stops its Prometheus. Polls every 20 ms, backing
	// off to 40 ms while they fail.
	e := newEnvWith(t, ready(t, outage, outageErr), func(c *Config) { c.PollInterval, c.MaxBackoff = 20*time.Millisecond, 40*time.Millisecond })
	polls := e.countPolls()
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { e.feed.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	e.stack.Push(t, failing("rv-virt", "before", "nuttxpr", "b4b4b4b4", "a0a0a0a0"), 0)
	eventually.True(t, 20*time.Second, "the first post", func() bool { return len(e.notes()) == 1 })
	e.stack.StopPrometheus()
	e.stack.Push(t, failing("rv-virt", "during", "nuttxpr", "d0d0d0d0", "a0a0a0a0"), 0) // the Pushgateway keeps it
	failed := polls.failed.Load()
	eventually.True(t, 20*time.Second, "several failed polls", func() bool { return polls.failed.Load() >= failed+3 })
	lastSuccess := e.feed.LastSuccess()
	eventually.True(t, 20*time.Second, "another failed poll", func() bool { return polls.failed.Load() >= failed+4 })
	if e.feed.LastSuccess() != lastSuccess || lastSuccess.IsZero() {
		t.Errorf("the last success moved during the outage: %v -> %v", lastSuccess, e.feed.LastSuccess())
	}
	if got := e.feed.StaleAfter(); got != 100*time.Millisecond {
		t.Errorf("StaleAfter = %v, want 3 intervals + the backoff, 100ms", got)
	}
	if err := e.stack.StartPrometheus(); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 30*time.Second, "the post from during the outage", func() bool { return len(e.notes()) == 2 })
	e.waitPolls(polls, 3) // and no more
	if !e.feed.LastSuccess().After(lastSuccess) {
		t.Error("no success recorded after the outage")
	}
	notes := e.wantNotes(2)
	if !strings.HasPrefix(notes[1].Source, "rv-virt : DURING") {
		t.Errorf("second post: %s", notes[1].Source)
	}
	logs := e.logs.String()
	if n := strings.Count(logs, "feed: poll failed;"); n != 1 || strings.Contains(logs, "still failing") {
		t.Errorf("the outage was logged %d times at error level, want once (it lasted less than FailureLogEvery):\n%s", n, logs)
	}
	if !strings.Contains(logs, "feed: polls work again") {
		t.Error("the end of the outage was not logged")
	}
}

// TestLongOutageIsLoggedAgain: an outage that lasts is logged again every
// FailureLogEvery, not only when it starts.
func TestLongOutageIsLoggedAgain(t *testing.T) {
	t.Parallel()
	dead := "http://" + closedAddr(t) // nothing listens: every poll fails
	e := newEnvWith(t, nil, func(c *Config) {
		c.PrometheusURL, c.PollInterval, c.MaxBackoff, c.FailureLogEvery = dead, 10*time.Millisecond, 20*time.Millisecond, 100*time.Millisecond
	})
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { e.feed.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	eventually.True(t, 10*time.Second, "the outage logged again twice", func() bool {
		return strings.Count(e.logs.String(), "feed: polls still failing") >= 2
	})
	logs := e.logs.String()
	if n := strings.Count(logs, "feed: poll failed;"); n != 1 {
		t.Errorf("the start of the outage logged %d times, want once", n)
	}
	if !strings.Contains(logs, "failed_polls=") || !strings.Contains(logs, "since=") {
		t.Errorf("the repeated line does not say how long it lasts:\n%s", logs)
	}
}

func TestPreviewChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.push(failing("sim", "preview", "nuttxpr", "5a5a5a5a", "6b6b6b6b"), 0)
	before := counts(t, e)
	planned, err := e.feed.Preview(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(planned) != 1 || planned[0].InReplyTo != "" || !strings.HasPrefix(planned[0].Text, "sim : PREVIEW - Build Failed (nuttxpr)") {
		t.Fatalf("preview = %+v", planned)
	}
	if after := counts(t, e); after != before {
		t.Fatalf("preview changed the database: %v -> %v", before, after)
	}
	if res := e.poll(); res.Posts != 1 {
		t.Fatalf("the real poll after a preview posted %d", res.Posts)
	}
	if planned, _ := e.feed.Preview(e.ctx); len(planned) != 0 {
		t.Fatalf("preview after the post: %+v", planned)
	}
}

// TestPreviewNamesTheAccounts: a preview lists the echoes of the feed
// accounts that would repeat a post, each under its account's name, and
// still changes nothing.
func TestPreviewNamesTheAccounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.feedAccount("sim.preview", store.KindTarget, "ann@one.example")
	e.push(failing("sim", "preview", "nuttxpr", "5a5a5a5a", "6b6b6b6b"), 0)
	before := counts(t, e)
	planned, err := e.feed.Preview(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(planned) != 2 || planned[0].Username != "nuttx_build" || planned[1].Username != "sim.preview" ||
		!strings.HasPrefix(planned[1].Text, "sim : PREVIEW - Build Failed (nuttxpr)") || !strings.Contains(planned[1].Text, "Firehose post: ") {
		t.Fatalf("preview = %+v", planned)
	}
	if after := counts(t, e); after != before {
		t.Fatalf("preview changed the database: %v -> %v", before, after)
	}
}

func TestPartialAnswerPostsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.Query = `build_score < 0.5 and on() vector(1) > 2` }) // valid, empty
	e.push(failing("sim", "x", "nuttxpr", "1", "2"), 0)
	if e.feed.LastSuccess() != (time.Time{}) {
		t.Fatal("a success before any poll")
	}
	if res := e.poll(); res.Posts != 0 {
		t.Fatalf("posted %d from a query that matches nothing", res.Posts)
	}
	if e.feed.LastSuccess().IsZero() {
		t.Error("a poll that found nothing is a success, not recorded")
	}
	e.cfg.Query = `build_score <` // a syntax error: the poll fails, nothing is posted
	e.feed = e.newFeed()
	if _, err := e.feed.Poll(e.ctx); err == nil {
		t.Fatal("a bad query did not fail the poll")
	}
	if !e.feed.LastSuccess().IsZero() {
		t.Error("a failed poll recorded as a success")
	}
	e.cfg.PrometheusURL = "http://127.0.0.1:1" // nothing listens
	e.feed = e.newFeed()
	if _, err := e.feed.Poll(e.ctx); err == nil {
		t.Fatal("an unreachable Prometheus did not fail the poll")
	}
	e.wantNotes(0)
}

// dump is every row of every table of e's database, to show that something
// changed nothing.
func dump(t *testing.T, e *env) string {
	t.Helper()
	// The search indexes (notes_fts, failures_fts and their shadow tables)
	// are derived from notes and feed_failures, which are dumped.
	rows, err := e.db.SQL.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
		AND name NOT LIKE 'notes_fts%' AND name NOT LIKE 'failures_fts%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, table := range tables {
		rows, err := e.db.SQL.Query(`SELECT * FROM ` + table + ` ORDER BY 1`) // a WITHOUT ROWID table has no rowid
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		fmt.Fprintf(&b, "%s %v\n", table, cols)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "  %v\n", vals)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func counts(t *testing.T, e *env) string {
	var parts []string
	for _, table := range []string{"notes", "activities", "deliveries", "feed_targets", "feed_failures", "feed_failing"} {
		var n int
		e.db.SQL.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n)
		parts = append(parts, fmt.Sprintf("%s=%d", table, n))
	}
	return strings.Join(parts, " ")
}

func firstLine(s string) string { return strings.SplitN(s, "\n", 2)[0] }

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
