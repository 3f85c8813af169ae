package server

import (
	"container/list"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// Per-client limits on the expensive GETs (README.md, "Configuration";
// docs/FEDERATION.md, "Limits"): the pages,
// notes, collections and NodeInfo, which read the database and render.
// WebFinger, host-meta, the actor document, /health, the static files and
// the inboxes (signed, and limited elsewhere) are not counted: they are
// cheap or answered from memory, and other servers ask them most.

// maxClients bounds the buckets kept, so that a flood from many addresses
// costs a few megabytes at most (TestClientLimiterMemory).
const maxClients = 16384

// clientLimiter holds a token bucket per client: a client may make burst
// requests at once, then perMinute a minute. A client is an IPv4 address
// or an IPv6 /64 (one subscriber usually holds a whole /64, so counting
// its addresses apart would count nothing). Buckets are kept least
// recently used last: those unused long enough to be full again are the
// same as none and are dropped as requests come; past maxClients the
// least recently used goes anyway (that client starts afresh: the only
// leniency under a flood of addresses).
type clientLimiter struct {
	every  rate.Limit
	burst  int
	refill time.Duration // an empty bucket is full again after it

	mu      sync.Mutex
	clients map[netip.Prefix]*list.Element // of *bucket
	lru     list.List                      // most recently used first
}

type bucket struct {
	client netip.Prefix
	tokens *rate.Limiter
	used   time.Time
}

// newClientLimiter returns the limiter of --rate-limit perMinute, or nil
// (no limit) for 0.
func newClientLimiter(perMinute int) *clientLimiter {
	if perMinute <= 0 {
		return nil
	}
	return &clientLimiter{
		every:   rate.Limit(float64(perMinute) / 60),
		burst:   perMinute,
		refill:  time.Minute,
		clients: map[netip.Prefix]*list.Element{},
	}
}

// wait takes a request of client at now from its bucket: 0 when it may
// go ahead, else how long until it may.
func (l *clientLimiter) wait(client netip.Addr, now time.Time) time.Duration {
	key := clientKey(client)
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *bucket
	if e, ok := l.clients[key]; ok {
		b = e.Value.(*bucket)
		l.lru.MoveToFront(e)
	} else {
		b = &bucket{client: key, tokens: rate.NewLimiter(l.every, l.burst)}
		l.clients[key] = l.lru.PushFront(b)
	}
	b.used = now
	l.sweep(now)
	r := b.tokens.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // a refused request costs nothing
		return d
	}
	return 0
}

// sweep drops the least recently used buckets that are full again, and
// any past maxClients.
func (l *clientLimiter) sweep(now time.Time) {
	for e := l.lru.Back(); e != nil; e = l.lru.Back() {
		b := e.Value.(*bucket)
		if l.lru.Len() <= maxClients && now.Sub(b.used) < l.refill {
			return
		}
		l.lru.Remove(e)
		delete(l.clients, b.client)
	}
}

// size is the number of buckets kept.
func (l *clientLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// clientKey is the bucket of a: its /32, or its /64 for IPv6.
func clientKey(a netip.Addr) netip.Prefix {
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.WithZone("").Prefix(bits)
	return p
}

// limited wraps an expensive GET in the per-client limit: beyond it, 429
// with Retry-After.
func (s *Server) limited(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.checkRate(c); err != nil {
			return err
		}
		return next(c)
	}
}

// checkRate takes the request from its client's budget (nil when there
// is no limit or budget is left).
func (s *Server) checkRate(c echo.Context) error {
	if s.limiter == nil {
		return nil
	}
	req := c.Request()
	wait := s.limiter.wait(clientAddr(req.RemoteAddr, req.Header, s.trusted), s.now())
	if wait == 0 {
		return nil
	}
	c.Response().Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	return echo.NewHTTPError(http.StatusTooManyRequests, "too many requests from your address; try again later")
}
