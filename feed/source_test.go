package feed

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/common/model"
)

// The Prometheus source's partial answers and chunked recovery queries.
// A real Prometheus cannot be made to answer with warnings here (they come
// from remote read and sharded set-ups), so these tests run the real
// source, NewPrometheus, against a stand-in for Prometheus' HTTP API; every
// other test of the source uses a real Prometheus.

// apiAnswer is what fakePrometheus answers one instant query with.
type apiAnswer struct {
	vector   model.Vector
	warnings []string
	err      string // answer this API error instead
}

// fakePrometheus answers /api/v1/query with answer, called with the query
// and its number (from 1) since the queries were last taken, and records
// the queries.
type fakePrometheus struct {
	URL     string
	mu      sync.Mutex
	answer  func(query string, n int) apiAnswer
	queries []string
}

func newFakePrometheus(t *testing.T, answer func(query string, n int) apiAnswer) *fakePrometheus {
	f := &fakePrometheus{answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func (f *fakePrometheus) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/query" || r.ParseForm() != nil {
		http.NotFound(w, r)
		return
	}
	q := r.Form.Get("query")
	f.mu.Lock()
	f.queries = append(f.queries, q)
	a := f.answer(q, len(f.queries))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if a.err != "" {
		w.WriteHeader(422) // Prometheus' status for a query it could not run
		json.NewEncoder(w).Encode(map[string]any{"status": "error", "errorType": "execution", "error": a.err})
		return
	}
	if a.vector == nil {
		a.vector = model.Vector{}
	}
	body := map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": a.vector}}
	if len(a.warnings) > 0 {
		body["warnings"] = a.warnings
	}
	json.NewEncoder(w).Encode(body)
}

// setAnswer answers the next queries with answer.
func (f *fakePrometheus) setAnswer(answer func(query string, n int) apiAnswer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = answer
}

// takeQueries returns the queries asked since the last call, and numbers
// the next ones from 1 again.
func (f *fakePrometheus) takeQueries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.queries
	f.queries = nil
	return q
}

var (
	recoveryQuery = regexp.MustCompile(`^build_score\{user!="rewind",target=~("(?:[^"\\]|\\.)*")\} >= 0\.5$`)
	quoted        = regexp.MustCompile(`\\(.)`) // a character QuoteMeta escaped
)

// asked returns the targets a recovery query names, or ok false when q is
// not one.
func asked(q string) (targets []string, ok bool) {
	m := recoveryQuery.FindStringSubmatch(q)
	if m == nil {
		return nil, false
	}
	re, err := strconv.Unquote(m[1])
	if err != nil {
		return nil, false
	}
	for _, alt := range strings.Split(re, "|") {
		targets = append(targets, quoted.ReplaceAllString(alt, "$1"))
	}
	return targets, true
}

// answering answers the failure query with failures and each recovery
// query with the builds of oks whose target it names.
func answering(t *testing.T, failures []*model.Sample, oks map[string]*model.Sample) func(string, int) apiAnswer {
	return func(q string, _ int) apiAnswer {
		switch q {
		case DefaultQuery:
			return apiAnswer{vector: failures}
		case presentQuery: // every target there, failing or not
			v := append(model.Vector(nil), failures...)
			for _, s := range oks {
				v = append(v, s)
			}
			return apiAnswer{vector: v}
		}
		targets, ok := asked(q)
		if !ok {
			t.Errorf("unexpected query %q", q)
			return apiAnswer{err: "unexpected query"}
		}
		var v model.Vector
		for _, target := range targets {
			if s, ok := oks[target]; ok {
				v = append(v, s)
			}
		}
		return apiAnswer{vector: v}
	}
}

// withWarnings adds warnings to the answers of the queries that match.
func withWarnings(answer func(string, int) apiAnswer, match func(q string) bool, warnings ...string) func(string, int) apiAnswer {
	return func(q string, n int) apiAnswer {
		a := answer(q, n)
		if match(q) {
			a.warnings = warnings
		}
		return a
	}
}

func isFailureQuery(q string) bool { return q == DefaultQuery }

func isRecoveryQuery(q string) bool {
	_, ok := asked(q)
	return ok
}

// newFakeEnv is an env whose feed makes its Prometheus source (New calls
// NewPrometheus) on p.
func newFakeEnv(t *testing.T, p *fakePrometheus) *env {
	return newEnvWith(t, nil, func(c *Config) { c.PrometheusURL = p.URL })
}

// TestWarningOnFailureQueryPostsNothing: a partial answer to the failure
// query publishes nothing and changes nothing; the same answer without
// its warning is published.
func TestWarningOnFailureQueryPostsNothing(t *testing.T) {
	t.Parallel()
	failures := []*model.Sample{sample(failing("sim", "warn", "nuttxpr", "7a7a7a7a", "8b8b8b8b"), 0)}
	clean := answering(t, failures, nil)
	p := newFakePrometheus(t, withWarnings(clean, isFailureQuery, "store eu-2 timed out: the result may be incomplete"))
	e := newFakeEnv(t, p)

	before := dump(t, e)
	res, err := e.feed.Poll(e.ctx)
	if err == nil || !strings.Contains(err.Error(), "partial answer") || !strings.Contains(err.Error(), "store eu-2 timed out") {
		t.Fatalf("poll of a partial answer: %+v, %v; want an error about the partial answer", res, err)
	}
	if res.Posts != 0 {
		t.Errorf("posted %d from a partial answer", res.Posts)
	}
	if q := p.takeQueries(); !slices.Equal(q, []string{DefaultQuery, presentQuery}) {
		t.Errorf("queries %q, want the failure query and the query of the targets present", q)
	}
	if after := dump(t, e); after != before {
		t.Fatalf("a partial answer changed the database:\n%s\n->\n%s", before, after)
	}
	e.wantNotes(0)

	p.setAnswer(clean)
	if res := e.poll(); res.Posts != 1 {
		t.Fatalf("the same answer without its warning posted %d, want 1", res.Posts)
	}
}

// TestWarningOnRecoveryQueryPostsNothing: a partial answer to a recovery
// query must not read as a recovery, nor record one.
func TestWarningOnRecoveryQueryPostsNothing(t *testing.T) {
	t.Parallel()
	bad := failing("sim", "warn", "nuttxpr", "7a7a7a7a", "8b8b8b8b")
	good := failing("sim", "warn", "nuttxpr", "9c9c9c9c", "8b8b8b8b")
	good["timestamp"], good["msg"] = "2024-12-07T00:00:00", ""
	p := newFakePrometheus(t, answering(t, []*model.Sample{sample(bad, 0)}, nil))
	e := newFakeEnv(t, p)
	if res := e.poll(); res.Posts != 1 {
		t.Fatalf("the failure posted %d, want 1", res.Posts)
	}
	p.takeQueries()

	recovered := answering(t, nil, map[string]*model.Sample{"sim:warn": sample(good, 1)})
	p.setAnswer(withWarnings(recovered, isRecoveryQuery, "query hit the sample limit on one shard: partial result"))
	before := dump(t, e)
	res, err := e.feed.Poll(e.ctx)
	if err == nil || !strings.Contains(err.Error(), "partial answer") || !strings.Contains(err.Error(), "sample limit on one shard") {
		t.Fatalf("poll of a partial recovery answer: %+v, %v; want an error about the partial answer", res, err)
	}
	if res.Posts != 0 || res.StateChanges != 0 {
		t.Errorf("a partial answer did %+v", res)
	}
	if q := p.takeQueries(); len(q) != 3 || q[0] != DefaultQuery || q[1] != presentQuery || !slices.Equal(askedOrNil(q[2]), []string{"sim:warn"}) {
		t.Errorf("queries %q, want the failure query, the query of the targets present, then a recovery query for sim:warn", q)
	}
	if after := dump(t, e); after != before {
		t.Fatalf("a partial answer changed the database:\n%s\n->\n%s", before, after)
	}
	if st, err := e.feed.Status(e.ctx); err != nil || len(st) != 1 || st[0].Target != "sim:warn" {
		t.Errorf("status after a partial answer: %+v %v, want sim:warn failing", st, err)
	}

	p.setAnswer(recovered)
	if res := e.poll(); res.Posts != 1 {
		t.Fatalf("the same answer without its warning posted %d, want the recovery", res.Posts)
	}
	if n := e.wantNotes(2)[1]; !strings.HasPrefix(n.Source, "sim : WARN - Build Recovered (nuttxpr)") {
		t.Errorf("recovery note: %s", n.Source)
	}
}

// TestRecoveryQueriesInChunks: more than recoveryChunk failing targets are
// asked about in several queries, each target once; an error in a later
// chunk fails the whole observation, though earlier chunks answered
// recoveries: nothing is posted or recorded.
func TestRecoveryQueriesInChunks(t *testing.T) {
	t.Parallel()
	const n = 2*recoveryChunk + 1 // chunks of 200, 200 and 1
	var failures []*model.Sample
	oks := map[string]*model.Sample{}
	for i := range n {
		l := failing(fmt.Sprintf("board%03d", i), "nsh", "nuttxpr", "deadbeef", "feedface")
		failures = append(failures, sample(l, 0))
		l["nuttx_hash"], l["timestamp"], l["msg"] = "c0ffee00", "2024-12-07T00:00:00", ""
		oks[l["target"]] = sample(l, 1)
	}
	p := newFakePrometheus(t, answering(t, failures, nil))
	e := newFakeEnv(t, p)
	if res := e.poll(); res.Posts != 1 || res.Failing != n {
		t.Fatalf("%d failures: %+v, want one digest", n, res)
	}
	p.takeQueries()

	// checkChunks checks that a poll asked the failure query, then every
	// failing target once, in chunks of at most recoveryChunk.
	checkChunks := func(queries []string) {
		t.Helper()
		if len(queries) != 5 || queries[0] != DefaultQuery || queries[1] != presentQuery {
			t.Fatalf("queries %q, want the failure query, the query of the targets present and 3 recovery queries", queries)
		}
		seen := map[string]int{}
		var sizes []int
		for _, q := range queries[2:] {
			targets, ok := asked(q)
			if !ok {
				t.Fatalf("not a recovery query: %q", q)
			}
			sizes = append(sizes, len(targets))
			for _, target := range targets {
				seen[target]++
			}
		}
		if !slices.Equal(sizes, []int{recoveryChunk, recoveryChunk, n - 2*recoveryChunk}) {
			t.Errorf("chunks of %v targets, want %d, %d and %d", sizes, recoveryChunk, recoveryChunk, n-2*recoveryChunk)
		}
		if len(seen) != n {
			t.Errorf("%d targets asked about, want %d", len(seen), n)
		}
		for target, times := range seen {
			if _, ok := oks[target]; !ok || times != 1 {
				t.Errorf("target %q asked %d times", target, times)
			}
		}
	}

	recovered := answering(t, nil, oks)
	p.setAnswer(func(q string, i int) apiAnswer {
		if i == 5 { // the third recovery query
			return apiAnswer{err: "query processing would load too many samples into memory"}
		}
		return recovered(q, i)
	})
	before := dump(t, e)
	res, err := e.feed.Poll(e.ctx)
	if err == nil || !strings.Contains(err.Error(), "too many samples") {
		t.Fatalf("an error in the third chunk: %+v, %v; want the poll to fail with it", res, err)
	}
	if res.Posts != 0 || res.StateChanges != 0 {
		t.Errorf("a failed observation did %+v", res)
	}
	checkChunks(p.takeQueries())
	if after := dump(t, e); after != before {
		t.Fatalf("a failed observation changed the database:\n%s\n->\n%s", before, after)
	}
	if st, err := e.feed.Status(e.ctx); err != nil || len(st) != n {
		t.Errorf("%d failing after a failed observation (%v), want %d", len(st), err, n)
	}

	p.setAnswer(recovered)
	if res := e.poll(); res.Posts != 1 {
		t.Fatalf("every chunk answered: %+v, want one post of the %d recoveries", res, n)
	}
	checkChunks(p.takeQueries())
	if st, err := e.feed.Status(e.ctx); err != nil || len(st) != 0 {
		t.Errorf("%d failing after the recoveries (%v), want none", len(st), err)
	}
	if x := e.wantNotes(2)[1]; !strings.HasPrefix(x.Source, fmt.Sprintf("%d NuttX targets build again (nuttxpr)", n)) {
		t.Errorf("recovery digest: %s", firstLine(x.Source))
	}
}

func askedOrNil(q string) []string {
	targets, _ := asked(q)
	return targets
}
