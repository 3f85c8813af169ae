package activitypub

import (
	"math"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// Rate is a token bucket: PerSecond sustained, Burst at once.
type Rate struct {
	PerSecond float64 // negative: no limit
	Burst     int
}

// DefaultInboxRate is what one client address may send to our inboxes
// before its signature is checked, and one remote server (the registrable
// domain of the signer) once it is, before either is answered 429: far
// above what a large server sends a bot (a burst of account deletions costs
// nothing, as a Delete of an actor we never knew is dropped before the
// limit), far below what fills a database (docs/FEDERATION.md, "Limits").
var DefaultInboxRate = Rate{PerSecond: 20, Burst: 400}

// keyedRates holds a token bucket per key ("client ADDRESS", "server
// DOMAIN"), for the most recently seen keys (an evicted bucket starts full
// again, which only favours its key).
type keyedRates struct {
	limit   rate.Limit
	burst   int
	mu      sync.Mutex
	buckets *lru.Cache[string, *rate.Limiter]
}

func newKeyedRates(r Rate) *keyedRates {
	if r.PerSecond == 0 {
		r.PerSecond = DefaultInboxRate.PerSecond
	}
	if r.Burst <= 0 {
		r.Burst = DefaultInboxRate.Burst
	}
	limit := rate.Limit(r.PerSecond)
	if r.PerSecond < 0 {
		limit = rate.Inf
	}
	buckets, _ := lru.New[string, *rate.Limiter](keyCacheSize) // errors only for a size <= 0
	return &keyedRates{limit: limit, burst: r.Burst, buckets: buckets}
}

// allow takes a token from key's bucket. When there is none it returns
// false and how long until there is one.
func (h *keyedRates) allow(key string, now time.Time) (time.Duration, bool) {
	if h.limit == rate.Inf {
		return 0, true
	}
	h.mu.Lock()
	lim, ok := h.buckets.Get(key)
	if !ok {
		lim = rate.NewLimiter(h.limit, h.burst)
		h.buckets.Add(key, lim)
	}
	h.mu.Unlock()
	if lim.AllowN(now, 1) {
		return 0, true
	}
	wait := time.Duration(math.Ceil(float64(time.Second) / float64(h.limit)))
	return wait, false
}
