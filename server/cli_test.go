package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
	"github.com/nuttx-feed/nuttx-feed/migrations"
)

func TestCommandLine(t *testing.T) {
	dir := newData(t)
	empty := t.TempDir()
	for _, c := range []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stdout string // substring
		stderr string // substring; must be a single line when code is 2
	}{
		{"version", []string{"version"}, nil, 0, "nuttx-feed dev", ""},
		{"help", []string{"--help"}, nil, 0, "Commands:", ""},
		{"no command", nil, nil, 2, "", "Usage: nuttx-feed COMMAND"},
		{"unknown command", []string{"frobnicate"}, nil, 2, "", `unknown command "frobnicate"`},
		{"serve help", []string{"serve", "--help"}, nil, 0, "NUTTX_FEED_ALLOW_PRIVATE_NETWORKS", ""},
		{"post help", []string{"post", "-h"}, nil, 0, "--in-reply-to", ""},
		{"help lists the admin commands", []string{"help"}, nil, 0, "token create|list|revoke NAME", ""},
		{"followers help", []string{"followers", "--help"}, nil, 0, "remove ACTOR", ""},
		{"block help", []string{"block", "add", "--help"}, nil, 0, "--json", ""},
		{"deliveries help", []string{"deliveries", "--help"}, nil, 0, "deliveries retry [flags] HOST", ""},
		{"deliveries list help", []string{"deliveries", "--failed", "--help"}, nil, 0, "--failed", ""},
		{"delete help", []string{"delete", "--help"}, nil, 0, "Tombstone", ""},
		{"bad flag", []string{"serve", "--no-such-flag"}, nil, 2, "", "flag provided but not defined: -no-such-flag"},
		{"bad base URL", []string{"serve", "--base-url", "ftp://x"}, nil, 2, "", "--base-url"},
		{"bad listen", []string{"serve", "--listen", "nowhere"}, nil, 2, "", "--listen"},
		{"bad username", []string{"serve", "--username", "Bad Name"}, nil, 2, "", "--username"},
		{"bad log format", []string{"serve", "--log-format", "xml"}, nil, 2, "", "--log-format"},
		{"bad bool in env", []string{"serve"}, map[string]string{"NUTTX_FEED_ALLOW_PRIVATE_NETWORKS": "maybe"}, 2, "", "NUTTX_FEED_ALLOW_PRIVATE_NETWORKS"},
		{"bad base URL in env", []string{"serve"}, map[string]string{"NUTTX_FEED_BASE_URL": "nuttx-feed.org"}, 2, "", "--base-url"},
		{"extra argument", []string{"serve", "now"}, nil, 2, "", `unexpected argument "now"`},
		{"post without text", []string{"post", "--data", dir}, nil, 2, "", "exactly one TEXT"},
		{"post empty text", []string{"post", "--data", dir, "  "}, nil, 2, "", "empty"},
		{"post bad parent", []string{"post", "--data", dir, "--in-reply-to", "not a note", "hi"}, nil, 2, "", "in-reply-to"},
		{"post unknown local parent", []string{"post", "--data", dir, "--in-reply-to", "0123456789abcdef0123456789abcdef", "hi"}, nil, 2, "", "no local note"},
		{"post without a database", []string{"post", "--data", empty, "hi"}, nil, 1, "", "no nuttx-feed database in " + empty + "; pass --data DIR"},
		{"feed status without a database", []string{"feed", "status", "--data", empty}, nil, 1, "", "no nuttx-feed database in " + empty},
		{"profile show without a database", []string{"profile", "show", "--data", empty}, nil, 1, "", "no nuttx-feed database in " + empty},
		{"deliveries retry without a database", []string{"deliveries", "retry", "--data", empty, "example.com"}, nil, 1, "", "no nuttx-feed database in " + empty},
	} {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := run(c.args...)
			if code != c.code || !strings.Contains(stdout, c.stdout) || !strings.Contains(stderr, c.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d with %q / %q", code, stdout, stderr, c.code, c.stdout, c.stderr)
			}
			if c.code == 2 && c.args != nil && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("usage error takes %d lines, want one: %q", strings.Count(stderr, "\n"), stderr)
			}
		})
	}
}

func TestEnvironmentConfiguresServe(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("NUTTX_FEED_BASE_URL", "https://feed.example")
	t.Setenv("NUTTX_FEED_LISTEN", "127.0.0.1:0")
	t.Setenv("NUTTX_FEED_DATA", dir)
	t.Setenv("NUTTX_FEED_USERNAME", "ci_bot")
	t.Setenv("NUTTX_FEED_DISPLAY_NAME", "CI Bot")
	t.Setenv("NUTTX_FEED_LOG_FORMAT", "json")
	serve := serveInChild(t, "--display-name", "Flag Wins")
	addr := serve.Addr
	if host, port, err := net.SplitHostPort(addr); err != nil || host != "127.0.0.1" || port == "0" || port == "8080" {
		t.Fatalf("started line says listen=%q: want NUTTX_FEED_LISTEN's host with the port the kernel picked", addr)
	}
	if resp, body := get(t, "http://"+addr+"/health", ""); resp.StatusCode != 200 {
		t.Fatalf("health: %d %s", resp.StatusCode, body)
	}
	a := getJSON(t, "http://"+addr+"/users/ci_bot")
	if a["id"] != "https://feed.example/users/ci_bot" || a["name"] != "Flag Wins" {
		t.Errorf("actor id %v name %v: want the environment's base URL and the flag's name", a["id"], a["name"])
	}
	if _, err := os.Stat(filepath.Join(dir, "nuttx-feed.db")); err != nil {
		t.Errorf("no database in NUTTX_FEED_DATA: %v", err)
	}
	if err := serve.stop(); err != nil {
		t.Errorf("serve exited with %v after SIGTERM; log:\n%s", err, serve.log)
	}
	if !strings.Contains(serve.log.String(), `"msg":"nuttx-feed stopped"`) {
		t.Errorf("no JSON log of a clean stop:\n%s", serve.log)
	}
}

// TestSecondServerOnSameDataRefused: the lock is on the database file
// itself, so deleting whatever looks like a lock file (serve.lock of older
// versions) lets no second server in beside the first. The second one runs
// in a process of its own, as it would for real: in this process, closing
// its descriptor of the database would drop the first server's SQLite
// locks (see lockDatabase).
func TestSecondServerOnSameDataRefused(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	locks, _ := filepath.Glob(filepath.Join(ts.Dir, "*lock*"))
	for _, f := range append(locks, filepath.Join(ts.Dir, "serve.lock")) {
		os.Remove(f)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second) // a second server that starts is stopped
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "serve", "--data", ts.Dir, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "NUTTX_FEED_RUN_MAIN=1")
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 || !strings.Contains(string(out), "another nuttx-feed serve is using") {
		t.Fatalf("second serve: exit %d (%v), %q", code, err, out)
	}
	ts.publish(t, "the first server still writes")
	if fi, err := os.Stat(dbPath(ts.Dir)); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode %v, want 0600 (it holds the private key)", fi.Mode())
	}
	ts.Stop(t)
	serveInChild(t, "--data", ts.Dir, "--listen", "127.0.0.1:0") // the lock went with the first server
}

func TestRefuseNewerDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := storetest.OpenAt(t, dbPath(dir))
	all, _ := migrations.All()
	if _, err := db.SQL.Exec(`INSERT INTO schema_migrations VALUES (?, 'future.sql', 'now')`, all[len(all)-1].Version+1); err != nil {
		t.Fatal(err)
	}
	db.SQL.Close()
	db.Close()
	code, _, stderr := run("serve", "--data", dir, "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(stderr, "newer than this binary") {
		t.Fatalf("serve on a newer database: exit %d, %q", code, stderr)
	}
	code, _, stderr = run("post", "--data", dir, "hello")
	if code != 1 || !strings.Contains(stderr, "newer than this binary") {
		t.Fatalf("post on a newer database: exit %d, %q", code, stderr)
	}
}

func TestPostReadsStdinAndReplies(t *testing.T) {
	t.Parallel()
	dir := newData(t)
	var out strings.Builder
	code := Main([]string{"post", "--data", dir, "-"}, strings.NewReader("from stdin\n\nsecond paragraph #NuttX\n"), &out, io.Discard)
	if code != 0 {
		t.Fatalf("post -: exit %d", code)
	}
	parent := strings.TrimSpace(out.String())
	for _, ref := range []string{parent, parent[strings.LastIndex(parent, "/")+1:], strings.Replace(parent, "/users/nuttx_build/statuses/", "/@nuttx_build/", 1)} {
		code, stdout, stderr := run("post", "--data", dir, "--in-reply-to", ref, "a reply")
		if code != 0 {
			t.Fatalf("reply to %s: %s", ref, stderr)
		}
		db := storetest.OpenAt(t, dbPath(dir)).SQL
		var inReplyTo string
		db.QueryRow(`SELECT in_reply_to FROM notes WHERE public_id = ?`, stdout[strings.LastIndex(stdout, "/")+1:len(stdout)-1]).Scan(&inReplyTo)
		db.Close()
		if inReplyTo != parent {
			t.Errorf("--in-reply-to %s stored %q, want %q", ref, inReplyTo, parent)
		}
	}
	db := storetest.OpenAt(t, dbPath(dir)).SQL
	var content string
	db.QueryRow(`SELECT content FROM notes ORDER BY id LIMIT 1`).Scan(&content)
	if !strings.HasPrefix(content, "<p>from stdin</p><p>second paragraph <a href=") {
		t.Errorf("content %q", content)
	}
}

// TestDeliveriesRetry: the operator's command releases what the breaker
// parked for a server, says when nothing was held, and refuses a data
// folder without a database rather than make one.
func TestDeliveriesRetry(t *testing.T) {
	t.Parallel()
	dir := newData(t)
	if code, _, stderr := run("post", "--data", dir, "hello"); code != 0 {
		t.Fatal(stderr)
	}
	db := storetest.OpenAt(t, dbPath(dir))
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		return tx.SaveHost(store.Host{Domain: "example.com", State: store.HostParked, Failures: 40, FailingSince: tx.Now.Add(-8 * 24 * time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run("deliveries", "retry", "--data", dir, "https://social.example.com/users/a/inbox")
	if code != 0 || out != "example.com: its held deliveries go out again (a running server sends them within a second)\n" {
		t.Errorf("retry of a parked host: exit %d, %q %q", code, out, stderr)
	}
	err = db.View(context.Background(), func(tx *store.Tx) error {
		if _, ok, err := tx.Host("example.com"); err != nil || ok {
			t.Errorf("the host is still in the breaker (%v)", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, out, _ := run("deliveries", "retry", "--data", dir, "example.com"); code != 0 || !strings.Contains(out, "nothing was held") {
		t.Errorf("retry of a healthy host: exit %d, %q", code, out)
	}
	empty := t.TempDir()
	code, _, stderr = run("deliveries", "retry", "--data", empty, "example.com")
	if code != 1 || !strings.Contains(stderr, "no nuttx-feed database in "+empty) {
		t.Errorf("retry without a database: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(dbPath(empty)); err == nil {
		t.Error("the command created a database")
	}
	if code, _, _ := run("deliveries", "retry", "--data", dir); code != 2 {
		t.Errorf("retry without HOST: exit %d, want 2", code)
	}
}

// TestLogLevel: --log-level debug shows every GET request; the default,
// info, does not.
func TestLogLevel(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		level    string
		wantGETs bool
	}{{"debug", true}, {"info", false}} {
		child := serveInChild(t, "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--prometheus-url", "", "--log-level", c.level)
		resp, err := http.Get("http://" + child.Addr + "/users/nuttx_build")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if err := child.stop(); err != nil {
			t.Fatal(err)
		}
		logged := strings.Contains(child.log.String(), "uri=/users/nuttx_build")
		if logged != c.wantGETs {
			t.Errorf("--log-level %s: GET logged %v, want %v:\n%s", c.level, logged, c.wantGETs, child.log.String())
		}
	}
}

// TestBackupWhileServing: `backup` copies the database of a running
// server, privately, and the copy holds its posts; it never overwrites a
// file, and refuses a data folder without a database.
func TestBackupWhileServing(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.publish(t, "before the backup")
	file := filepath.Join(t.TempDir(), "backup.db")
	code, out, stderr := run("backup", "--data", ts.Dir, file)
	if code != 0 || !strings.HasPrefix(out, file+": ") {
		t.Fatalf("backup: exit %d, %q %q", code, out, stderr)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the copy: %v, want mode 600", err)
	}
	if n := storetest.Count(t, storetest.OpenAt(t, file).SQL, "notes"); n != 1 {
		t.Errorf("the copy has %d notes, want 1", n)
	}
	ts.publish(t, "after the backup") // the server goes on writing
	if code, _, stderr := run("backup", "--data", ts.Dir, file); code != 1 || !strings.Contains(stderr, "exists already") {
		t.Errorf("a backup onto an existing file: exit %d, %q", code, stderr)
	}
	empty := t.TempDir()
	if code, _, stderr := run("backup", "--data", empty, filepath.Join(t.TempDir(), "x.db")); code != 1 || !strings.Contains(stderr, "no nuttx-feed database in") {
		t.Errorf("a backup of nothing: exit %d, %q", code, stderr)
	}
	if databaseExists(empty) {
		t.Error("backup created a database")
	}
}

// TestHealthcheckCommand: exit 0 and the report from a healthy server (found
// over loopback when it listens on every address), 1 when nothing answers
// and when the server is unhealthy.
func TestHealthcheckCommand(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.PrometheusURL = "" })
	_, port, _ := net.SplitHostPort(ts.Addr())
	for _, listen := range []string{ts.Addr(), "0.0.0.0:" + port} {
		if code, out, stderr := run("healthcheck", "--listen", listen); code != 0 || !strings.Contains(out, `"status":"ok"`) {
			t.Errorf("healthcheck --listen %s: exit %d, %q %q", listen, code, out, stderr)
		}
	}
	if code, _, stderr := run("healthcheck", "--listen", closedPort(t, "127.0.0.1")); code != 1 || !strings.Contains(stderr, "connection refused") {
		t.Errorf("nothing listening: exit %d, %q", code, stderr)
	}
	// What /health answers when the database takes no write (health_test.go
	// gets it from a real server on a read-only database): here only the
	// command's reading of it is tested.
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"status":"fail","checks":{"database":"fail: cannot write (see the log)"}}`)
	}))
	defer sick.Close()
	code, out, stderr := run("healthcheck", "--listen", strings.TrimPrefix(sick.URL, "http://"))
	if code != 1 || !strings.Contains(out, `"status":"fail"`) || !strings.Contains(stderr, "HTTP 503") {
		t.Errorf("an unhealthy server: exit %d, %q %q", code, out, stderr)
	}
}
