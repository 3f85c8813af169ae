package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/metrics"
	"github.com/nuttx-feed/nuttx-feed/internal/promtest"
)

const testMetricsToken = "0123456789abcdef-test-token"

// scrape GETs url with the bearer token (none when "") and returns the
// status, the WWW-Authenticate header and the body.
func scrape(t *testing.T, url, token string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(body)
}

// families scrapes url with token and parses the metrics.
func families(t *testing.T, url, token string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	status, _, body := scrape(t, url, token)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, body)
	}
	return fams, body
}

// sample returns the value of the sample of family name whose labels
// include labels ("k", "v", ...): a counter's or gauge's value, a
// histogram's count; ok is false when there is none.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsNotServedByDefault: with neither --metrics-listen nor
// --metrics-token, /metrics does not exist: the main listener faces the
// Internet.
func TestMetricsNotServedByDefault(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	if status, _, body := scrape(t, ts.URL+"/metrics", ""); status != http.StatusNotFound {
		t.Errorf("/metrics: %d %s, want 404", status, body)
	}
	if !strings.Contains(ts.logs.String(), " metrics=off") {
		t.Errorf("the start line does not say metrics=off:\n%s", ts.logs.String())
	}
}

// TestMetricsToken: with --metrics-token, /metrics on the main listener
// answers 401 (with a Bearer challenge) without the token, with another
// one or another scheme, and 200 with it.
func TestMetricsToken(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.MetricsToken = testMetricsToken })
	for _, auth := range []string{"", "Bearer wrong-token-0123456789", "Bearer " + testMetricsToken + "x", "Basic " + testMetricsToken, testMetricsToken, "Bearer"} {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") || bytes.Contains(body, []byte("nuttx_feed_")) {
			t.Errorf("Authorization %q: %d %q %s, want 401 with a Bearer challenge", auth, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
		}
	}
	fams, _ := families(t, ts.URL+"/metrics", testMetricsToken)
	if v, ok := sample(fams, "nuttx_feed_build_info", "version", Version, "goversion", runtime.Version()); !ok || v != 1 {
		t.Errorf("nuttx_feed_build_info = %v %v, want 1", v, ok)
	}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/metrics", nil)
	req.Header.Set("Authorization", "bearer "+testMetricsToken) // the scheme is case-insensitive
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("lower-case bearer: %v %v", resp, err)
	}
}

// TestMetricsListen: --metrics-listen serves /metrics on its own address
// (and nothing else there), never on the main listener; with a token it
// wants the token there.
func TestMetricsListen(t *testing.T) {
	t.Parallel()
	for _, token := range []string{"", testMetricsToken} {
		ts := startServer(t, func(c *Config) { c.MetricsListen, c.MetricsToken = "127.0.0.1:0", token })
		addr := "http://" + ts.metricsLn.Addr().String()
		if status, _, _ := scrape(t, ts.URL+"/metrics", token); status != http.StatusNotFound {
			t.Errorf("token %q: /metrics on the main listener: %d, want 404", token, status)
		}
		if status, _, _ := scrape(t, addr+"/health", token); status != http.StatusNotFound {
			t.Errorf("token %q: /health on the metrics listener: %d, want 404", token, status)
		}
		if token != "" {
			if status, _, _ := scrape(t, addr+"/metrics", ""); status != http.StatusUnauthorized {
				t.Errorf("no token on the metrics listener: %d, want 401", status)
			}
		}
		fams, _ := families(t, addr+"/metrics", token)
		if _, ok := sample(fams, "nuttx_feed_delivery_pending", "state", "due"); !ok {
			t.Errorf("token %q: no nuttx_feed_delivery_pending on the metrics listener", token)
		}
		if !strings.Contains(ts.logs.String(), " metrics="+addr+"/metrics") {
			t.Errorf("the start line does not name %s/metrics:\n%s", addr, ts.logs.String())
		}
	}
}

// TestMetricsFlags: a bad token or address is refused in one line, before
// anything starts.
func TestMetricsFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ args, want []string }{
		{[]string{"--metrics-token", "short"}, []string{"--metrics-token", "too short"}},
		{[]string{"--metrics-token", "0123456789abcdef with space"}, []string{"--metrics-token", "use only"}},
		{[]string{"--metrics-token", "0123456789abcdef\u00e9"}, []string{"--metrics-token", "use only"}},
		{[]string{"--metrics-listen", "9464"}, []string{"--metrics-listen", "want HOST:PORT"}},
	} {
		dir := t.TempDir()
		code, _, stderr := run(append([]string{"serve", "--data", dir}, c.args...)...)
		for _, w := range c.want {
			if code != 2 || !strings.Contains(stderr, w) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("serve %q: exit %d %q, want 2 and one line with %q", c.args, code, stderr, w)
			}
		}
		if databaseExists(dir) {
			t.Errorf("serve %q created a database", c.args)
		}
	}
	ts := startServer(t)
	ln := listen(t)
	cfg := startConfig(t, ln)
	cfg.MetricsListen = ts.Addr() // taken
	if _, err := Open(t.Context(), cfg, ts.log, WithListener(ln)); err == nil || !strings.Contains(err.Error(), "--metrics-listen") {
		t.Errorf("a metrics address in use: %v, want an error naming --metrics-listen", err)
	}
}

// TestMetricsAfterTraffic: after real traffic (two servers follow, one of
// whose inbox answers 503; an unsigned POST; a failed build from a real
// Prometheus posted and delivered), the metrics say exactly what
// happened; promtool finds nothing wrong in them; README.md lists exactly
// the nuttx_feed_* metrics exported; and every metric that docs/alerts.yml
// and docs/grafana-dashboard.json query is exported.
func TestMetricsAfterTraffic(t *testing.T) {
	t.Parallel()
	stack := promtest.Start(t)
	start := time.Now()
	ts := startServer(t, func(c *Config) {
		c.PrometheusURL, c.PollInterval, c.Query = stack.PromURL, 200*time.Millisecond, "build_score < 0.5"
		c.MetricsToken = testMetricsToken
	})
	good := fedtest.New(t, "alice", fedtest.GoToSocial, fedtest.FetchKeys)
	bad := fedtest.New(t, "bob", fedtest.Mastodon, fedtest.FetchKeys)
	bad.Answer(func(int) (int, http.Header) { return http.StatusServiceUnavailable, nil })
	for _, r := range []*fedtest.Remote{good, bad} {
		if resp, err := r.Post(ts.URL+"/inbox", r.FollowActivity(ts.URL+"/users/nuttx_build")); err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("%s follows: %v %v", r.Username, resp, err)
		}
	}
	if resp, err := http.Post(ts.URL+"/inbox", "application/activity+json", strings.NewReader(`{"type":"Follow"}`)); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("an unsigned Follow without id: %v %v, want 400", resp, err)
	}
	follow := good.FollowActivity(ts.URL + "/users/nuttx_build")
	body, _ := json.Marshal(follow)
	if resp, err := http.Post(ts.URL+"/inbox", "application/activity+json", bytes.NewReader(body)); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("an unsigned Follow: %v %v, want 401", resp, err)
	}
	get(t, ts.URL+"/no/such/page", apAccept)
	good.WaitDeliveries(t, 1, 10*time.Second) // the Accept

	stack.Push(t, promtest.Labels{"user": "nuttxpr", "target": "sim:nsh", "board": "sim", "config": "nsh", "arch": "sim",
		"nuttx_hash": "0481533", "apps_hash": "b08c296", "timestamp": "2024-12-06T06:14:54"}, 0)
	if d := good.WaitDeliveries(t, 2, 30*time.Second)[1]; d.Activity["type"] != "Create" {
		t.Fatalf("second delivery to alice: %v", d.Activity)
	}
	bad.WaitDeliveries(t, 2, 10*time.Second) // the Accept and the Create, both answered 503

	url := ts.URL + "/metrics"
	want := []struct {
		name   string
		labels []string
		value  float64
	}{
		{"nuttx_feed_delivery_attempts_total", []string{"outcome", "delivered"}, 2},
		{"nuttx_feed_delivery_attempts_total", []string{"outcome", "retry"}, 2},
		{"nuttx_feed_delivery_attempts_total", []string{"outcome", "failed"}, 0},
		{"nuttx_feed_delivery_attempts_total", []string{"outcome", "given_up"}, 0},
		{"nuttx_feed_delivery_retries_total", nil, 0},
		{"nuttx_feed_delivery_pending", []string{"state", "waiting"}, 2},
		{"nuttx_feed_delivery_pending", []string{"state", "due"}, 0},
		{"nuttx_feed_delivery_pending", []string{"state", "held"}, 0},
		{"nuttx_feed_delivery_pending", []string{"state", "in_flight"}, 0},
		{"nuttx_feed_delivery_oldest_pending_age_seconds", nil, 0},
		{"nuttx_feed_delivery_breaker_hosts", []string{"state", "held"}, 0},
		{"nuttx_feed_delivery_breaker_hosts", []string{"state", "parked"}, 0},
		{"nuttx_feed_followers", []string{"actor", "nuttx_build"}, 2},
		{"nuttx_feed_inbox_requests_total", []string{"result", "accepted"}, 2},
		{"nuttx_feed_inbox_requests_total", []string{"result", "invalid"}, 1},
		{"nuttx_feed_inbox_requests_total", []string{"result", "unauthorized"}, 1},
		{"nuttx_feed_inbox_requests_total", []string{"result", "rate_limited"}, 0},
		{"nuttx_feed_feed_posts_total", nil, 1},
		{"nuttx_feed_feed_poll_errors_total", nil, 0},
		{"nuttx_feed_http_request_duration_seconds", []string{"route", "/inbox", "method", "POST", "status", "2xx"}, 2},
		{"nuttx_feed_http_request_duration_seconds", []string{"route", "/inbox", "method", "POST", "status", "4xx"}, 2},
		{"nuttx_feed_http_request_duration_seconds", []string{"route", "unmatched", "method", "GET", "status", "4xx"}, 1},
	}
	var fams map[string]*dto.MetricFamily
	var text string
	eventually.True(t, 10*time.Second, "the metrics of the traffic", func() bool {
		fams, text = families(t, url, testMetricsToken)
		for _, w := range want {
			if v, ok := sample(fams, w.name, w.labels...); !ok || v != w.value {
				return false
			}
		}
		return true
	})
	fams, text = families(t, url, testMetricsToken) // a scrape is measured once it is answered: now the last one shows
	for _, w := range []struct {
		name   string
		labels []string
		min    float64
	}{
		{"nuttx_feed_remote_fetches_total", []string{"result", "ok"}, 2}, // the keys of alice and bob
		{"nuttx_feed_feed_polls_total", nil, 1},
		{"nuttx_feed_feed_last_success_timestamp_seconds", nil, float64(start.Unix())},
		{"nuttx_feed_http_request_duration_seconds", []string{"route", "/metrics", "method", "GET", "status", "2xx"}, 1},
		{"go_goroutines", nil, 1},
		{"process_resident_memory_bytes", nil, 1},
	} {
		if v, ok := sample(fams, w.name, w.labels...); !ok || v < w.min {
			t.Errorf("%s%v = %v (%v), want at least %v", w.name, w.labels, v, ok, w.min)
		}
	}
	if v, _ := sample(fams, "nuttx_feed_feed_last_success_timestamp_seconds"); v > float64(time.Now().Unix()+1) {
		t.Errorf("last good poll at %v, in the future", v)
	}
	for name := range fams {
		if !strings.HasPrefix(name, "nuttx_feed_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			t.Errorf("%s: not named nuttx_feed_* (nor the standard go_* and process_*)", name)
		}
	}
	if strings.Contains(text, `route="/no/such/page"`) {
		t.Error("a raw path became a label value")
	}

	t.Run("promtool check metrics", func(t *testing.T) {
		cmd := exec.Command(promtool(t), "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	})
	t.Run("README lists exactly the metrics exported", func(t *testing.T) {
		b, err := os.ReadFile("../README.md")
		if err != nil {
			t.Fatal(err)
		}
		listed := map[string]bool{}
		for _, m := range regexp.MustCompile("`(nuttx_feed_[a-z_]+)").FindAllStringSubmatch(string(b), -1) {
			listed[m[1]] = true
			if fams[m[1]] == nil {
				t.Errorf("README.md names %s, which nuttx-feed does not export", m[1])
			}
		}
		for name := range fams {
			if strings.HasPrefix(name, "nuttx_feed_") && !listed[name] {
				t.Errorf("README.md does not list %s", name)
			}
		}
	})
	t.Run("docs query exported metrics", func(t *testing.T) {
		names := slices.Concat(alertRuleMetrics(t), dashboardMetrics(t))
		if len(names) < 10 {
			t.Fatalf("only %d metric names found in the docs: %v", len(names), names)
		}
		for _, name := range names {
			base := name
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if b, ok := strings.CutSuffix(name, suffix); ok && fams[b].GetType() == dto.MetricType_HISTOGRAM {
					base = b
				}
			}
			if fams[base] == nil && name != "up" {
				t.Errorf("the docs query %s, which nuttx-feed does not export", name)
			}
		}
	})
}

// TestMetricsPollErrors: polls of a Prometheus that does not answer count
// as polls and errors, and leave the time of the last good poll at 0.
func TestMetricsPollErrors(t *testing.T) {
	t.Parallel()
	closed := listen(t)
	deadURL := "http://" + closed.Addr().String()
	closed.Close()
	ts := startServer(t, func(c *Config) {
		c.PrometheusURL, c.PollInterval = deadURL, 100*time.Millisecond
		c.MetricsToken = testMetricsToken
	})
	eventually.True(t, 10*time.Second, "two failed polls", func() bool {
		fams, _ := families(t, ts.URL+"/metrics", testMetricsToken)
		polls, _ := sample(fams, "nuttx_feed_feed_polls_total")
		errs, _ := sample(fams, "nuttx_feed_feed_poll_errors_total")
		last, ok := sample(fams, "nuttx_feed_feed_last_success_timestamp_seconds")
		// A scrape may fall between a poll's two counts: errors lag by one.
		if errs > polls || polls-errs > 1 || !ok || last != 0 {
			t.Fatalf("polls %v, errors %v, last good poll %v (%v): want every poll failed and no good one", polls, errs, last, ok)
		}
		return errs >= 2
	})
}

// TestMetricsWithoutFeed: without a feed its metrics are not exported, so
// that FeedStale cannot fire for a server that polls nothing.
func TestMetricsWithoutFeed(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.MetricsToken = testMetricsToken }) // PrometheusURL empty
	fams, _ := families(t, ts.URL+"/metrics", testMetricsToken)
	for name := range fams {
		if strings.HasPrefix(name, "nuttx_feed_feed_") {
			t.Errorf("%s exported without a feed", name)
		}
	}
	if _, ok := sample(fams, "nuttx_feed_delivery_attempts_total", "outcome", "delivered"); !ok {
		t.Error("no delivery metrics")
	}
}

// promtool returns the path of Debian's promtool (package prometheus,
// which make test installs), or fails the test.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (apt-get install prometheus; make test does): %v", err)
	}
	return p
}

// TestAlertRules: promtool accepts docs/alerts.yml and passes its unit
// tests (docs/alerts_test.yml), and it has the alerts
// README.md promises, each with a severity, a summary and (but the one
// that must fire at once) a for: clause.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(promtool(t), "check", "rules", "../docs/alerts.yml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool check rules docs/alerts.yml: %v\n%s", err, out)
	}
	// docs/alerts_test.yml: when each alert fires, on series shaped as
	// nuttx-feed exports them, and what it then says.
	out, err = exec.Command(promtool(t), "test", "rules", "../docs/alerts_test.yml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool test rules docs/alerts_test.yml: %v\n%s", err, out)
	}
	var names []string
	for _, r := range alertRules(t) {
		names = append(names, r.Alert)
		if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("%s: no severity, summary or description", r.Alert)
		}
		if r.For == "" && r.Alert != "DeliveriesGivenUp" {
			t.Errorf("%s: no for: clause", r.Alert)
		}
	}
	for _, want := range []string{"NuttxFeedDown", "DeliveriesFailing", "DeliveryQueueBackingUp", "FeedStale"} {
		if !slices.Contains(names, want) {
			t.Errorf("docs/alerts.yml has no %s (it has %v)", want, names)
		}
	}
}

// alertRule is a rule of docs/alerts.yml.
type alertRule struct {
	Alert, Expr, For    string
	Labels, Annotations map[string]string
}

func alertRules(t *testing.T) []alertRule {
	t.Helper()
	b, err := os.ReadFile("../docs/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct{ Rules []alertRule }
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("docs/alerts.yml: %v", err)
	}
	var rules []alertRule
	for _, g := range doc.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules
}

// alertRuleMetrics returns the metric names the rules query.
func alertRuleMetrics(t *testing.T) []string {
	var names []string
	for _, r := range alertRules(t) {
		names = append(names, promqlMetrics(r.Expr)...)
	}
	return names
}

// dashboardMetrics returns the metric names the dashboard's panels and
// variables query.
func dashboardMetrics(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	var names []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				s, isString := e.(string)
				switch {
				case k == "expr" && isString:
					names = append(names, promqlMetrics(s)...)
				case k == "definition" && isString: // a variable: label_values(METRIC, LABEL)
					m := regexp.MustCompile(`^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)`).FindStringSubmatch(s)
					if m == nil {
						t.Errorf("dashboard variable %q is not label_values(METRIC, LABEL)", s)
						continue
					}
					names = append(names, m[1])
				default:
					walk(e)
				}
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(dash)
	return names
}

var (
	promqlStrings   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promqlMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promqlRanges    = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGrouping  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlName      = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promqlKeywords  = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"}
	promqlCallsNext = regexp.MustCompile(`^\s*\(`)
)

// promqlMetrics returns the metric names in a PromQL expression: what is
// left once strings, label matchers, ranges and grouping clauses are gone,
// less functions, aggregations (followed by "("), keywords, numbers and
// Grafana's $variables.
func promqlMetrics(expr string) []string {
	for _, re := range []*regexp.Regexp{promqlStrings, promqlMatchers, promqlRanges, promqlGrouping} {
		expr = re.ReplaceAllString(expr, " ")
	}
	var names []string
	for _, loc := range promqlName.FindAllStringIndex(expr, -1) {
		name := expr[loc[0]:loc[1]]
		if loc[0] > 0 && strings.ContainsAny(expr[loc[0]-1:loc[0]], "0123456789.$") {
			continue // a number's exponent or unit, or a variable
		}
		if promqlCallsNext.MatchString(expr[loc[1]:]) || slices.Contains(promqlKeywords, name) {
			continue
		}
		names = append(names, name)
	}
	return names
}

// TestPromqlMetrics checks the extraction the docs test relies on.
func TestPromqlMetrics(t *testing.T) {
	t.Parallel()
	for expr, want := range map[string][]string{
		`up{job="nuttx-feed"} == 0 or absent(up{job="nuttx-feed"})`:                                      {"up", "up"},
		`sum by (le, route) (rate(a_bucket{job=~"$job"}[$__rate_interval])) / ignoring(x) b_total > 1e3`: {"a_bucket", "b_total"},
		`time() - max(c_seconds) > 900`:                                                                  {"c_seconds"},
		`histogram_quantile(0.99, sum without (instance) (rate(d_bucket[5m] offset 1h)))`:                {"d_bucket"},
		`sum(e{a="}"}) and on() f`:                                                                       {"e", "f"},
	} {
		if got := promqlMetrics(expr); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", expr, got, want)
		}
	}
}

// TestInboxResult names what each error of the inbox is answered.
func TestInboxResult(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want metrics.InboxResult
	}{
		{nil, metrics.InboxAccepted},
		{fmt.Errorf("%w: no id", activitypub.ErrInvalid), metrics.InboxInvalid},
		{echo.NewHTTPError(http.StatusBadRequest, "cannot read the body"), metrics.InboxInvalid},
		{fmt.Errorf("%w: bad", activitypub.ErrUnauthorized), metrics.InboxUnauthorized},
		{activitypub.ErrNotFound, metrics.InboxNotFound},
		{activitypub.ErrTooLarge, metrics.InboxTooLarge},
		{activitypub.ErrUnsupportedMediaType, metrics.InboxMediaType},
		{fmt.Errorf("%w: slow down", activitypub.ErrTooManyRequests), metrics.InboxRateLimited},
		{fmt.Errorf("%w: key", activitypub.ErrUnavailable), metrics.InboxUnavailable},
		{errors.New("database is locked"), metrics.InboxError},
	} {
		if got := inboxResult(c.err); got != c.want {
			t.Errorf("%v: %s, want %s", c.err, got, c.want)
		}
	}
}
