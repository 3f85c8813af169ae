package server

import (
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/promtest"
)

// TestServeFeedEndToEnd: serve with the feed on; a failed build pushed to
// the Pushgateway the farm's way reaches a follower on another server,
// threaded under its target, and its recovery follows in the thread. The
// feed commands report the same.
func TestServeFeedEndToEnd(t *testing.T) {
	t.Parallel() // its own Prometheus, server and data
	stack := promtest.Start(t)
	ts := startServer(t, func(c *Config) {
		c.PrometheusURL, c.PollInterval, c.Query, c.PostRecoveries = stack.PromURL, time.Second, "build_score < 0.5", true
		c.BurstThreshold, c.MaxChars = 10, 500
		c.DashboardURL, c.HistoryURLTemplate = "https://nuttx-dashboard.org", "https://nuttx-dashboard.org/h?b={board}&c={config}"
	})
	r := fedtest.New(t, "gts_user", fedtest.GoToSocial, fedtest.FetchKeys)
	if resp, err := r.Post(ts.URL+"/inbox", r.FollowActivity(ts.URL+"/users/nuttx_build")); err != nil || resp.StatusCode != 202 {
		t.Fatalf("follow: %v", err)
	}
	r.WaitDeliveries(t, 1, 10*time.Second)

	labels := promtest.Labels{"user": "nuttxpr", "target": "rv-virt:citest", "board": "rv-virt", "config": "citest", "arch": "risc-v",
		"nuttx_hash": "0481533aaaa", "apps_hash": "b08c296bbbb", "timestamp": "2024-12-06T06:14:54",
		"url": "https://gist.github.com/nuttxpr/1#L1", "url_display": "gist.github.com/nuttxpr/1", "msg": "arch/risc-v/src/x.c:1: error: boom"}
	stack.Push(t, labels, 0)
	d := r.WaitDeliveries(t, 2, 30*time.Second)[1]
	root := d.Activity["object"].(map[string]any)
	if d.VerifyErr != nil || !strings.HasPrefix(root["content"].(string), "<p>rv-virt : CITEST - Build Failed (nuttxpr)<br>") {
		t.Fatalf("failure note: %v %v", d.VerifyErr, root["content"])
	}

	code, out, errOut := run("feed", "status", "--data", ts.Dir, "--base-url", ts.URL)
	if code != 0 || !strings.Contains(out, "1 failing targets:") || !strings.Contains(out, "rv-virt:citest") || !strings.Contains(out, root["id"].(string)) {
		t.Errorf("feed status: exit %d\n%s%s", code, out, errOut)
	}

	labels["nuttx_hash"], labels["timestamp"], labels["msg"] = "c0ffee1", "2024-12-07T00:00:00", ""
	stack.Push(t, labels, 1)
	d = r.WaitDeliveries(t, 3, 30*time.Second)[2]
	rec := d.Activity["object"].(map[string]any)
	if rec["inReplyTo"] != root["id"] || !strings.Contains(rec["content"].(string), "Build Recovered") {
		t.Fatalf("recovery note in reply to %v: %v", rec["inReplyTo"], rec["content"])
	}
	code, out, _ = run("feed", "status", "--data", ts.Dir)
	if code != 0 || !strings.Contains(out, "No target is failing.") {
		t.Errorf("feed status after the recovery: %d %s", code, out)
	}

	// preview against the live Prometheus: nothing new to post.
	code, out, errOut = run("feed", "preview", "--data", ts.Dir, "--base-url", ts.URL, "--prometheus-url", stack.PromURL)
	if code != 0 || strings.TrimSpace(out) != "Nothing new to post." {
		t.Errorf("feed preview: exit %d %q %s", code, out, errOut)
	}
	ts.Stop(t) // else the running server's feed may post it before the preview looks
	stack.Push(t, promtest.Labels{"user": "nuttxpr", "target": "sim:nsh", "board": "sim", "config": "nsh", "nuttx_hash": "1"}, 0)
	stack.WaitCount(t, `build_score{target="sim:nsh"} == 0`, 1)
	code, out, _ = run("feed", "preview", "--data", ts.Dir, "--base-url", ts.URL, "--prometheus-url", stack.PromURL)
	if code != 0 || !strings.Contains(out, "--- post 1 of 1, by @nuttx_build, a new thread\nsim : NSH - Build Failed (nuttxpr)") {
		t.Errorf("feed preview: exit %d %q", code, out)
	}
}

func TestFeedFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--prometheus-url", "localhost:9090"}, "--prometheus-url"},
		{[]string{"serve", "--poll-interval", "1ms"}, "--poll-interval"},
		{[]string{"serve", "--poll-interval", "soon"}, "invalid value"},
		{[]string{"serve", "--max-chars", "20"}, "--max-chars"},
		{[]string{"serve", "--burst-threshold", "-1"}, "--burst-threshold"},
		{[]string{"serve", "--history-url-template", "nuttx-dashboard.org/{board}"}, "--history-url-template"},
		{[]string{"feed"}, "Usage: nuttx-feed feed"},
		{[]string{"feed", "explode"}, `unknown subcommand "explode"`},
		{[]string{"feed", "preview", "--prometheus-url", ""}, "nothing to preview"},
	} {
		code, _, stderr := run(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d %q, want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	code, out, _ := run("serve", "--help")
	for _, flag := range []string{"--prometheus-url", "--poll-interval", "--query", "--post-recoveries", "--burst-threshold",
		"--dashboard-url", "--history-url-template", "--max-chars", "NUTTX_FEED_POLL_INTERVAL"} {
		if code != 0 || !strings.Contains(out, flag) {
			t.Errorf("serve --help lacks %s", flag)
		}
	}
	t.Setenv("NUTTX_FEED_POST_RECOVERIES", "perhaps")
	if code, _, stderr := run("serve"); code != 2 || !strings.Contains(stderr, "NUTTX_FEED_POST_RECOVERIES") {
		t.Errorf("bad NUTTX_FEED_POST_RECOVERIES: %d %q", code, stderr)
	}
}
