package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/promtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// The Alertmanager receiver, POST /hooks/alertmanager, against `nuttx-feed
// serve` in a child process: its answers to good, bad and unauthenticated
// notifications here, and a real Prometheus and Alertmanager posting
// through it to a follower in hooks_alertmanager_test.go.

// hookFiring is a notification of one firing alert, fingerprint fp.
func hookFiring(fp string) string {
	return `{"version": "4", "status": "firing", "receiver": "nuttx-feed", "externalURL": "http://alertmanager.example:9093",
		"alerts": [{"status": "firing", "fingerprint": "` + fp + `", "startsAt": "2026-01-02T03:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
		"labels": {"alertname": "IngestStopped", "severity": "critical"}, "annotations": {"summary": "The ingest job stopped"},
		"generatorURL": "http://prometheus.example:9090/graph"}]}`
}

// hook POSTs body to the receiver with auth ("" for none).
func (s *apiServer) hook(t *testing.T, auth, body string) (int, map[string]any) {
	t.Helper()
	code, doc, _ := s.request(t, http.MethodPost, "/hooks/alertmanager", auth, "application/json", []byte(body))
	return code, doc
}

// stored is how many notes and alert states the database holds.
func (s *apiServer) stored(t *testing.T) (notes, alerts int) {
	t.Helper()
	row := s.db(t).SQL.QueryRow(`SELECT (SELECT COUNT(*) FROM notes), (SELECT COUNT(*) FROM alerts)`)
	if err := row.Scan(&notes, &alerts); err != nil {
		t.Fatal(err)
	}
	return notes, alerts
}

func TestAlertmanagerHook(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	bearer := "Bearer " + s.token
	valid := hookFiring("a1b2c3d4e5f60718")
	for _, c := range []struct{ name, auth, body, want string }{
		{"no token", "", valid, apiErrBadToken},
		{"bad token", "Bearer nope", valid, apiErrBadToken},
		{"not a bearer token", "Basic " + s.token, valid, apiErrBadToken},
	} {
		if code, doc := s.hook(t, c.auth, c.body); code != http.StatusUnauthorized || doc["error"] != c.want {
			t.Errorf("%s: %d %v, want 401 %q", c.name, code, doc, c.want)
		}
	}
	// A token that may only read posts nothing: the hook needs write:statuses.
	reader := "Bearer " + s.newToken(t, "--scopes", "read", "reader")
	if code, doc := s.hook(t, reader, valid); code != http.StatusForbidden || doc["error"] != apiErrScope {
		t.Errorf("a read-only token: %d %v, want 403 %q", code, doc, apiErrScope)
	}
	// A token acting as another account: the receiver posts as the bot,
	// so it refuses the token rather than post as someone else.
	s.addActor(t, "alerts")
	other := "Bearer " + s.newToken(t, "--account", "alerts", "alerts")
	wantOther := "this token acts as alerts, and the Alertmanager receiver posts as nuttx_build: use a token made without --account"
	if code, doc := s.hook(t, other, valid); code != http.StatusForbidden || doc["error"] != wantOther {
		t.Errorf("another account's token: %d %v, want 403 %q", code, doc, wantOther)
	}
	if notes, alerts := s.stored(t); notes != 0 || alerts != 0 {
		t.Errorf("after the refused notifications: %d notes, %d alerts stored, want none", notes, alerts)
	}
	for _, c := range []struct{ name, body, want string }{
		{"malformed JSON", `{"version": "4",`, "malformed JSON: unexpected EOF"},
		{"unknown version", strings.Replace(valid, `"version": "4"`, `"version": "5"`, 1), `unsupported payload version "5": want "4"`},
		{"bad status", strings.Replace(valid, `"status": "firing", "receiver"`, `"status": "on", "receiver"`, 1), `status "on": want firing or resolved`},
		{"missing fingerprint", hookFiring(""), "alerts[0]: missing fingerprint"},
		{"bad alert status", strings.Replace(valid, `[{"status": "firing"`, `[{"status": "fired"`, 1), `alerts[0]: status "fired": want firing or resolved`},
		{"bad time", strings.Replace(valid, "2026-01-02T03:00:00Z", "2026-01-02 03:00", 1), `alerts[0]: startsAt "2026-01-02 03:00": not an RFC 3339 time`},
		{"resolved without end", strings.Replace(valid, `[{"status": "firing"`, `[{"status": "resolved"`, 1), "alerts[0]: resolved without endsAt"},
		{"data after the object", valid + "x", "malformed JSON: data after the object"},
		// The first alert is good, the second bad: nothing of either is posted.
		{"second alert bad", strings.Replace(hookFiring(""), `"alerts": [`, `"alerts": [{"status": "firing", "fingerprint": "ff", "startsAt": "2026-01-02T03:00:00Z"}, `, 1), "alerts[1]: missing fingerprint"},
	} {
		if code, doc := s.hook(t, bearer, c.body); code != http.StatusBadRequest || doc["error"] != c.want {
			t.Errorf("%s: %d %v, want 400 %q", c.name, code, doc, c.want)
		}
	}
	// A time far ahead would silence the alert's later notifications. The
	// error ends with the server's clock: "(now 2026-...)".
	for _, c := range []struct{ name, body, want string }{
		{"start in the future", strings.Replace(valid, "2026-01-02T03:00:00Z", "9999-12-31T23:59:59Z", 1), "alerts[0]: startsAt 9999-12-31T23:59:59Z is in the future (now "},
		{"end in the future", strings.Replace(strings.Replace(valid, `[{"status": "firing"`, `[{"status": "resolved"`, 1), "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", 1), "alerts[0]: resolved, but endsAt 9999-12-31T23:59:59Z is in the future (now "},
	} {
		if code, doc := s.hook(t, bearer, c.body); code != http.StatusBadRequest || !strings.HasPrefix(fmt.Sprint(doc["error"]), c.want) {
			t.Errorf("%s: %d %v, want 400 %q...", c.name, code, doc, c.want)
		}
	}
	huge := strings.Replace(valid, `"receiver": "nuttx-feed"`, `"receiver": "`+strings.Repeat("x", hookMaxBody)+`"`, 1)
	if code, doc := s.hook(t, bearer, huge); code != http.StatusRequestEntityTooLarge || doc["error"] != "the body is larger than 1048576 bytes" {
		t.Errorf("a body over 1 MiB: %d %v, want 413", code, doc)
	}
	if n, a := s.stored(t); n != 0 || a != 0 {
		t.Fatalf("refused notifications left %d notes and %d alerts", n, a)
	}
	// A good one posts once; sent again (a repeat), it posts nothing.
	for i, want := range []float64{1, 0} {
		if code, doc := s.hook(t, bearer, valid); code != http.StatusOK || doc["posts"] != want {
			t.Errorf("notification %d: %d %v, want 200 with %v posts", i, code, doc, want)
		}
	}
	if n, a := s.stored(t); n != 1 || a != 1 {
		t.Errorf("%d notes and %d alerts, want 1 and 1", n, a)
	}
}

// TestAlertTemplateSetting: --alert-template takes a file of templates;
// a mistake in it stops serve at once, naming the file and line.
func TestAlertTemplateSetting(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.tmpl")
	if err := os.WriteFile(bad, []byte("{{define \"firing\"}}\n{{.Name}\n{{end}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// --listen nowhere: serve exits 2 even if the template were taken.
	code, _, stderr := run("serve", "--data", dir, "--listen", "nowhere", "--alert-template", bad)
	if want := fmt.Sprintf("--alert-template %q: alert template: template: %s:2: ", bad, bad); code != 2 || !strings.Contains(stderr, want) {
		t.Errorf("serve with a bad template: exit %d, %q; want 2 and %q", code, stderr, want)
	}
	code, _, stderr = run("serve", "--data", dir, "--listen", "nowhere", "--alert-template", filepath.Join(dir, "none.tmpl"))
	if code != 2 || !strings.Contains(stderr, "none.tmpl: no such file or directory") {
		t.Errorf("serve with a missing template: exit %d, %q", code, stderr)
	}
}

// TestAlertmanagerHookAfterDelete: the answer counts posts and recorded
// alerts, and once the thread's root is deleted through the API, the
// resolution is a root of its own, not a reply to the deleted post.
func TestAlertmanagerHookAfterDelete(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	bearer := "Bearer " + s.token
	resolved := func(fp string) string {
		return strings.NewReplacer(`"status": "firing"`, `"status": "resolved"`, `"0001-01-01T00:00:00Z"`, `"2026-01-02T04:00:00Z"`).Replace(hookFiring(fp))
	}
	if code, doc := s.hook(t, bearer, resolved("0b")); code != http.StatusOK || doc["posts"] != 0.0 || doc["recorded"] != 1.0 {
		t.Errorf("resolved, never seen: %d %v, want 200 with 0 posts, 1 recorded", code, doc)
	}
	if code, doc := s.hook(t, bearer, hookFiring("0a")); code != http.StatusOK || doc["posts"] != 1.0 || doc["recorded"] != 0.0 {
		t.Fatalf("firing: %d %v, want 200 with 1 post", code, doc)
	}
	var root string
	if err := s.db(t).SQL.QueryRow(`SELECT public_id FROM notes`).Scan(&root); err != nil {
		t.Fatal(err)
	}
	if code, doc, _ := s.request(t, http.MethodDelete, "/api/v1/statuses/"+root, bearer, "", nil); code != http.StatusOK {
		t.Fatalf("DELETE the root: %d %v", code, doc)
	}
	if code, doc := s.hook(t, bearer, resolved("0a")); code != http.StatusOK || doc["posts"] != 1.0 {
		t.Fatalf("resolved: %d %v, want 200 with 1 post", code, doc)
	}
	var source, parent string
	err := s.db(t).SQL.QueryRow(`SELECT source, in_reply_to FROM notes WHERE deleted_at IS NULL`).Scan(&source, &parent)
	if err != nil || parent != "" || !strings.HasPrefix(source, "Resolved after 1h: IngestStopped") {
		t.Errorf("the resolution: %q in reply to %q (%v), want a root", source, parent, err)
	}
}

// TestAlertTemplateServed: serve posts alerts with the texts of
// --alert-template, the built-in ones for what the file leaves out.
func TestAlertTemplateServed(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "alerts.tmpl")
	if err := os.WriteFile(file, []byte(`{{define "firing"}}ALERT {{.Name}} on {{.Receiver}}{{end}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(c *Config) { c.AlertTemplate = file })
	token := store.NewToken()
	if err := ts.store.Update(context.Background(), func(tx *store.Tx) error {
		return tx.CreateToken(store.Token{Name: "alertmanager", Scopes: "write"}, token)
	}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, ts.URL+urls.HookAlertmanager.Pattern, strings.NewReader(hookFiring("0a")))
	req.Header.Set("Authorization", "Bearer "+token)
	if a := send(t, req); a.status != http.StatusOK {
		t.Fatalf("notification: %d %s", a.status, a.body)
	}
	var source string
	if err := ts.sql(t).QueryRow(`SELECT source FROM notes`).Scan(&source); err != nil || source != "ALERT IngestStopped on nuttx-feed" {
		t.Errorf("the post reads %q (%v), want the template's text", source, err)
	}
}

// ingestRule fires while the Pushgateway's ingest_up is 0.
const ingestRule = `groups:
  - name: ingest
    rules:
      - alert: IngestStopped
        expr: ingest_up == 0
        labels: {severity: critical}
        annotations:
          summary: The ingest job stopped
          description: "{{ $labels.instance }} has not run."
          dashboard: https://grafana.example/d/ingest
`

// TestAlertmanagerPostsThroughTheHook: a rule of a real Prometheus fires
// and clears; a real Alertmanager posts to the receiver with a token; a
// follower gets the firing post, nothing for the repeats, then the
// "resolved after" reply threaded under it.
func TestAlertmanagerPostsThroughTheHook(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	follower := s.remote(t, "alice", fedtest.Mastodon, false)
	s.follow(t, follower)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(s.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	am := promtest.StartAlertmanager(t, promtest.AlertmanagerOptions{
		WebhookURL: s.url + "/hooks/alertmanager", TokenFile: tokenFile, MaxAlerts: 100})
	stack, err := promtest.Launch(promtest.Options{ScrapeInterval: 200 * time.Millisecond, Rules: ingestRule, Alertmanager: am.Addr})
	promtest.Check(t, err)
	t.Cleanup(stack.Close)
	promtest.Check(t, stack.Ready())

	stack.PushText(t, "ingest", "farm-1", "# TYPE ingest_up gauge\ningest_up 0\n")
	root := follower.WaitDeliveries(t, 2, 60*time.Second)[1] // after the Accept
	note, _ := root.Activity["object"].(map[string]any)
	content, _ := note["content"].(string)
	if root.VerifyErr != nil || root.Activity["type"] != "Create" || note["inReplyTo"] != nil ||
		!strings.Contains(content, "Firing: IngestStopped (critical)") || !strings.Contains(content, "farm-1 has not run.") ||
		!strings.Contains(content, `href="https://grafana.example/d/ingest"`) {
		t.Fatalf("the firing post: %v (signature: %v)", root.Activity, root.VerifyErr)
	}

	// Alertmanager repeats the firing alert every 2 s: it is sent, and
	// posts nothing.
	sentAtRoot := notificationsSent(t, am)
	eventually.True(t, 30*time.Second, "Alertmanager repeats the alert", func() bool { return notificationsSent(t, am) >= sentAtRoot+2 })
	if n := s.noteCount(t); n != 1 {
		t.Fatalf("%d notes after the repeats, want 1", n)
	}

	stack.PushText(t, "ingest", "farm-1", "# TYPE ingest_up gauge\ningest_up 1\n")
	resolved := follower.WaitDeliveries(t, 3, 60*time.Second)[2]
	reply, _ := resolved.Activity["object"].(map[string]any)
	text, _ := reply["content"].(string)
	if resolved.VerifyErr != nil || resolved.Activity["type"] != "Create" || reply["inReplyTo"] != note["id"] ||
		!strings.Contains(text, "Resolved after ") || !strings.Contains(text, ": IngestStopped") {
		t.Fatalf("the resolved reply: %v (signature: %v), want a reply to %v", resolved.Activity, resolved.VerifyErr, note["id"])
	}
	if _, failed, err := am.Notifications(); err != nil || failed != 0 {
		t.Errorf("Alertmanager: %d failed notifications (%v)", failed, err)
	}
}

// notificationsSent is how many notifications Alertmanager's webhook sent.
func notificationsSent(t *testing.T, am *promtest.Alertmanager) int {
	t.Helper()
	sent, _, err := am.Notifications()
	if err != nil {
		t.Fatal(err)
	}
	return sent
}

// TestDeployAlertmanagerConfig: the receiver configuration that
// docs/deploy.md shows passes Alertmanager's own check (amtool), names
// the webhook's path, and routes to the bot only the alerts labelled
// publish="fediverse": docs/alerts.yml's own alerts go elsewhere.
func TestDeployAlertmanagerConfig(t *testing.T) {
	t.Parallel()
	amtool, err := exec.LookPath("amtool")
	if err != nil {
		promtest.Check(t, fmt.Errorf("amtool: %w: install Debian's prometheus-alertmanager", promtest.ErrMissing))
	}
	guide := readFile(t, deployGuide)
	if !strings.Contains(guide, "nuttx-feed token create --scopes write:statuses alertmanager") {
		t.Errorf("docs/deploy.md does not make the receiver's token with --scopes write:statuses, which it needs")
	}
	_, block, _ := strings.Cut(guide, "```yaml\nroute:\n")
	block, _, found := strings.Cut(block, "```")
	if !found || !strings.Contains(block, "url: https://nuttx-feed.org"+urls.HookAlertmanager.Pattern) {
		t.Fatalf("docs/deploy.md has no Alertmanager configuration with the webhook's URL")
	}
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	config := filepath.Join(dir, "alertmanager.yml")
	block = strings.ReplaceAll("route:\n"+block, "/etc/prometheus/nuttx-feed-alerts.token", token)
	if err := os.WriteFile(token, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, []byte(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(amtool, "check-config", config).CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config of docs/deploy.md's configuration: %v\n%s", err, out)
	}
	for labels, want := range map[string]string{
		"alertname=IngestStopped publish=fediverse": "nuttx-feed",
		"alertname=IngestStopped":                   "team",
		"alertname=NuttxFeedDown severity=critical": "team",
		"alertname=FeedStale severity=warning":      "team",
	} {
		args := append([]string{"config", "routes", "test", "--config.file", config}, strings.Fields(labels)...)
		out, err := exec.Command(amtool, args...).Output() // stdout: the receivers
		if got := strings.TrimSpace(string(out)); err != nil || got != want {
			t.Errorf("docs/deploy.md routes %s to %q (%v), want %q", labels, got, err, want)
		}
	}
}

// TestAlertmanagerHookIsRateLimited: the receiver counts against
// --rate-limit like the API.
func TestAlertmanagerHookIsRateLimited(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.RateLimit = 1 })
	statuses := make([]int, 2)
	for i := range statuses {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+urls.HookAlertmanager.Pattern, strings.NewReader(hookFiring("0a")))
		statuses[i] = send(t, req).status
	}
	if statuses[0] != http.StatusUnauthorized || statuses[1] != http.StatusTooManyRequests {
		t.Errorf("two notifications without a token: %v, want 401 then 429", statuses)
	}
}
