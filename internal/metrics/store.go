package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// storeCollector reads the gauges that only the database knows at scrape
// time, in one read transaction: the queue, the breaker and the followers.
// Computing them when asked keeps them right whatever process changed the
// database (`nuttx-feed post`, `deliveries retry`) and costs nothing
// between scrapes.
type storeCollector struct {
	st        *store.Store
	pending   *prometheus.Desc
	oldest    *prometheus.Desc
	hosts     *prometheus.Desc
	followers *prometheus.Desc
}

// scrapeTimeout bounds the database read of one scrape.
const scrapeTimeout = 5 * time.Second

// hostStates are the breaker's states, each reported even when no host is
// in it.
var hostStates = []string{store.HostFailing, store.HostHeld, store.HostParked}

func newStoreCollector(st *store.Store) *storeCollector {
	name := func(n string) string { return prometheus.BuildFQName(Namespace, "", n) }
	return &storeCollector{
		st: st,
		pending: prometheus.NewDesc(name("delivery_pending"),
			"Deliveries not finished yet, by state: due (waiting for a worker), waiting (for a retry), held (by its host's breaker), in_flight (taken by the server); their sum is the depth of the queue.",
			[]string{"state"}, nil),
		oldest: prometheus.NewDesc(name("delivery_oldest_pending_age_seconds"),
			"How long the pending delivery due the longest has waited for a worker since it was queued or its retry came due (0 when none is due); held hosts and retries not yet due do not count.",
			nil, nil),
		hosts: prometheus.NewDesc(name("delivery_breaker_hosts"),
			"Registrable domains whose deliveries fail now, by breaker state: failing (still tried), held (open breaker: probed now and then) and parked (open breaker: left alone until revived).",
			[]string{"state"}, nil),
		followers: prometheus.NewDesc(name("followers"),
			"Followers of each local actor.", []string{"actor"}, nil),
	}
}

// Describe sends the descriptions of every metric Collect may send.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pending, c.oldest, c.hosts, c.followers} {
		ch <- d
	}
}

// Collect reads the database once and sends the gauges; when the read
// fails it sends the error (the handler logs it and serves the rest).
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	var st store.QueueStats
	var now time.Time
	err := c.st.View(ctx, func(tx *store.Tx) (err error) {
		now = tx.Now
		st, err = tx.QueueStats()
		return err
	})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.pending, fmt.Errorf("read the queue, breakers and followers: %w", err))
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for state, n := range map[string]int{"due": st.Due, "waiting": st.Waiting, "held": st.Held, "in_flight": st.InFlight} {
		gauge(c.pending, float64(n), state)
	}
	age := 0.0
	if !st.OldestDue.IsZero() {
		age = now.Sub(st.OldestDue).Seconds()
	}
	gauge(c.oldest, age)
	for _, state := range hostStates {
		gauge(c.hosts, float64(st.Hosts[state]), state)
	}
	for actor, n := range st.Followers {
		gauge(c.followers, float64(n), actor)
	}
}
