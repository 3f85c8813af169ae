package server

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/feed"
	"github.com/nuttx-feed/nuttx-feed/internal/logtest"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/servetest"
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

// listen opens a listener on a loopback port the kernel picks, for a
// server to take over (WithListener): nothing closes a port and binds it
// again, so nothing else can take it in between.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() }) // in case no server took it over
	return ln
}

type testServer struct {
	*Server
	URL  string // where it listens, "http://127.0.0.1:PORT": its base URL too unless mutate changed it
	Dir  string
	stop context.CancelFunc
	done chan error
	logs *logtest.Buffer
}

// startServer runs a real server on a loopback port of its own, with its
// base URL pointing at itself, until the test ends.
func startServer(t *testing.T, mutate ...func(*Config)) *testServer {
	t.Helper()
	ln := listen(t)
	cfg := startConfig(t, ln)
	for _, m := range mutate {
		m(&cfg)
	}
	return startWith(t, cfg, ln)
}

// startConfig is the configuration of a test server listening on ln,
// with its base URL pointing at itself and a data folder of its own.
func startConfig(t testing.TB, ln net.Listener) Config {
	addr := ln.Addr().String()
	return Config{
		BaseURL:              "http://" + addr,
		Listen:               addr,
		DataDir:              t.TempDir(),
		Username:             "nuttx_build",
		DisplayName:          defaultDisplayName,
		Summary:              defaultSummary,
		AllowPrivateNetworks: true,
		LogFormat:            "text",
		DashboardURL:         feed.DefaultDashboardURL,
	}
}

// newData makes a data folder with a bot, as a first serve on the defaults
// does (base URL http://localhost:8080), for the commands that need one.
func newData(t testing.TB) string {
	t.Helper()
	cfg := defaultConfig()
	cfg.DataDir, cfg.PrometheusURL = t.TempDir(), ""
	s, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), WithListener(listen(t)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s.close()
	return cfg.DataDir
}

// startWith runs a server with cfg on ln (which it takes over) and opts
// until the test ends.
func startWith(t *testing.T, cfg Config, ln net.Listener, opts ...Option) *testServer {
	t.Helper()
	logs := &logtest.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := Open(context.Background(), cfg, log, append([]Option{WithListener(ln)}, opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{Server: s, URL: "http://" + s.Addr(), Dir: cfg.DataDir, stop: cancel, done: make(chan error, 1), logs: logs}
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

// child is `nuttx-feed serve` in a child process: the test binary run
// again (see TestMain).
type child struct {
	cmd    *exec.Cmd
	log    *startedWatcher
	Addr   string        // where it listens, from its "nuttx-feed started" line
	exited chan struct{} // closed once it has exited, err set
	err    error
}

// serveInChild starts `nuttx-feed serve args...` in a child process with
// the test's environment, and waits for its "nuttx-feed started" line (text
// or JSON log), which gives the address it listens on: with --listen
// 127.0.0.1:0 the kernel picks the port. It stops the child (SIGTERM) when
// the test ends, and shows its log if the test failed.
func serveInChild(t *testing.T, args ...string) *child {
	t.Helper()
	c := &child{log: &startedWatcher{started: make(chan string, 1)}, exited: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], append([]string{"serve"}, args...)...)
	c.cmd.Env = append(os.Environ(), "NUTTX_FEED_RUN_MAIN=1")
	c.cmd.Stderr = c.log
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() {
		if err := c.stop(); err != nil && !c.killed() {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("serve %q log:\n%s", args, c.log.String())
		}
	})
	select {
	case c.Addr = <-c.log.started:
	case <-c.exited:
		t.Fatalf("serve %q exited before it started: %v", args, c.err)
	case <-time.After(20 * time.Second):
		t.Fatalf("serve %q: no \"nuttx-feed started\" line within 20 s", args)
	}
	return c
}

// stop sends SIGTERM and waits for the child to exit (at most 15 s, then
// it is killed); it returns how it exited.
func (c *child) stop() error {
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		return c.err
	case <-time.After(15 * time.Second):
		c.kill()
		return errors.New("did not stop within 15 s of SIGTERM")
	}
}

// kill sends SIGKILL (no shutdown at all) and waits for the child to exit.
func (c *child) kill() {
	c.cmd.Process.Kill()
	<-c.exited
}

// killed tells whether the child died of SIGKILL.
func (c *child) killed() bool {
	if c.cmd.ProcessState == nil {
		return false
	}
	ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// startedWatcher keeps a child's log and sends the address of its
// "nuttx-feed started" line on started, once.
type startedWatcher struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	scanned int // bytes of buf already looked at
	found   bool
	started chan string
}

func (w *startedWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for !w.found {
		rest := w.buf.Bytes()[w.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		w.scanned += i + 1
		if addr, ok := servetest.StartedAddr(string(rest[:i])); ok {
			w.found = true
			w.started <- addr
		}
	}
	return len(p), nil
}

func (w *startedWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
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
