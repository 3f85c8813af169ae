// Package feed turns failed NuttX builds recorded in Prometheus into posts.
//
// Every poll runs the operator's query (build_score < 0.5 by default) and a
// second query for the targets this feed holds as failing, then decides:
// a new failure posts once (a thread root for a target seen for the first
// time, else a reply in its thread), a rewind that finds the breaking
// commit replies once per (target, commit), a target whose failing build
// hosts all build again replies "recovered", and a burst of failures in one
// poll becomes one digest. The state lives in SQLite (migrations 0002) and
// each post commits together with its state change, so nothing is posted
// twice, across restarts and crashes too.
package feed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
)

// Config configures a Feed. Zero values take the defaults noted.
type Config struct {
	PrometheusURL  string        // "" disables the feed
	PollInterval   time.Duration // 30s
	Query          string        // build_score < 0.5
	PostRecoveries bool
	BurstThreshold int           // more new failures than this in one poll make a digest; 10
	MaxBackoff     time.Duration // longest wait between polls while Prometheus fails; 5m
	Username       string        // the actor that posts
	Format         Formatter
}

// Defaults of the NuttX deployment.
const (
	DefaultQuery           = "build_score < 0.5"
	DefaultDashboardURL    = "https://nuttx-dashboard.org"
	DefaultHistoryTemplate = "https://nuttx-dashboard.org/d/fe2q876wubc3kc/nuttx-build-history?var-board={board}&var-config={config}"
)

// Publisher publishes notes inside a transaction; *activitypub.Service is one.
type Publisher interface {
	PublishTx(ctx context.Context, tx *sql.Tx, username string, p activitypub.Post) (*activitypub.Note, error)
	NoteIRI(n *activitypub.Note) string
	Kick()
}

// Feed polls Prometheus and posts. Create it with New.
type Feed struct {
	cfg Config
	db  *sql.DB
	pub Publisher
	api v1.API
	log *slog.Logger
	now func() time.Time
}

// New returns a feed. With an empty PrometheusURL it is disabled: Run
// returns at once and Poll fails.
func New(cfg Config, db *sql.DB, pub Publisher, log *slog.Logger) (*Feed, error) {
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
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Feed{cfg: cfg, db: db, pub: pub, log: log, now: time.Now}
	if cfg.PrometheusURL != "" {
		client, err := api.NewClient(api.Config{
			Address: cfg.PrometheusURL,
			Client:  &http.Client{Timeout: 30 * time.Second},
		})
		if err != nil {
			return nil, fmt.Errorf("prometheus URL %q: %w", cfg.PrometheusURL, err)
		}
		f.api = v1.NewAPI(client)
	}
	return f, nil
}

// Enabled reports whether the feed has a Prometheus to poll.
func (f *Feed) Enabled() bool { return f.api != nil }

// Run polls every PollInterval until ctx ends. While polls fail it backs off
// (doubling up to MaxBackoff), logging the outage once and its end once; it
// never gives up and never returns an error.
func (f *Feed) Run(ctx context.Context) error {
	if !f.Enabled() {
		f.log.Info("feed disabled (no Prometheus URL)")
		return nil
	}
	f.log.Info("feed started", "prometheus", f.cfg.PrometheusURL, "query", f.cfg.Query, "every", f.cfg.PollInterval)
	timer := time.NewTimer(0)
	defer timer.Stop()
	failures := 0
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
			if failures == 1 {
				f.log.Error("feed: poll failed; retrying with backoff (further failures are not logged until it works again)",
					"err", err, "retry_in", wait)
			} else {
				f.log.Debug("feed: poll failed again", "err", err, "retry_in", wait)
			}
		default:
			if failures > 0 {
				f.log.Info("feed: polls work again", "failed_polls", failures)
			}
			failures = 0
			if res.Posts > 0 || res.StateChanges > 0 {
				f.log.Info("feed: poll", "failing_series", res.Failing, "posts", res.Posts, "state_changes", res.StateChanges)
			}
		}
		timer.Reset(wait)
	}
}

// Result tells what a poll did.
type Result struct {
	Failing      int // failing series in Prometheus
	Posts        int // notes published
	StateChanges int // recoveries recorded without a post, partial recoveries
}

// Poll queries Prometheus once and publishes what is new. It publishes
// nothing when any query fails or answers with warnings (a partial answer).
func (f *Feed) Poll(ctx context.Context) (Result, error) {
	obs, err := f.observe(ctx)
	if err != nil {
		return Result{}, err
	}
	actions, err := f.plan(ctx, obs)
	if err != nil {
		return Result{}, err
	}
	res := Result{Failing: len(obs.failures) + len(obs.rewinds)}
	for _, a := range actions {
		posted, changed, err := f.apply(ctx, a)
		if err != nil {
			return res, err
		}
		if posted {
			res.Posts++
		} else if changed {
			res.StateChanges++
		}
	}
	if res.Posts > 0 {
		f.pub.Kick()
	}
	return res, nil
}

// observation is what Prometheus says now.
type observation struct {
	failures  []Build              // non-rewind series matched by the query
	rewinds   []Build              // rewind series matched by the query
	successes map[targetUser]Build // builds of failing targets that build again
}

type targetUser struct{ Target, User string }

func (f *Feed) query(ctx context.Context, q string) ([]Build, error) {
	if f.api == nil {
		return nil, errors.New("feed: no Prometheus URL configured")
	}
	val, warnings, _, err := f.api.Query(ctx, q, f.now(), v1.WithTimeout(20*time.Second))
	if err != nil {
		return nil, fmt.Errorf("prometheus query %q: %w", q, err)
	}
	if len(warnings) > 0 {
		return nil, fmt.Errorf("prometheus query %q: partial answer: %s", q, strings.Join(warnings, "; "))
	}
	vec, ok := val.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("prometheus query %q: answer is a %s, want an instant vector", q, val.Type())
	}
	builds := make([]Build, 0, len(vec))
	for _, s := range vec {
		if b, ok := buildFromSample(s); ok {
			builds = append(builds, b)
		} else {
			f.log.Debug("feed: series without target, board or config ignored", "series", s.Metric.String())
		}
	}
	return builds, nil
}

// recoveryChunk bounds the targets named in one recovery query.
const recoveryChunk = 200

func (f *Feed) observe(ctx context.Context) (*observation, error) {
	builds, err := f.query(ctx, f.cfg.Query)
	if err != nil {
		return nil, err
	}
	obs := &observation{successes: map[targetUser]Build{}}
	failingNow := map[targetUser]Build{}
	for _, b := range builds {
		if b.Rewind {
			obs.rewinds = append(obs.rewinds, b)
			continue
		}
		obs.failures = append(obs.failures, b)
		failingNow[targetUser{b.Target, b.User}] = b
	}
	targets, err := f.failingTargets(ctx)
	if err != nil {
		return nil, err
	}
	for len(targets) > 0 {
		chunk := targets[:min(recoveryChunk, len(targets))]
		targets = targets[len(chunk):]
		alts := make([]string, len(chunk))
		for i, t := range chunk {
			alts[i] = regexp.QuoteMeta(t)
		}
		q := fmt.Sprintf(`build_score{user!=%q,target=~%q} >= %g`, rewindUser, strings.Join(alts, "|"), okScore)
		ok, err := f.query(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, b := range ok {
			tu := targetUser{b.Target, b.User}
			if b.Score >= okScore && newerThanFailure(b, failingNow[tu]) {
				obs.successes[tu] = b
			}
		}
	}
	return obs, nil
}

// newerThanFailure tells whether a good build of a target and host counts
// although a failing series of the same pair is still there: a widened
// query may match warnings, and after a Prometheus restart a replaced
// series can linger until its lookback ends. The build timestamps decide.
func newerThanFailure(good, failing Build) bool {
	if failing.Target == "" {
		return true // nothing failing for this pair
	}
	return good.Timestamp != "" && failing.Timestamp != "" && good.Timestamp > failing.Timestamp
}

// action is one thing to publish (or record), in one transaction.
type action struct {
	kind     actionKind
	builds   []Build // the failures (one, or a digest's), the rewind, the recovered builds
	good     commits // for a break
	bad      commits
	target   string // for a recovery
	newCount int    // for a digest: how many targets
}

type actionKind int

const (
	actFailure actionKind = iota
	actDigest
	actBreak
	actRecovery
)

// plan decides what this poll publishes: new failures (individually, or in
// one digest past the burst threshold), breaking commits found by rewinds,
// then recoveries, which must see this poll's failures first.
func (f *Feed) plan(ctx context.Context, obs *observation) ([]action, error) {
	posted, err := f.postedIdentities(ctx, obs.failures)
	if err != nil {
		return nil, err
	}
	var fresh []Build
	seen := map[identity]bool{}
	for _, b := range obs.failures {
		id := b.identity()
		if posted[id] || seen[id] {
			continue
		}
		seen[id] = true
		fresh = append(fresh, b)
	}
	sort.SliceStable(fresh, func(i, j int) bool {
		if fresh[i].Target != fresh[j].Target {
			return fresh[i].Target < fresh[j].Target
		}
		return fresh[i].User < fresh[j].User
	})
	targets := map[string]bool{}
	for _, b := range fresh {
		targets[b.Target] = true
	}
	var actions []action
	if len(targets) > f.cfg.BurstThreshold {
		actions = append(actions, action{kind: actDigest, builds: fresh, newCount: len(targets)})
	} else {
		for _, b := range fresh {
			actions = append(actions, action{kind: actFailure, builds: []Build{b}})
		}
	}

	breaks := map[string]bool{}
	for _, b := range obs.rewinds {
		good, bad, ok := b.breakRange()
		key := b.Target + "@" + bad.Nuttx + "@" + bad.Apps
		if ok && !breaks[key] {
			breaks[key] = true
			actions = append(actions, action{kind: actBreak, builds: []Build{b}, good: good, bad: bad})
		}
	}

	byTarget := map[string][]Build{}
	for tu, b := range obs.successes {
		byTarget[tu.Target] = append(byTarget[tu.Target], b)
	}
	recovered := make([]string, 0, len(byTarget))
	for t := range byTarget {
		recovered = append(recovered, t)
	}
	sort.Strings(recovered)
	for _, t := range recovered {
		bs := byTarget[t]
		slices.SortFunc(bs, func(a, b Build) int { return strings.Compare(a.Timestamp, b.Timestamp) })
		actions = append(actions, action{kind: actRecovery, target: t, builds: bs})
	}
	return actions, nil
}
