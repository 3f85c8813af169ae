// Package promtest runs a real Prometheus scraping a real Pushgateway on
// loopback for tests, and pushes build results the way the NuttX build farm
// does (POST /metrics/job/<user>/instance/<target>, text format).
//
// It also runs a real Alertmanager (alertmanager.go) for Prometheus to send
// its alerts to.
//
// It needs Debian's prometheus, prometheus-pushgateway and
// prometheus-alertmanager (make test installs them); set
// NUTTX_FEED_SKIP_PROMETHEUS=1 to skip knowingly.
package promtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Stack is a Pushgateway and a Prometheus that scrapes it (every second
// unless Options say otherwise) with honor_labels, as the NuttX deployment
// does.
type Stack struct {
	PromURL string
	PushURL string

	dir         string
	promAddr    string
	promStarted time.Time // when Prometheus last started
	prom        *exec.Cmd
	push        *exec.Cmd
}

// ErrMissing is returned by New when a server is not installed.
var ErrMissing = errors.New("not installed")

func binary(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s: %w: install Debian's %s (make test does), or set NUTTX_FEED_SKIP_PROMETHEUS=1", name, ErrMissing, name)
	}
	return p, nil
}

// Check fails (or, with NUTTX_FEED_SKIP_PROMETHEUS=1, skips) tb when err
// says the servers are missing, and fails it on any other error.
func Check(tb testing.TB, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	if errors.Is(err, ErrMissing) && os.Getenv("NUTTX_FEED_SKIP_PROMETHEUS") == "1" {
		tb.Skip(err)
	}
	tb.Fatal(err)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Start runs a stack until the test ends.
func Start(tb testing.TB) *Stack {
	tb.Helper()
	s, err := New()
	Check(tb, err)
	tb.Cleanup(s.Close)
	return s
}

// Options configure a stack. The zero value is the deployment's settings.
type Options struct {
	// ScrapeInterval is how often Prometheus scrapes the Pushgateway; 1s
	// when zero. Tests that wait for what they push to show (or, replaced,
	// to go stale) wait about one interval per push: 100ms makes them fast.
	ScrapeInterval time.Duration
	// Rules are alerting (or recording) rules in Prometheus' rule file
	// format, evaluated every ScrapeInterval; "" for none.
	Rules string
	// Alertmanager is the address (HOST:PORT) of the Alertmanager that
	// Prometheus sends its alerts to; "" for none.
	Alertmanager string
}

// New starts both servers in a new temporary folder, and waits until
// Prometheus has scraped the Pushgateway once (Prometheus takes about 5 s
// to start scraping). Close stops them and removes the folder.
func New() (*Stack, error) {
	s, err := Launch(Options{})
	if err != nil {
		return nil, err
	}
	if err := s.Ready(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Launch starts both servers as New does, but returns as soon as they
// answer, without waiting for the first scrape: the caller can do other
// work meanwhile (a test binary start its tests), then wait with Ready.
func Launch(opts Options) (_ *Stack, err error) {
	if opts.ScrapeInterval <= 0 {
		opts.ScrapeInterval = time.Second
	}
	s := &Stack{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	pushBin, err := binary("prometheus-pushgateway")
	if err != nil {
		return nil, err
	}
	if _, err := binary("prometheus"); err != nil {
		return nil, err
	}
	if s.dir, err = os.MkdirTemp("", "promtest-"); err != nil {
		return nil, err
	}
	pushAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s.PushURL = "http://" + pushAddr
	// Debian's package persists to /var/lib by default: keep each stack in memory.
	s.push = exec.Command(pushBin, "--web.listen-address="+pushAddr, "--persistence.file=", "--web.enable-admin-api", "--log.level=warn")
	s.push.Stderr = logWriter("pushgateway")
	if err := s.push.Start(); err != nil {
		return nil, err
	}
	interval := fmt.Sprintf("%dms", opts.ScrapeInterval.Milliseconds())
	config := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  evaluation_interval: %[1]s
scrape_configs:
  - job_name: pushgateway
    honor_labels: true
    scrape_interval: %[1]s
    static_configs:
      - targets: [%[2]q]
`, interval, pushAddr)
	if opts.Rules != "" {
		if err := os.WriteFile(filepath.Join(s.dir, "rules.yml"), []byte(opts.Rules), 0o644); err != nil {
			return nil, err
		}
		config += "rule_files: [rules.yml]\n"
	}
	if opts.Alertmanager != "" {
		config += fmt.Sprintf("alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [%q]\n", opts.Alertmanager)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		return nil, err
	}
	if s.promAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	s.PromURL = "http://" + s.promAddr
	// Prometheus first, without waiting for the Pushgateway: it scrapes
	// only about 5 s after it starts anyway.
	if err := s.launchPrometheus(); err != nil {
		return nil, err
	}
	if err := waitReady(s.PushURL + "/-/ready"); err != nil {
		return nil, err
	}
	return s, nil
}

// Ready waits until Prometheus, since it last started, has scraped the
// Pushgateway (about 5 s after it starts: its discovery and scrape managers
// work on a 5 s tick). A scrape from before a restart does not count:
// Prometheus writes no staleness markers when it stops, so that sample
// still shows.
func (s *Stack) Ready() error {
	q := fmt.Sprintf(`timestamp(up{job="pushgateway"}) >= %.3f and up{job="pushgateway"} == 1`,
		float64(s.promStarted.UnixMilli())/1000)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if n, err := s.Count(q); err == nil && n == 1 {
			return nil
		}
		time.Sleep(pollEvery)
	}
	return errors.New("prometheus never scraped the pushgateway")
}

// pollEvery is how often the waits here ask again.
const pollEvery = 20 * time.Millisecond

// Close stops both servers and removes their files.
func (s *Stack) Close() {
	stop(s.prom)
	stop(s.push)
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// StartPrometheus (re)starts Prometheus on the same address and storage,
// and waits until it scrapes again.
func (s *Stack) StartPrometheus() error {
	if err := s.launchPrometheus(); err != nil {
		return err
	}
	return s.Ready()
}

// launchPrometheus starts Prometheus and waits until it answers.
func (s *Stack) launchPrometheus() error {
	bin, err := binary("prometheus")
	if err != nil {
		return err
	}
	s.prom = exec.Command(bin,
		"--config.file="+filepath.Join(s.dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(s.dir, "tsdb"),
		"--web.listen-address="+s.promAddr,
		"--log.level=warn")
	s.prom.Stderr = logWriter("prometheus")
	s.promStarted = time.Now().Truncate(time.Millisecond)
	if err := s.prom.Start(); err != nil {
		return err
	}
	return waitReady(s.PromURL + "/-/ready")
}

// Reset deletes every group from the Pushgateway and waits until
// Prometheus no longer shows any build_score series.
func (s *Stack) Reset(tb testing.TB) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPut, s.PushURL+"/api/v1/admin/wipe", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		tb.Fatalf("wipe the pushgateway: HTTP %d", resp.StatusCode)
	}
	s.WaitCount(tb, `build_score`, 0)
}

// StopPrometheus stops Prometheus (SIGTERM, then SIGKILL after 10 s).
func (s *Stack) StopPrometheus() { stop(s.prom) }

func stop(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil || cmd.ProcessState != nil {
		return
	}
	cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

func waitReady(u string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(pollEvery)
	}
	return fmt.Errorf("%s did not become ready", u)
}

// logWriter shows a server's log on stderr with NUTTX_FEED_PROMETHEUS_LOGS=1.
func logWriter(name string) io.Writer {
	if os.Getenv("NUTTX_FEED_PROMETHEUS_LOGS") != "1" {
		return nil
	}
	return prefixWriter{name}
}

type prefixWriter struct{ name string }

func (p prefixWriter) Write(b []byte) (int, error) {
	fmt.Fprintf(os.Stderr, "[%s] %s", p.name, b)
	return len(b), nil
}

// Labels of one build_score series.
type Labels map[string]string

// Exposition returns the text-format line of build_score with labels and
// score, escaping label values as the format requires (so a "\n" in a Go
// string reaches Prometheus as a newline, and `\n` as backslash and n).
func Exposition(l Labels, score float64) string {
	names := make([]string, 0, len(l))
	for k := range l {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("# TYPE build_score gauge\nbuild_score{")
	for i, k := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		v := strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(l[k])
		b.WriteString(k + `="` + v + `"`)
	}
	b.WriteString("} " + strconv.FormatFloat(score, 'f', -1, 64) + "\n")
	return b.String()
}

// Push sends one build result as the farm does: to the group
// job=<user>, instance=<target>, replacing what that group held.
func (s *Stack) Push(tb testing.TB, l Labels, score float64) {
	tb.Helper()
	s.PushText(tb, l["user"], l["target"], Exposition(l, score))
}

// PushText POSTs raw exposition text to the group of user and target.
func (s *Stack) PushText(tb testing.TB, user, target, text string) {
	tb.Helper()
	if err := s.Send(user, target, text); err != nil {
		tb.Fatal(err)
	}
}

// Send is PushText for programs that are not tests.
func (s *Stack) Send(user, target, text string) error {
	if user == "" {
		user = "unknown"
	}
	if target == "" {
		target = "unknown"
	}
	u := s.PushURL + "/metrics/job/" + url.PathEscape(user) + "/instance/" + url.PathEscape(target)
	resp, err := http.Post(u, "text/plain; version=0.0.4", strings.NewReader(text))
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("push to %s: %d %s", u, resp.StatusCode, body)
	}
	return nil
}

// Count returns how many series the instant query returns now.
func (s *Stack) Count(query string) (int, error) {
	resp, err := http.Get(s.PromURL + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Data   struct{ Result []json.RawMessage }
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("query %q: status %s", query, r.Status)
	}
	return len(r.Data.Result), nil
}

// WaitCount waits until query returns exactly n series.
func (s *Stack) WaitCount(tb testing.TB, query string, n int) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got int
	var err error
	for time.Now().Before(deadline) {
		if got, err = s.Count(query); err == nil && got == n {
			return
		}
		time.Sleep(pollEvery)
	}
	tb.Fatalf("query %q: %d series (err %v), want %d", query, got, err, n)
}
