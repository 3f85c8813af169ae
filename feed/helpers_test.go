package feed

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/promtest"
	"github.com/nuttx-feed/nuttx-feed/internal/safehttp"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

const base = "https://nuttx-feed.org"

// env is a real Prometheus and Pushgateway, a real database, the real
// federation core delivering to a follower on loopback, and a feed.
type env struct {
	t      testing.TB
	ctx    context.Context
	stack  *promtest.Stack
	db     *storetest.DB
	svc    *activitypub.Service
	feed   *Feed
	cfg    Config
	remote *fedtest.Remote
	logs   *syncBuffer
}

// shared is one Prometheus and Pushgateway for the package's tests: they
// take about 5 s to start scraping. Each test starts from an empty one.
var shared *promtest.Stack
var sharedErr error

func TestMain(m *testing.M) {
	shared, sharedErr = promtest.New()
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	os.Exit(code)
}

// newEnv uses the shared stack, emptied; newEnvOwnStack starts its own.
func newEnv(t *testing.T, mutate ...func(*Config)) *env {
	t.Helper()
	promtest.Check(t, sharedErr)
	shared.Reset(t)
	return newEnvWith(t, shared, mutate...)
}

func newEnvOwnStack(t *testing.T, mutate ...func(*Config)) *env {
	t.Helper()
	return newEnvWith(t, promtest.Start(t), mutate...)
}

func newEnvWith(t testing.TB, stack *promtest.Stack, mutate ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), stack: stack, logs: &syncBuffer{}}
	e.db = storetest.Open(t)
	var err error
	e.svc, err = activitypub.New(activitypub.Options{
		BaseURL: base, Store: e.db.Store, FetchActor: "nuttx_build",
		Client:   safehttp.NewClient(safehttp.Options{AllowPrivateNetworks: true}),
		Delivery: activitypub.DeliveryOptions{Poll: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.EnsureActor(e.ctx, activitypub.Profile{Username: "nuttx_build", DisplayName: "NuttX Build"}); err != nil {
		t.Fatal(err)
	}
	e.cfg = Config{
		PrometheusURL: e.stack.PromURL, PollInterval: time.Second, PostRecoveries: true, BurstThreshold: 10,
		Username: "nuttx_build",
		Format:   Formatter{DashboardURL: DefaultDashboardURL, HistoryTemplate: DefaultHistoryTemplate, MaxChars: 500},
	}
	for _, m := range mutate {
		m(&e.cfg)
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
func (e *env) push(l promtest.Labels, score float64) {
	e.t.Helper()
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

// notes returns the published notes, oldest first.
func (e *env) notes() []note {
	e.t.Helper()
	a, err := e.svc.Actor(e.ctx, "nuttx_build")
	if err != nil {
		e.t.Fatal(err)
	}
	var ns []*store.Note
	err = e.db.View(e.ctx, func(tx *store.Tx) error {
		page, err := tx.Notes(store.NoteFilter{ActorID: a.ID}, store.Page{FromOldest: true, Limit: 100})
		ns = page.Notes
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([]note, len(ns))
	for i, n := range ns {
		out[len(ns)-1-i] = note{ID: e.svc.NoteIRI(n), InReplyTo: n.InReplyTo, Content: n.Content, Source: n.Source}
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

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
