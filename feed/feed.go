// Package feed turns failed NuttX builds into posts.
//
// Every poll asks a Source (Prometheus: the operator's query, build_score <
// 0.5 by default, and a second query for the targets this feed holds as
// failing) what the build farm says now, reads the feed's state for the
// targets it names, and plans on paper what to publish (plan.go, pure): a
// new failure posts once (a thread root for a target seen for the first
// time, else a reply in its thread), a rewind that finds the breaking
// commit replies once per (target, commit), a target whose failing build
// hosts all build again replies "recovered", and a burst of failures or of
// recoveries in one poll becomes one post. Each action then runs in one
// transaction of the store (apply.go), so a post and its state change
// commit together, and nothing is posted twice, across restarts and crashes
// too.
package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/metrics"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// Config configures a Feed. Zero values take the defaults noted.
type Config struct {
	PrometheusURL  string        // "" disables the feed (unless Source is set)
	Source         Source        // nil: Prometheus at PrometheusURL
	PollInterval   time.Duration // 30s
	Query          string        // build_score < 0.5
	PostRecoveries bool
	BurstThreshold int           // more targets than this in one poll make one post; 10
	MaxBackoff     time.Duration // longest wait between polls while the source fails; 5m
	// FailureLogEvery is how often an outage of the source is logged again
	// while it lasts (15m): its start and end are logged once each.
	FailureLogEvery time.Duration
	Username        string // the actor that posts (the firehose)
	Format          Formatter
	AlertTemplates  *AlertTemplates  // the texts of alert posts; nil: the built-in ones
	Metrics         *metrics.Metrics // counts polls and posts; nil counts nothing
}

// Defaults of the NuttX deployment.
const (
	DefaultQuery           = "build_score < 0.5"
	DefaultDashboardURL    = "https://nuttx-dashboard.org"
	DefaultHistoryTemplate = "https://nuttx-dashboard.org/d/fe2q876wubc3kc/nuttx-build-history?var-board={board}&var-config={config}"
)

// Publisher publishes notes inside a store transaction;
// *activitypub.Service is one.
type Publisher interface {
	Publish(tx *store.Tx, username string, p activitypub.Post) (*store.Note, error)
	NoteIRI(n *store.Note) string
	// NoteStands tells whether iri is a local note not deleted.
	NoteStands(tx *store.Tx, iri string) (bool, error)
}

// Feed polls its source and posts. Create it with New.
type Feed struct {
	cfg   Config
	store *store.Store
	pub   Publisher
	src   Source
	log   *slog.Logger

	lastSuccess *atomic.Int64 // Unix nanoseconds of the last successful poll, 0: none yet (a pointer: Preview copies the Feed)
	catalog     *catalog      // the targets recorded in the store's catalog (catalog.go)
}

// New returns a feed. With no Source and an empty PrometheusURL it is
// disabled: Run returns at once and Poll fails.
func New(cfg Config, st *store.Store, pub Publisher, log *slog.Logger) (*Feed, error) {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 30 * time.Second
	}
	if cfg.Query == "" {
		cfg.Query = DefaultQuery
	}
	if cfg.BurstThreshold <= 0 {
		cfg.BurstThreshold = 10
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.FailureLogEvery <= 0 {
		cfg.FailureLogEvery = 15 * time.Minute
	}
	if cfg.AlertTemplates == nil {
		cfg.AlertTemplates = DefaultAlertTemplates()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Feed{cfg: cfg, store: st, pub: pub, src: cfg.Source, log: log, lastSuccess: new(atomic.Int64), catalog: &catalog{}}
	if f.src == nil && cfg.PrometheusURL != "" {
		p, err := NewPrometheus(cfg.PrometheusURL, cfg.Query, log)
		if err != nil {
			return nil, err
		}
		f.src = p
	}
	return f, nil
}

// Enabled reports whether the feed has a source to poll.
func (f *Feed) Enabled() bool { return f.src != nil }

// LastSuccess returns when a poll last succeeded: the zero time before the
// first. /health reads it.
func (f *Feed) LastSuccess() time.Time {
	if ns := f.lastSuccess.Load(); ns != 0 {
		return time.Unix(0, ns).UTC()
	}
	return time.Time{}
}

// StaleAfter is how long a running feed may go without a successful poll
// before /health calls it stale: three poll intervals, plus the longest
// backoff, which an outage that just ended may still be waiting out.
func (f *Feed) StaleAfter() time.Duration { return 3*f.cfg.PollInterval + f.cfg.MaxBackoff }

// Run polls every PollInterval until ctx ends. While polls fail it backs off
// (doubling up to MaxBackoff), logging the outage when it starts, again
// every FailureLogEvery while it lasts, and its end; it never gives up and
// never returns an error.
func (f *Feed) Run(ctx context.Context) error {
	if !f.Enabled() {
		f.log.Info("feed disabled (no Prometheus URL)")
		return nil
	}
	f.log.Info("feed started", "prometheus", f.cfg.PrometheusURL, "query", f.cfg.Query, "every", f.cfg.PollInterval)
	timer := time.NewTimer(0)
	defer timer.Stop()
	failures := 0
	var failingSince, loggedAt time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		res, err := f.Poll(ctx)
		wait := f.cfg.PollInterval
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			failures++
			wait = min(f.cfg.PollInterval<<min(failures, 16), f.cfg.MaxBackoff)
			now := time.Now()
			switch {
			case failures == 1:
				failingSince, loggedAt = now, now
				f.log.Error("feed: poll failed; retrying with backoff (logged again every "+f.cfg.FailureLogEvery.String()+" while it lasts)",
					"err", err, "retry_in", wait)
			case now.Sub(loggedAt) >= f.cfg.FailureLogEvery:
				loggedAt = now
				f.log.Error("feed: polls still failing", "failed_polls", failures, "since", failingSince.UTC().Format(time.RFC3339),
					"err", err, "retry_in", wait)
			default:
				f.log.Debug("feed: poll failed again", "err", err, "retry_in", wait)
			}
		default:
			if failures > 0 {
				f.log.Info("feed: polls work again", "failed_polls", failures, "outage", time.Since(failingSince).Round(time.Second))
			}
			failures = 0
			if res.Posts > 0 || res.StateChanges > 0 {
				f.log.Info("feed: poll", "failing_series", res.Failing, "posts", res.Posts, "echoes", res.Echoes, "state_changes", res.StateChanges)
			}
		}
		timer.Reset(wait)
	}
}

// Result tells what a poll did.
type Result struct {
	Failing      int // failing series the source reported
	Posts        int // notes published by the firehose
	Echoes       int // notes published by feed accounts, repeating them (echo.go)
	StateChanges int // recoveries recorded without a post, partial recoveries
}

// Poll asks the source once, records new targets in the catalog and
// publishes what is new. It records and publishes nothing when the source
// fails or answers with warnings (a partial answer). Posts committed
// before an error go out all the same: publishing wakes the delivery queue
// when each transaction commits.
func (f *Feed) Poll(ctx context.Context) (res Result, err error) {
	defer func() { f.cfg.Metrics.FeedPolled(res.Posts, err) }()
	actions, obs, err := f.prepare(ctx)
	if err != nil {
		return Result{}, err
	}
	if err := f.recordCatalog(ctx, obs); err != nil {
		return Result{}, err
	}
	res, err = f.applyAll(ctx, actions)
	res.Failing = len(obs.Failures)
	if err == nil {
		f.lastSuccess.Store(time.Now().UnixNano())
	}
	return res, err
}

// prepare observes the source, reads the state it needs and plans.
func (f *Feed) prepare(ctx context.Context) ([]action, Observation, error) {
	if f.src == nil {
		return nil, Observation{}, errors.New("feed: no Prometheus URL configured")
	}
	var failing []string
	if err := f.store.View(ctx, func(tx *store.Tx) (err error) {
		failing, err = tx.FailingTargets()
		return err
	}); err != nil {
		return nil, Observation{}, err
	}
	obs, err := f.src.Observe(ctx, failing)
	if err != nil {
		return nil, Observation{}, err
	}
	st, err := f.loadState(ctx, obs)
	if err != nil {
		return nil, obs, err
	}
	actions, err := plan(rules{burstThreshold: f.cfg.BurstThreshold, postRecoveries: f.cfg.PostRecoveries}, st, obs)
	return actions, obs, err
}

// loadState reads, in one snapshot, what plan needs to know of the targets
// obs names: which of their failures and breaking commits were announced,
// and the state of those with news (a failure not announced yet, a rewind,
// a good build). In the steady state, every failure announced, that last
// part is empty however many targets fail.
func (f *Feed) loadState(ctx context.Context, obs Observation) (state, error) {
	failed, rewound, news := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, b := range obs.Failures {
		if b.Rewind {
			rewound[b.Target], news[b.Target] = true, true
		} else {
			failed[b.Target] = true
		}
	}
	for _, b := range obs.Successes {
		news[b.Target] = true
	}
	var st state
	err := f.store.View(ctx, func(tx *store.Tx) (err error) {
		if st.posted, err = tx.PostedFailures(sortedKeys(failed)); err != nil {
			return err
		}
		if st.breaks, err = tx.PostedBreaks(sortedKeys(rewound)); err != nil {
			return err
		}
		for _, b := range obs.Failures {
			if !b.Rewind && !st.posted[b.identity()] {
				news[b.Target] = true
			}
		}
		st.targets, err = tx.FeedTargets(sortedKeys(news))
		return err
	})
	return st, err
}

// Planned is a post that a poll would publish now.
type Planned struct {
	Username  string // the account that would post it: the bot, or a feed account repeating it
	InReplyTo string // the thread it would reply to; "" starts a thread
	Text      string // the post as plain text
}

// errPreview rolls a preview's transaction back.
var errPreview = errors.New("preview: roll back")

// Preview runs a poll against the real state inside one transaction that it
// rolls back: it returns what would be published, and changes nothing.
func (f *Feed) Preview(ctx context.Context) ([]Planned, error) {
	actions, _, err := f.prepare(ctx)
	if err != nil {
		return nil, err
	}
	rec := &recordingPublisher{Publisher: f.pub}
	dry := *f
	dry.log = slog.New(slog.DiscardHandler)
	err = f.store.Update(ctx, func(tx *store.Tx) error {
		for _, a := range actions {
			if _, _, err := (&applier{f: &dry, tx: tx, pub: rec}).run(a); err != nil {
				return err
			}
		}
		return errPreview
	})
	if !errors.Is(err, errPreview) {
		return nil, err
	}
	return rec.planned, nil
}

// recordingPublisher notes what is published through it.
type recordingPublisher struct {
	Publisher
	planned []Planned
}

func (r *recordingPublisher) Publish(tx *store.Tx, username string, p activitypub.Post) (*store.Note, error) {
	r.planned = append(r.planned, Planned{Username: username, InReplyTo: p.InReplyTo, Text: p.Content.PlainText()})
	return r.Publisher.Publish(tx, username, p)
}

// TargetStatus is a failing target, for `nuttx-feed feed status`.
type TargetStatus struct {
	Target string
	Since  time.Time
	Users  []string // failing build hosts
	Thread string   // root note of its thread
}

// Status lists the targets failing now, longest-failing first.
func (f *Feed) Status(ctx context.Context) ([]TargetStatus, error) {
	var targets []*store.FeedTarget
	if err := f.store.View(ctx, func(tx *store.Tx) (err error) {
		targets, err = tx.FailingNow()
		return err
	}); err != nil {
		return nil, fmt.Errorf("feed state: %w", err)
	}
	out := make([]TargetStatus, len(targets))
	for i, t := range targets {
		out[i] = TargetStatus{Target: t.Target, Since: t.FailingSince, Users: t.FailingUsers, Thread: t.Thread}
	}
	return out, nil
}
