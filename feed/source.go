package feed

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// Source tells what the build farm says now. Prometheus is one; pushed
// alerts will be another.
type Source interface {
	// Observe returns the failed builds, and the builds of the given
	// targets (those the feed holds as failing) that build now.
	Observe(ctx context.Context, failing []string) (Observation, error)
}

// Observation is what a source answered in one poll.
type Observation struct {
	Failures  []Build // failed builds; rewinds carry Rewind
	Successes []Build // builds of failing targets that build (score >= 0.5)
	// Targets are the targets present in the source now, whether they
	// fail or not, with their arch: the catalog of the feed's accounts
	// (catalog.go). nil means not reported (a source that cannot tell).
	Targets []store.CatalogTarget
	// Warnings say the answer may be incomplete (Prometheus' partial
	// answers): nothing is decided from such an observation.
	Warnings []string
}

// Prometheus is the Source that queries a Prometheus server.
type Prometheus struct {
	api   v1.API
	query string
	log   *slog.Logger
	now   func() time.Time
}

// NewPrometheus returns a source that runs query (the failed builds) on the
// Prometheus at url.
func NewPrometheus(url, query string, log *slog.Logger) (*Prometheus, error) {
	client, err := api.NewClient(api.Config{Address: url, Client: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		return nil, fmt.Errorf("prometheus URL %q: %w", url, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Prometheus{api: v1.NewAPI(client), query: query, log: log, now: time.Now}, nil
}

// recoveryChunk bounds the targets named in one recovery query.
const recoveryChunk = 200

// presentQuery lists every target present in Prometheus, one series per
// (target, board, config, arch): the catalog's answer.
const presentQuery = `count by (target, board, config, arch) (build_score{user!="rewind"})`

// Observe runs the failure query, the query of the targets present
// (presentQuery), then, in chunks of recoveryChunk targets,
// build_score{user!="rewind",target=~"t1|t2|..."} >= 0.5 for the failing
// targets. Any error fails the whole observation.
func (p *Prometheus) Observe(ctx context.Context, failing []string) (Observation, error) {
	var obs Observation
	var err error
	if obs.Failures, err = p.run(ctx, p.query, &obs); err != nil {
		return Observation{}, err
	}
	present, err := p.run(ctx, presentQuery, &obs)
	if err != nil {
		return Observation{}, err
	}
	obs.Targets = catalogOf(present)
	for len(failing) > 0 {
		chunk := failing[:min(recoveryChunk, len(failing))]
		failing = failing[len(chunk):]
		alts := make([]string, len(chunk))
		for i, t := range chunk {
			alts[i] = regexp.QuoteMeta(t)
		}
		q := fmt.Sprintf(`build_score{user!=%q,target=~%q} >= %g`, rewindUser, strings.Join(alts, "|"), okScore)
		ok, err := p.run(ctx, q, &obs)
		if err != nil {
			return Observation{}, err
		}
		obs.Successes = append(obs.Successes, ok...)
	}
	return obs, nil
}

// run answers one instant query as builds; warnings go to obs.
func (p *Prometheus) run(ctx context.Context, q string, obs *Observation) ([]Build, error) {
	val, warnings, _, err := p.api.Query(ctx, q, p.now(), v1.WithTimeout(20*time.Second))
	if err != nil {
		return nil, fmt.Errorf("prometheus query %q: %w", q, err)
	}
	for _, w := range warnings {
		obs.Warnings = append(obs.Warnings, fmt.Sprintf("query %q: %s", q, w))
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
			p.log.Debug("feed: series without target, board or config ignored", "series", s.Metric.String())
		}
	}
	return builds, nil
}
