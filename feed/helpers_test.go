package feed

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rsa"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/logtest"
	"github.com/nuttx-feed/nuttx-feed/internal/promtest"
	"github.com/nuttx-feed/nuttx-feed/internal/safehttp"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

const base = "https://nuttx-feed.org"

// env is a real database, the real federation core delivering to a
// follower on loopback, and a feed whose source is a real Prometheus
// scraping a real Pushgateway (stack), or, for tests of the feed's logic,
// a farm standing for both.
type env struct {
	t      testing.TB
	ctx    context.Context
	stack  *promtest.Stack // nil with a farm
	farm   *farm           // nil with a stack
	db     *storetest.DB
	svc    *activitypub.Service
	feed   *Feed
	cfg    Config
	remote *fedtest.Remote
	logs   *logtest.Buffer
}

// scrapeInterval is the tests' stacks': a pushed build shows, and the series
// it replaced goes stale, within about one interval.
const scrapeInterval = 100 * time.Millisecond

// The package's two stacks start with the test binary, in the background:
// Prometheus first scrapes about 5 s after it starts, time in which the
// tests that need no Prometheus run. shared serves the tests that use it
// one at a time (sharedMu), each starting from an empty one; outage is
// TestPrometheusOutage's own, as it stops and restarts its Prometheus.
var (
	shared, outage       *promtest.Stack
	sharedErr, outageErr error
	sharedMu             sync.Mutex
)

func TestMain(m *testing.M) {
	flag.Parse()
	// The tests wait (on scrapes, on Prometheus starting) far more than they
	// compute: let every parallel test run at once unless -parallel says
	// otherwise. Its default, GOMAXPROCS, would queue TestPrometheusOutage,
	// which waits for two starts of its Prometheus, behind tests waiting
	// for their turn on the shared stack.
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		flag.Set("test.parallel", "64")
	}
	// A fuzzing worker (make fuzz starts one per -parallel) runs only the
	// fuzz target: no stacks for it.
	if w := flag.Lookup("test.fuzzworker"); w != nil && w.Value.String() == "true" {
		os.Exit(m.Run())
	}
	var launched sync.WaitGroup
	launched.Go(func() { outage, outageErr = promtest.Launch(promtest.Options{ScrapeInterval: scrapeInterval}) })
	launched.Go(func() { shared, sharedErr = promtest.Launch(promtest.Options{ScrapeInterval: scrapeInterval}) })
	launched.Wait()
	closeAtExit(shared)
	closeAtExit(outage)
	code := m.Run()
	var wg sync.WaitGroup
	for _, s := range stacks {
		wg.Go(s.Close)
	}
	wg.Wait()
	os.Exit(code)
}

// stacks are closed when the tests end.
var stacks []*promtest.Stack

func closeAtExit(s *promtest.Stack) {
	if s != nil {
		stacks = append(stacks, s)
	}
}

// ready fails (or skips) t unless stack started and scrapes.
func ready(t testing.TB, stack *promtest.Stack, err error) *promtest.Stack {
	t.Helper()
	promtest.Check(t, err)
	if err := stack.Ready(); err != nil {
		t.Fatal(err)
	}
	return stack
}

// newEnv uses the shared stack, emptied, for the rest of the test: tests
// that call it wait for each other.
func newEnv(t *testing.T, mutate ...func(*Config)) *env {
	t.Helper()
	promtest.Check(t, sharedErr)
	sharedMu.Lock()
	t.Cleanup(sharedMu.Unlock)
	ready(t, shared, nil).Reset(t)
	return newEnvWith(t, shared, mutate...)
}

// newFarmEnv polls a farm of its own: for the feed's logic, no Prometheus.
func newFarmEnv(t *testing.T, mutate ...func(*Config)) *env {
	t.Helper()
	f := &farm{}
	return newEnvWith(t, nil, append([]func(*Config){func(c *Config) { c.Source = f }}, mutate...)...)
}

// newEnvWith makes an env on stack; with a nil stack, on the Source or the
// PrometheusURL that mutate sets.
func newEnvWith(t testing.TB, stack *promtest.Stack, mutate ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), stack: stack, logs: &logtest.Buffer{}}
	e.db = storetest.Open(t)
	var err error
	e.svc, err = activitypub.New(activitypub.Options{
		BaseURL: base, Store: e.db.Store, FetchActor: "nuttx_build",
		Client:   safehttp.NewClient(safehttp.Options{AllowPrivateNetworks: true}),
		Delivery: activitypub.DeliveryOptions{Poll: 50 * time.Millisecond},

		AllowPrivateNetworks: true, // followers are httptest servers: http on loopback
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.EnsureActor(e.ctx, activitypub.Profile{Username: "nuttx_build", DisplayName: "NuttX Build"}); err != nil {
		t.Fatal(err)
	}
	e.cfg = Config{
		PollInterval: time.Second, PostRecoveries: true, BurstThreshold: 10,
		Username: "nuttx_build",
		Format:   Formatter{DashboardURL: DefaultDashboardURL, HistoryTemplate: DefaultHistoryTemplate, MaxChars: 500},
	}
	if stack != nil {
		e.cfg.PrometheusURL = stack.PromURL
	}
	for _, m := range mutate {
		m(&e.cfg)
	}
	if f, ok := e.cfg.Source.(*farm); ok {
		e.farm = f
	}
	e.feed = e.newFeed()
	return e
}

// newFeed makes a feed on the same database, as a restarted server would.
func (e *env) newFeed() *Feed {
	f, err := New(e.cfg, e.db.Store, e.svc, slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// follow makes a Mastodon-like remote follow the bot and starts delivery.
func (e *env) follow() *fedtest.Remote {
	e.t.Helper()
	keys := func(keyID string) (*rsa.PublicKey, error) {
		a, err := e.svc.Actor(e.ctx, "nuttx_build")
		if err != nil {
			return nil, err
		}
		return fedtest.ParsePublicKey(a.PublicKeyPEM)
	}
	r := fedtest.New(e.t, "maintainer", fedtest.Mastodon, keys)
	body, _ := json.Marshal(r.FollowActivity(base + "/users/nuttx_build"))
	req, _ := http.NewRequest(http.MethodPost, base+"/inbox", bytes.NewReader(body))
	req.Header.Set("Content-Type", activitypub.ContentType)
	if err := r.Sign(req, body); err != nil {
		e.t.Fatal(err)
	}
	if err := e.svc.HandleInbox(e.ctx, "", activitypub.InboundRequest{Method: "POST", RequestURI: "/inbox", Header: req.Header, Body: body}); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { e.svc.RunDelivery(ctx); close(done) }()
	e.t.Cleanup(func() { cancel(); <-done })
	r.WaitDeliveries(e.t, 1, 10*time.Second) // the Accept
	e.remote = r
	return r
}

// failing returns the labels of a failed build as the farm pushes them.
func failing(board, config, user, nuttx, apps string) promtest.Labels {
	return promtest.Labels{
		"version": "3", "timestamp": "2024-12-06T06:14:54", "timestamp_log": "2024-12-06T06:14:54",
		"user": user, "arch": "risc-v", "subarch": "qemu-rv", "group": "risc-v-01",
		"board": board, "config": config, "target": board + ":" + config,
		"url":         "https://gist.github.com/nuttxpr/abc123#file-ci-risc-v-01-log-L123",
		"url_display": "gist.github.com/nuttxpr/abc123#file-ci-risc-v-01-log-L123",
		"msg":         "virtio/virtio-mmio.c:346:14: error: cast from pointer to integer of different size \n   346 |   return (uintptr_t)addr;",
		"nuttx_hash":  nuttx, "apps_hash": apps,
	}
}

// push pushes labels with score and waits until Prometheus shows exactly
// that series for the target and user (the one it replaced gone stale).
// A farm has it at once.
func (e *env) push(l promtest.Labels, score float64) {
	e.t.Helper()
	if e.farm != nil {
		e.farm.push(l, score)
		return
	}
	e.stack.Push(e.t, l, score)
	e.stack.WaitCount(e.t, fmt.Sprintf(`build_score{target=%q,user=%q,nuttx_hash=%q,timestamp=%q} == %g`,
		l["target"], l["user"], l["nuttx_hash"], l["timestamp"], score), 1)
	e.stack.WaitCount(e.t, fmt.Sprintf(`build_score{target=%q,user=%q}`, l["target"], l["user"]), 1)
}

func (e *env) poll() Result {
	e.t.Helper()
	res, err := e.feed.Poll(e.ctx)
	if err != nil {
		e.t.Fatalf("poll: %v", err)
	}
	return res
}

type note struct {
	ID, InReplyTo, Content, Source string
}

// notes returns the published notes of the firehose, oldest first.
func (e *env) notes() []note {
	e.t.Helper()
	ns := e.accountNotes("nuttx_build")
	out := make([]note, len(ns))
	for i, n := range ns {
		out[i] = note{ID: e.svc.NoteIRI(n), InReplyTo: n.InReplyTo, Content: n.Content, Source: n.Source}
	}
	return out
}

func (e *env) wantNotes(n int) []note {
	e.t.Helper()
	got := e.notes()
	if len(got) != n {
		var texts []string
		for _, x := range got {
			texts = append(texts, x.Source)
		}
		e.t.Fatalf("%d notes, want %d:\n%s", len(got), n, strings.Join(texts, "\n---\n"))
	}
	return got
}

// farm is a test-only Source for tests of the feed's logic: it stands for
// the Pushgateway and Prometheus. It keeps the latest series of each
// Pushgateway group (job=<user>, instance=<target>: a push replaces what
// the group held, and the replaced series is gone), and answers as
// Prometheus answers the default query, build_score < 0.5, and the
// recovery queries, build_score{user!="rewind",target=~"..."} >= 0.5,
// reading each series with the same buildFromSample.
type farm struct {
	mu     sync.Mutex
	groups map[[2]string]*model.Sample
}

// group is the Pushgateway group that promtest pushes labels to: job=<user>,
// instance=<target>.
func group(l promtest.Labels) (user, target string) {
	user, target = l["user"], l["target"]
	if user == "" {
		user = "unknown"
	}
	if target == "" {
		target = "unknown"
	}
	return user, target
}

// sample is the series Prometheus holds once labels with score are pushed
// and scraped (with honor_labels: the group's labels, then the series').
func sample(l promtest.Labels, score float64) *model.Sample {
	user, target := group(l)
	m := model.Metric{model.MetricNameLabel: "build_score", "job": model.LabelValue(user), "instance": model.LabelValue(target)}
	for k, v := range l {
		if v != "" { // Prometheus has no empty labels
			m[model.LabelName(k)] = model.LabelValue(v)
		}
	}
	return &model.Sample{Metric: m, Value: model.SampleValue(score), Timestamp: model.Now()}
}

func (f *farm) push(l promtest.Labels, score float64) {
	user, target := group(l)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.groups == nil {
		f.groups = map[[2]string]*model.Sample{}
	}
	f.groups[[2]string{user, target}] = sample(l, score)
}

func (f *farm) Observe(_ context.Context, failing []string) (Observation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	asked := map[string]bool{}
	for _, t := range failing {
		asked[t] = true
	}
	keys := make([][2]string, 0, len(f.groups))
	for k := range f.groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1])) })
	var obs Observation
	for _, k := range keys {
		s := f.groups[k]
		switch {
		case s.Value < 0.5:
			if b, ok := buildFromSample(s); ok {
				obs.Failures = append(obs.Failures, b)
			}
		case s.Metric["user"] != rewindUser && asked[string(s.Metric["target"])]:
			if b, ok := buildFromSample(s); ok {
				obs.Successes = append(obs.Successes, b)
			}
		}
	}
	return obs, nil
}

// countingSource counts the observations of the source it wraps: Run's
// polls, for tests that show that more polls change nothing.
type countingSource struct {
	Source
	answered, failed atomic.Int64
}

func (c *countingSource) Observe(ctx context.Context, failing []string) (Observation, error) {
	obs, err := c.Source.Observe(ctx, failing)
	if err != nil {
		c.failed.Add(1)
	}
	c.answered.Add(1)
	return obs, err
}

// countPolls counts the observations of the feed's source (the Prometheus
// that New made) from now on.
func (e *env) countPolls() *countingSource {
	e.t.Helper()
	c := &countingSource{Source: e.feed.src}
	e.cfg.Source = c
	e.feed = e.newFeed()
	return c
}

// waitPolls waits until Run has completed n more polls whose observations
// were answered after the call (a poll is over when the next one has
// observed): a deterministic "later", where a sleep would guess.
func (e *env) waitPolls(c *countingSource, n int) {
	e.t.Helper()
	want := c.answered.Load() + int64(n) + 1
	eventually.True(e.t, 20*time.Second, fmt.Sprintf("%d more polls", n), func() bool { return c.answered.Load() >= want })
}
