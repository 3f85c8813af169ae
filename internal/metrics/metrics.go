// Package metrics holds what nuttx-feed exports to Prometheus: a registry
// of its own (never the global one), the counters and histograms that
// activitypub, feed and server feed through the nil-safe methods of
// Metrics, and a collector that reads the delivery queue, the breaker and
// the followers from the store when /metrics is scraped.
//
// It is the only package that touches client_golang's metric types: the
// others call methods that take plain values (an outcome named by one of
// the constants below, a duration). A nil *Metrics counts nothing, so code
// that runs without /metrics (commands, tests) passes nil.
//
// Every name starts with nuttx_feed_ and follows Prometheus' naming rules
// (base units in the name, _total on counters); the Go runtime's and the
// process's metrics keep their standard go_ and process_ names, which
// every stock dashboard and alert expects.
package metrics

import (
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// Namespace starts the name of every metric of nuttx-feed.
const Namespace = "nuttx_feed"

// DeliveryOutcome is what became of one delivery attempt.
type DeliveryOutcome string

// The outcomes of a delivery attempt.
const (
	Delivered       DeliveryOutcome = "delivered" // 2xx
	DeliveryRetry   DeliveryOutcome = "retry"     // failed; tried again later
	DeliveryFailed  DeliveryOutcome = "failed"    // refused for good (a 4xx, a bad URL, a private address)
	DeliveryGone    DeliveryOutcome = "gone"      // 410 from a personal inbox: the follower was removed
	DeliveryGivenUp DeliveryOutcome = "given_up"  // failed after the last retry
)

var deliveryOutcomes = []DeliveryOutcome{Delivered, DeliveryRetry, DeliveryFailed, DeliveryGone, DeliveryGivenUp}

// InboxResult is what a POST to an inbox was answered: accepted, or the
// class of its rejection.
type InboxResult string

// The results of an inbox request.
const (
	InboxAccepted     InboxResult = "accepted"               // 202, including activities ignored on purpose
	InboxInvalid      InboxResult = "invalid"                // 400: malformed JSON or missing fields
	InboxUnauthorized InboxResult = "unauthorized"           // 401: signature missing, malformed or failing
	InboxNotFound     InboxResult = "not_found"              // 404: no such inbox
	InboxTooLarge     InboxResult = "too_large"              // 413
	InboxMediaType    InboxResult = "unsupported_media_type" // 415
	InboxRateLimited  InboxResult = "rate_limited"           // 429: the client or its server is over its rate
	InboxUnavailable  InboxResult = "unavailable"            // 503: its key could not be fetched now
	InboxError        InboxResult = "error"                  // 503: our own failure (the database)
)

var inboxResults = []InboxResult{InboxAccepted, InboxInvalid, InboxUnauthorized, InboxNotFound, InboxTooLarge,
	InboxMediaType, InboxRateLimited, InboxUnavailable, InboxError}

// FetchResult is how a fetch of a remote document (a key, an actor) went.
type FetchResult string

// The results of a remote fetch.
const (
	FetchOK          FetchResult = "ok"
	FetchMissing     FetchResult = "missing"       // 404 or 410
	FetchHTTPError   FetchResult = "http_error"    // another status than 200
	FetchBadDocument FetchResult = "bad_document"  // not ActivityPub JSON, too large, redirected away...
	FetchNetwork     FetchResult = "network_error" // no answer, a timeout, a refused connection
	FetchLimited     FetchResult = "limited"       // not made: no free slot, or the host failed lately
	FetchCanceled    FetchResult = "canceled"      // the request that needed it went away
	FetchError       FetchResult = "error"         // our own failure (the database, our key)
)

var fetchResults = []FetchResult{FetchOK, FetchMissing, FetchHTTPError, FetchBadDocument, FetchNetwork, FetchLimited, FetchCanceled, FetchError}

// Options configure Metrics.
type Options struct {
	// Version is the build's version, for nuttx_feed_build_info.
	Version string
	// Store is read when /metrics is scraped (the queue, the breaker, the
	// followers); nil leaves those gauges out.
	Store *store.Store
	// Feed tells whether the feed runs: its metrics are exported only then,
	// so that a server without a feed never looks stale.
	Feed bool
	// Logger receives the errors of a scrape (a database that fails); nil
	// discards them.
	Logger *slog.Logger
}

// Metrics are the metrics of a running server. Create them with New; a nil
// *Metrics counts nothing.
type Metrics struct {
	reg        *prometheus.Registry
	log        *slog.Logger
	deliveries *prometheus.CounterVec
	retries    prometheus.Counter
	inbox      *prometheus.CounterVec
	fetches    *prometheus.CounterVec
	polls      prometheus.Counter
	pollErrors prometheus.Counter
	lastPoll   prometheus.Gauge
	posts      prometheus.Counter
	http       *prometheus.HistogramVec
}

// New returns the metrics of a server, registered in a registry of their
// own, every labelled counter at zero from the start.
func New(o Options) *Metrics {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		log: o.Logger,
		deliveries: counterVec("delivery_attempts_total",
			"Delivery attempts, by outcome: delivered, retry (to be tried again, also when its host's breaker holds it), failed (refused for good), gone (the follower was removed), given_up (after the last retry).",
			"outcome", deliveryOutcomes),
		retries: counter("delivery_retries_total", "Delivery attempts that were retries of an earlier failed one."),
		inbox: counterVec("inbox_requests_total",
			"POSTs to the inboxes, by result: accepted, or the class of the rejection (invalid, unauthorized, not_found, too_large, unsupported_media_type, rate_limited, unavailable, error).",
			"result", inboxResults),
		fetches: counterVec("remote_fetches_total",
			"Fetches of remote keys and actors, by result: ok, missing (404, 410), http_error, bad_document, network_error, limited (not made), canceled, error (ours).",
			"result", fetchResults),
		polls:      counter("feed_polls_total", "Polls of Prometheus for failed builds."),
		pollErrors: counter("feed_poll_errors_total", "Polls of Prometheus that failed (nothing was posted from them)."),
		lastPoll: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "feed_last_success_timestamp_seconds",
			Help: "When the feed last polled Prometheus successfully, in Unix seconds; 0 before the first success since the start."}),
		posts: counter("feed_posts_total", "Notes the feed published."),
		http: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern (unmatched when no route matched), method and status class.",
			Buckets: prometheus.DefBuckets}, []string{"route", "method", "status"}),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "build_info",
		Help:        "Always 1; its labels name the version of nuttx-feed and of Go that built it.",
		ConstLabels: prometheus.Labels{"version": o.Version, "goversion": runtime.Version()}})
	buildInfo.Set(1)
	m.reg.MustRegister(m.deliveries, m.retries, m.inbox, m.fetches, m.http, buildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if o.Feed {
		m.reg.MustRegister(m.polls, m.pollErrors, m.lastPoll, m.posts)
	}
	if o.Store != nil {
		m.reg.MustRegister(newStoreCollector(o.Store))
	}
	return m
}

// counter returns a counter named nuttx_feed_NAME.
func counter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help})
}

// counterVec returns a counter named nuttx_feed_NAME with one label, each
// of values set to zero: a rate over a series that appears only with its
// first event misses that event.
func counterVec[V ~string](name, help, label string, values []V) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, []string{label})
	for _, v := range values {
		c.WithLabelValues(string(v))
	}
	return c
}

// Handler serves the metrics in Prometheus' text format (or OpenMetrics,
// or compressed, as the scraper asks). A scrape whose database read fails
// still serves every other metric; the error goes to the log.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(m.log.Handler(), slog.LevelError),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// DeliveryDone counts one delivery attempt and its outcome; retry tells
// whether it retried an earlier failed attempt.
func (m *Metrics) DeliveryDone(outcome DeliveryOutcome, retry bool) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(string(outcome)).Inc()
	if retry {
		m.retries.Inc()
	}
}

// InboxRequest counts one POST to an inbox by what it was answered.
func (m *Metrics) InboxRequest(r InboxResult) {
	if m == nil {
		return
	}
	m.inbox.WithLabelValues(string(r)).Inc()
}

// RemoteFetch counts one fetch of a remote document by its result.
func (m *Metrics) RemoteFetch(r FetchResult) {
	if m == nil {
		return
	}
	m.fetches.WithLabelValues(string(r)).Inc()
}

// FeedPolled counts one poll of the feed: the notes it published and
// whether it failed (err). A successful poll sets the time of the last one.
func (m *Metrics) FeedPolled(posts int, err error) {
	if m == nil {
		return
	}
	m.polls.Inc()
	m.posts.Add(float64(posts))
	if err != nil {
		m.pollErrors.Inc()
		return
	}
	m.lastPoll.SetToCurrentTime()
}

// HTTPRequest observes how long an HTTP request took. route is the
// router's pattern ("/users/:username"), never the path a client chose:
// "" (no route matched) becomes "unmatched". Methods other than GET, HEAD
// and POST count as "other", and the status by its class ("2xx").
func (m *Metrics) HTTPRequest(route, method string, status int, took time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		method = "other"
	}
	m.http.WithLabelValues(route, method, statusClass(status)).Observe(took.Seconds())
}

// statusClass is "2xx" for 200 to 299, and so on; "other" outside 100-599.
func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status/100) + "xx"
}
