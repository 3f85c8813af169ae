package server

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
	"github.com/nuttx-feed/nuttx-feed/migrations"
)

// TestMain lets tests run the real command line in a child process: the
// test binary re-executes itself with NUTTX_FEED_RUN_MAIN=1.
func TestMain(m *testing.M) {
	if os.Getenv("NUTTX_FEED_RUN_MAIN") == "1" {
		os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type testServer struct {
	*Server
	URL  string
	Dir  string
	stop context.CancelFunc
	done chan error
	logs *bytes.Buffer
}

// startServer runs a real server on a free loopback port, with its base
// URL pointing at itself, until the test ends.
func startServer(t *testing.T, mutate ...func(*Config)) *testServer {
	t.Helper()
	addr := freeAddr(t)
	cfg := Config{
		BaseURL:              "http://" + addr,
		Listen:               addr,
		DataDir:              t.TempDir(),
		Username:             "nuttx_build",
		DisplayName:          defaultDisplayName,
		Summary:              defaultSummary,
		AllowPrivateNetworks: true,
		LogFormat:            "text",
	}
	for _, m := range mutate {
		m(&cfg)
	}
	return startWith(t, cfg)
}

func startWith(t *testing.T, cfg Config) *testServer {
	t.Helper()
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := Open(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{Server: s, URL: cfg.BaseURL, Dir: cfg.DataDir, stop: cancel, done: make(chan error, 1), logs: logs}
	go func() { ts.done <- s.Run(ctx) }()
	t.Cleanup(func() {
		ts.Stop(t)
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return ts
}

// Stop shuts the server down and waits for it (idempotent).
func (ts *testServer) Stop(t *testing.T) {
	if ts.stop == nil {
		return
	}
	ts.stop()
	ts.stop = nil
	select {
	case err := <-ts.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("server did not stop within 15 s")
	}
}

type lockedWriter struct {
	mu chan struct{}
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	if l.mu == nil {
		l.mu = make(chan struct{}, 1)
	}
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return l.w.Write(p)
}

// get fetches path with an Accept header.
func get(t *testing.T, url, accept string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

const apAccept = "application/activity+json"

// getJSON fetches an ActivityPub document and decodes it.
func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, body := get(t, url, apAccept)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return m
}

// snapshot counts rows in every table of the server's database.
func (ts *testServer) snapshot(t *testing.T) map[string]int {
	out := map[string]int{}
	for _, table := range []string{"actors", "followers", "remote_actors", "notes", "activities", "deliveries", "delivery_attempts"} {
		out[table] = storetest.Count(t, ts.sql(t), table)
	}
	return out
}

// run executes the command line in-process and returns exit status and output.
func run(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := Main(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func dbPath(dir string) string { return filepath.Join(dir, "nuttx-feed.db") }

// sql opens a plain handle on the server's database file, to check what it
// wrote behind the store's back.
func (ts *testServer) sql(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", migrations.DSN(dbPath(ts.Dir)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// publish publishes text as the bot, as `nuttx-feed post` does.
func (ts *testServer) publish(t *testing.T, text string) *store.Note {
	t.Helper()
	n, err := ts.publishPost(t, activitypub.Post{Content: richtext.Parse(text)})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// publishPost publishes p as the bot in a transaction of its own.
func (ts *testServer) publishPost(t *testing.T, p activitypub.Post) (n *store.Note, err error) {
	err = ts.store.Update(t.Context(), func(tx *store.Tx) error {
		n, err = ts.svc.Publish(tx, "nuttx_build", p)
		return err
	})
	return n, err
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	eventually.True(t, timeout, what, cond)
}
