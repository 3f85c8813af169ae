package activitypub

// The delivery queue. Deliveries live in SQLite (table deliveries) from the
// transaction that creates them until they succeed or are given up, so a
// crash or restart loses none. One dispatcher claims due rows fairly over
// registrable domains, starts one goroutine per request while keeping each
// domain under its adaptive limit, and passes outcomes to a recorder that
// writes them back in batched transactions, together with the breaker's
// state (breaker.go). Every attempt is signed afresh.
//
// Fairness: a domain's rows wait in memory up to a few times its limit;
// past that the claim skips the domain, so another domain's rows are
// claimed behind any backlog. Subdomains and ports of one registrable
// domain share its limit and its share of the claims.

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/safehttp"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// DeliveryOptions tune the delivery queue. Zero fields take the defaults.
type DeliveryOptions struct {
	// Workers is the number of requests in flight over all hosts (256):
	// enough that hosts which hang until the timeout cannot take them all.
	Workers int
	// PerHost is the number of requests in flight to one registrable
	// domain at first (2). Each quick answer raises it by one up to
	// PerHostMax; a 408, 429, 5xx, timeout or network error drops it to
	// one, from where it grows by one per limit quick answers.
	PerHost int
	// PerHostMax caps the requests in flight to one domain (16).
	PerHostMax int
	// Backoff is the wait before each retry; when it runs out the delivery
	// is given up. Default: 1m, 5m, 30m, 2h, 6h, 12h, 24h, 24h (about 2.9
	// days from the first attempt to the last). A held host is probed at
	// the same intervals, the last one repeated.
	Backoff []time.Duration
	// Jitter spreads retries by up to this fraction of the wait (0.1).
	Jitter float64
	// Poll is how often the queue looks for due work when nothing woke it
	// (1s): retries coming due, and a host revived by another process.
	Poll time.Duration
	// Watch is how often the queue checks for deliveries queued by another
	// process, such as `nuttx-feed post` (10ms; store.WatchQueue).
	Watch time.Duration
	// Batch is the number of rows claimed at once (256).
	Batch int
	// BreakAfter is the number of failures in a row (network errors,
	// timeouts, 408, 5xx) after which a domain is held (5).
	BreakAfter int
	// ParkAfter is how long a held domain may fail before it is parked
	// (7 days from its first failure).
	ParkAfter time.Duration
	// Grace is how long requests in flight may finish once the queue is
	// told to stop (5s); those still running are then cut off and their
	// deliveries released for the next start.
	Grace time.Duration
}

// defaultBackoff is the retry schedule (docs/FEDERATION.md, "Delivery").
var defaultBackoff = []time.Duration{
	time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 24 * time.Hour,
}

const maxRetryAfter = 24 * time.Hour

// quickAnswer is the answer time under which a domain is given one more
// request in flight.
const quickAnswer = 500 * time.Millisecond

func (o DeliveryOptions) withDefaults() DeliveryOptions {
	if o.Workers <= 0 {
		o.Workers = 256
	}
	if o.PerHost <= 0 {
		o.PerHost = 2
	}
	if o.PerHostMax <= 0 {
		o.PerHostMax = 16
	}
	o.PerHostMax = max(o.PerHostMax, o.PerHost)
	if o.Backoff == nil {
		o.Backoff = defaultBackoff
	}
	if o.Jitter < 0 {
		o.Jitter = 0
	} else if o.Jitter == 0 {
		o.Jitter = 0.1
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Watch <= 0 {
		o.Watch = 10 * time.Millisecond
	}
	if o.Batch <= 0 {
		o.Batch = 256
	}
	if o.BreakAfter <= 0 {
		o.BreakAfter = 5
	}
	if o.ParkAfter <= 0 {
		o.ParkAfter = 7 * 24 * time.Hour
	}
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
	return o
}

// job is one claimed delivery, ready to send.
type job struct {
	store.Delivery
	actorID int64
	body    []byte
	claimed time.Time
}

// outcome is what one attempt came to.
type outcome struct {
	job        *job
	status     int
	err        error
	retryAfter time.Duration
	started    time.Time
	elapsed    time.Duration
	canceled   bool // interrupted by shutdown: release the row, count nothing
	withdrawn  bool // with canceled: not sent because it was given up since its claim
	held       bool // not sent, the breaker holds its domain: set the row aside
}

// RunDelivery runs the delivery queue until ctx ends, then lets requests in
// flight finish within the grace period (DeliveryOptions.Grace), cuts off
// the rest, records what happened and returns. Only one process may run it
// per database (server takes a lock for that).
func (s *Service) RunDelivery(ctx context.Context) error {
	// Rows claimed by a previous run that died are ours again. A database
	// that fails here is waited for, not fatal: the server keeps serving.
	var hosts map[string]string
	for delay := time.Second; ; delay = min(2*delay, time.Minute) {
		err := s.update(ctx, func(tx *store.Tx) (err error) {
			if err = tx.PrepareQueue(); err != nil {
				return err
			}
			hosts, err = tx.Hosts()
			return err
		})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil // stopped before it started
		}
		s.log.Error("delivery: cannot prepare the queue; retrying", "err", err, "retry_in", delay)
		if !sleep(ctx, delay) {
			return nil
		}
	}
	for d, st := range hosts {
		s.breaker.set(d, st)
	}

	// Requests run under reqCtx, which outlives ctx by the grace period.
	reqCtx, cutOff := context.WithCancel(context.WithoutCancel(ctx))
	defer cutOff()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(s.delivery.Grace, cutOff) })
	defer stop()

	o := s.delivery
	done := make(chan outcome, o.Workers)
	record := make(chan outcome, 4*o.Batch)
	var wg sync.WaitGroup
	wg.Go(func() { s.recordOutcomes(ctx, record) })
	d := dispatcher{s: s, domains: map[string]*domainState{}, bodies: map[int64]activityBody{}}
	err := d.run(ctx, reqCtx, s.store.WatchQueue(ctx, o.Watch), done, record)
	close(record)
	wg.Wait()
	return err
}

// contextDone reports whether err is ours to ignore because ctx ended.
func contextDone(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// sleep waits for d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

type activityBody struct {
	actorID int64
	body    []byte
}

// domainState is what the dispatcher knows of one registrable domain.
type domainState struct {
	limit    int    // requests allowed in flight
	troubled bool   // met trouble since it was first seen: grows slowly
	quick    int    // quick answers in a row since the limit last grew
	inflight int    // requests running or ready to start
	waiting  []*job // claimed, held back by the limit
	more     bool   // the last claim left rows of it in the database
	seen     time.Time
}

// capacity is how many of a domain's rows may be in memory: enough that a
// busy domain is refilled by a claim every few hundred deliveries (a claim
// behind a large backlog costs milliseconds), few enough that backlogs
// cannot crowd the others out of memory.
func (ds *domainState) capacity() int { return 16 * ds.limit }

// held is how many of its rows are in memory.
func (ds *domainState) held() int { return ds.inflight + len(ds.waiting) }

// adapt moves the limit after an answer: down to one on trouble, up on
// quick answers (by one each at first, then by one per limit of them).
func (ds *domainState) adapt(out outcome, o DeliveryOptions) {
	switch {
	case out.canceled:
	case troubled(out):
		ds.limit, ds.quick, ds.troubled = 1, 0, true
	case out.err == nil && out.elapsed < quickAnswer:
		if ds.quick++; !ds.troubled || ds.quick >= ds.limit {
			ds.limit, ds.quick = min(ds.limit+1, o.PerHostMax), 0
		}
	}
}

// troubled tells whether an answer asks us to slow down: 408, 429, 5xx, a
// timeout or a network error.
func troubled(out outcome) bool {
	if out.err != nil {
		return classify(out) == retry
	}
	return out.status == http.StatusRequestTimeout || out.status == http.StatusTooManyRequests || out.status >= 500
}

// dispatcher owns the in-memory state of the queue; only its goroutine
// touches it.
type dispatcher struct {
	s       *Service
	ready   []*job // may start now
	domains map[string]*domainState
	queued  int // jobs in memory not yet started (ready and waiting)
	running int // requests started and not yet done
	bodies  map[int64]activityBody
	blocked map[string]bool // blocked domains, reread every poll (blocks.go)
}

// maxQueued caps the claimed rows waiting in memory.
func (d *dispatcher) maxQueued() int { return 16 * d.s.delivery.Batch }

func (d *dispatcher) run(ctx, reqCtx context.Context, watch <-chan struct{}, done chan outcome, record chan<- outcome) error {
	o := d.s.delivery
	ticker := time.NewTicker(o.Poll)
	defer ticker.Stop()
	mayHaveWork, claimFailing := true, false
	d.refreshBlocked(ctx)
	for {
		// Claim more when few jobs are ready and the database may hold due
		// rows; cap what waits in memory.
		if mayHaveWork && ctx.Err() == nil && len(d.ready) < o.Batch/2 && d.queued < d.maxQueued() {
			n, err := d.claim(ctx)
			switch {
			case err != nil && ctx.Err() == nil && !claimFailing:
				d.s.log.Error("delivery: cannot read the queue; retrying every poll (logged once)", "err", err)
				claimFailing = true
			case err == nil && claimFailing:
				d.s.log.Info("delivery: the queue reads again")
				claimFailing = false
			}
			mayHaveWork = err == nil && n > 0
		}
		for len(d.ready) > 0 && d.running < o.Workers && ctx.Err() == nil {
			j := d.ready[0]
			d.ready = d.ready[1:]
			d.queued--
			if since, ok := d.s.breaker.blockedSince(j.Domain); ok && !j.Probe && since.After(j.claimed) {
				// Claimed before the breaker held its domain: set it aside.
				d.finish(outcome{job: j, canceled: true})
				record <- outcome{job: j, canceled: true, held: true}
				continue
			}
			if d.withdrawn(ctx, j) { // given up since it was claimed (a note deleted, a follower removed, a block)
				d.finish(outcome{job: j, canceled: true})
				record <- outcome{job: j, canceled: true, withdrawn: true}
				continue
			}
			if out, drop := d.dropBlocked(ctx, j); drop { // claimed before its server was blocked
				d.finish(outcome{job: j, canceled: true})
				record <- out
				continue
			}
			d.running++
			go func() { done <- d.s.attempt(reqCtx, j) }()
		}
		select {
		case out := <-done:
			d.running--
			if d.finish(out) {
				mayHaveWork = true
			}
			record <- out
		case <-ticker.C:
			mayHaveWork = true
			d.forgetIdle()
			d.refreshBlocked(ctx)
		case <-watch:
			mayHaveWork = true
		case <-d.s.wake:
			mayHaveWork = true
		case <-ctx.Done():
			// Stop starting requests and release what waits; those in
			// flight finish or are cut off at the end of the grace period.
			for _, j := range d.ready {
				record <- outcome{job: j, canceled: true}
			}
			for _, ds := range d.domains {
				for _, j := range ds.waiting {
					record <- outcome{job: j, canceled: true}
				}
			}
			for ; d.running > 0; d.running-- {
				record <- <-done
			}
			return nil
		}
	}
}

// domain returns the state of a domain, made on first sight.
func (d *dispatcher) domain(name string) *domainState {
	ds, ok := d.domains[name]
	if !ok {
		ds = &domainState{limit: d.s.delivery.PerHost}
		d.domains[name] = ds
	}
	ds.seen = time.Now()
	return ds
}

// route makes j ready, or holds it while its domain is at its limit.
func (d *dispatcher) route(j *job) {
	ds := d.domain(j.Domain)
	d.queued++
	if ds.inflight < ds.limit {
		ds.inflight++
		d.ready = append(d.ready, j)
		return
	}
	ds.waiting = append(ds.waiting, j)
}

// finish frees the slot of a finished request, adapts its domain's limit
// and readies what the limit now lets through. It reports whether the
// domain, short of rows in memory, may have more in the database.
func (d *dispatcher) finish(out outcome) bool {
	ds := d.domain(out.job.Domain)
	ds.inflight--
	ds.adapt(out, d.s.delivery)
	for len(ds.waiting) > 0 && ds.inflight < ds.limit {
		ds.inflight++
		d.ready = append(d.ready, ds.waiting[0])
		ds.waiting = ds.waiting[1:]
	}
	if ds.more && ds.held() <= ds.capacity()/2 {
		ds.more = false
		return true
	}
	return false
}

// forgetIdle drops what is known of domains idle for ten minutes, so that
// the map does not grow with every host ever delivered to.
func (d *dispatcher) forgetIdle() {
	for name, ds := range d.domains {
		if ds.held() == 0 && time.Since(ds.seen) > 10*time.Minute {
			delete(d.domains, name)
		}
	}
}

// claim takes due probes and a fair batch of due rows, reads their
// activities and routes them.
func (d *dispatcher) claim(ctx context.Context) (int, error) {
	s := d.s
	o := s.delivery
	c := store.Claim{Limit: o.Batch, PerDomain: 2 * o.PerHost, Room: map[string]int{}}
	for name, ds := range d.domains {
		switch {
		case ds.held() > ds.capacity()/2:
			c.Room[name] = 0 // refilled in large chunks: claims are not free
		case ds.held() > 0:
			c.Room[name] = ds.capacity() - ds.held()
		}
	}
	var claimed []*job
	now := time.Now()
	if len(d.bodies) > 64 {
		clear(d.bodies)
	}
	err := s.update(ctx, func(tx *store.Tx) error {
		claimed = claimed[:0]
		probes, err := tx.ClaimProbes()
		if err != nil {
			return err
		}
		rows, err := tx.ClaimDeliveries(c)
		if err != nil {
			return err
		}
		for _, row := range append(probes, rows...) {
			ab, ok := d.bodies[row.ActivityID]
			if !ok {
				if ab.actorID, ab.body, err = tx.ActivityBody(row.ActivityID); err != nil {
					return err
				}
				d.bodies[row.ActivityID] = ab
			}
			claimed = append(claimed, &job{Delivery: row, actorID: ab.actorID, body: ab.body, claimed: now})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// A domain that got all its room, or had none, may have more rows.
	got := map[string]int{}
	for _, j := range claimed {
		got[j.Domain]++
	}
	for name, room := range c.Room {
		if got[name] >= room {
			d.domains[name].more = true
		}
	}
	for name, n := range got {
		if _, ok := c.Room[name]; !ok && n >= c.PerDomain {
			d.domain(name).more = true
		}
	}
	// RETURNING gives no order: hand out the longest due first.
	slices.SortFunc(claimed, func(a, b *job) int {
		if c := a.Due.Compare(b.Due); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	for _, j := range claimed {
		d.route(j)
	}
	return len(claimed), nil
}

// attempt makes one signed POST of j's activity to its inbox.
func (s *Service) attempt(ctx context.Context, j *job) outcome {
	out := outcome{job: j, started: s.now()}
	sg, err := s.signerOf(ctx, j.actorID)
	if err != nil {
		out.err = err
		out.canceled = contextDone(ctx, err)
		return out
	}
	// An inbox that is no http(s) URL (stored before the inbox checked
	// them) is given up at once: shown, not wrapped, so that classify
	// never takes it for a network fault worth retrying.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.Inbox, bytes.NewReader(j.body))
	if err == nil && req.URL.Scheme != "https" && req.URL.Scheme != "http" {
		err = fmt.Errorf("scheme %q", req.URL.Scheme)
	}
	if err != nil {
		out.err = fmt.Errorf("bad inbox URL %q: %v", truncate(j.Inbox, 80), err)
		return out
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("Accept", acceptFetch)
	req.Header.Set("User-Agent", s.userAgent)
	if err := signRequest(req, j.body, sg.keyID, sg.key, s.now()); err != nil {
		out.err = err
		return out
	}
	t0 := time.Now()
	resp, err := s.deliveryClient.Do(req)
	out.elapsed = time.Since(t0)
	if err != nil {
		out.err = err
		out.canceled = contextDone(ctx, err)
		return out
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	out.status = resp.StatusCode
	out.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), s.now())
	return out
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// verdict classifies an outcome the way Mastodon does (docs/FEDERATION.md, "Delivery").
type verdict int

const (
	delivered verdict = iota
	retry
	permanent
	gone // 410 from a personal inbox: the follower is gone
)

func classify(out outcome) verdict {
	if out.err != nil {
		var ne net.Error
		var dnsErr *net.DNSError
		switch {
		case errors.Is(out.err, safehttp.ErrForbiddenAddress):
			return permanent
		case errors.As(out.err, &dnsErr) && dnsErr.IsNotFound:
			return retry // a name may come back; the schedule still ends
		case errors.As(out.err, &ne), errors.Is(out.err, io.EOF), errors.Is(out.err, io.ErrUnexpectedEOF):
			return retry
		}
		var urlErr *url.Error
		if errors.As(out.err, &urlErr) {
			return retry // connection refused, reset, TLS trouble...
		}
		return permanent
	}
	switch s := out.status; {
	case s >= 200 && s < 300:
		return delivered
	case s == http.StatusGone && out.job.Follower != "":
		return gone
	case s == http.StatusUnauthorized, s == http.StatusRequestTimeout, s == http.StatusTooManyRequests:
		return retry
	case s == http.StatusNotImplemented:
		return permanent
	case s >= 500:
		return retry
	default:
		return permanent
	}
}

// recordOutcomes writes outcomes back, in one transaction per burst, and
// reports them (report.go).
func (s *Service) recordOutcomes(ctx context.Context, in <-chan outcome) {
	batch := make([]outcome, 0, 256)
	recheck := time.NewTicker(fanOutRecheck)
	defer recheck.Stop()
	for {
		var out outcome
		select {
		case <-recheck.C:
			s.recheckFanOuts(ctx)
			continue
		case o, ok := <-in:
			if !ok {
				return
			}
			out = o
		}
		batch = append(batch[:0], out)
	drain:
		for len(batch) < cap(batch) {
			select {
			case more, ok := <-in:
				if !ok {
					break drain
				}
				batch = append(batch, more)
			default:
				break drain
			}
		}
		s.recordBatch(ctx, batch)
	}
}

// recordGrace is how long outcomes are still retried after shutdown began.
const recordGrace = 10 * time.Second

// recordBatch writes a batch, retrying while the database fails: the queue
// waits (its channel fills up) rather than lose outcomes. Only at shutdown,
// after recordGrace, does it give up; the rows stay claimed and the next
// start sends them again.
func (s *Service) recordBatch(ctx context.Context, batch []outcome) {
	var stopping time.Time
	var rows []store.Outcome
	for try := 0; ; try++ {
		var err error
		rows, err = s.writeOutcomes(batch)
		if err == nil {
			if try > 0 {
				s.log.Info("delivery: outcomes recorded again", "after_tries", try+1)
			}
			break
		}
		if try == 0 {
			s.log.Error("delivery: cannot record outcomes; retrying", "n", len(batch), "err", err)
		}
		wait := min(100*time.Millisecond<<min(try, 8), 10*time.Second)
		if ctx.Err() != nil {
			if stopping.IsZero() {
				stopping = time.Now()
			} else if time.Since(stopping) > recordGrace {
				s.log.Error("delivery: giving up recording outcomes at shutdown; the next start sends them again", "n", len(batch), "err", err)
				return
			}
			wait = 100 * time.Millisecond // shutting down: keep trying within the grace period
			time.Sleep(wait)
		} else {
			sleep(ctx, wait)
		}
	}
	s.reportBatch(ctx, batch, rows)
}

// writeOutcomes records a batch in one transaction and returns the rows it
// wrote. It runs even during shutdown, hence its own context.
func (s *Service) writeOutcomes(batch []outcome) (rows []store.Outcome, err error) {
	err = s.update(context.Background(), func(tx *store.Tx) error {
		states, err := s.recordHosts(tx, batch)
		if err != nil {
			return err
		}
		rows = make([]store.Outcome, len(batch))
		for i, out := range batch {
			held, err := s.held(tx, out.job.Domain, states)
			if err != nil {
				return err
			}
			rows[i] = s.storeOutcome(out, tx.Now, held)
		}
		return tx.RecordOutcomes(rows)
	})
	return rows, err
}

// storeOutcome decides what becomes of an attempt's delivery; held tells
// whether the breaker holds its domain now.
func (s *Service) storeOutcome(out outcome, now time.Time, held bool) store.Outcome {
	j := out.job
	o := store.Outcome{Delivery: j.Delivery, Release: out.canceled, Hold: out.held, Status: out.status, Started: out.started, Elapsed: out.elapsed}
	if out.canceled {
		return o
	}
	if out.err != nil {
		o.Error = truncate(out.err.Error(), 500)
	}
	switch v := classify(out); {
	case v == retry && held: // waits for the breaker, however many attempts it had
		o.State, o.Next, o.Hold = store.Pending, now, true
	case v == delivered:
		o.State = store.Delivered
	case v == gone:
		o.State, o.RemoveFollower = store.Failed, true
	case v == permanent, v == retry && j.Attempts+1 > len(s.delivery.Backoff):
		o.State = store.Failed
	default:
		o.State, o.Next = store.Pending, now.Add(s.retryDelay(j.Attempts+1, out.retryAfter))
	}
	return o
}

// retryDelay is the wait before attempt number attempts+1: Retry-After when
// the peer gave one (bounded), else the schedule, plus jitter.
func (s *Service) retryDelay(attempts int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(max(retryAfter, time.Second), maxRetryAfter)
	}
	d := s.delivery.Backoff[attempts-1]
	return d + time.Duration(rand.Float64()*s.delivery.Jitter*float64(d))
}
