package activitypub

// The delivery queue. Deliveries live in SQLite (table deliveries) from the
// transaction that creates them until they succeed or are given up, so a
// crash or restart loses none. One dispatcher claims due rows in batches,
// hands them to a pool of workers while keeping at most PerHost requests in
// flight per host, and passes outcomes to a recorder that writes them back
// in batched transactions. Every attempt is signed afresh.

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
	// Workers is the number of requests in flight over all hosts (64).
	Workers int
	// PerHost is the number of requests in flight to one host (2).
	PerHost int
	// Backoff is the wait before each retry; when it runs out the delivery
	// is given up. Default: 1m, 5m, 30m, 2h, 6h, 12h, 24h, 24h (about 2.9
	// days from the first attempt to the last).
	Backoff []time.Duration
	// Jitter spreads retries by up to this fraction of the wait (0.1).
	Jitter float64
	// Poll is how often the queue looks for due work when nothing woke it
	// (1s): retries coming due, and posts written by another process.
	Poll time.Duration
	// Batch is the number of rows claimed at once (256).
	Batch int
}

// defaultBackoff is the retry schedule (docs/FEDERATION.md, "Delivery").
var defaultBackoff = []time.Duration{
	time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 24 * time.Hour,
}

const maxRetryAfter = 24 * time.Hour

func (o DeliveryOptions) withDefaults() DeliveryOptions {
	if o.Workers <= 0 {
		o.Workers = 64
	}
	if o.PerHost <= 0 {
		o.PerHost = 2
	}
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
	if o.Batch <= 0 {
		o.Batch = 256
	}
	return o
}

// job is one claimed delivery, ready to send.
type job struct {
	store.Delivery
	host    string
	actorID int64
	body    []byte
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
}

// RunDelivery runs the delivery queue until ctx ends, then lets requests in
// flight finish or be cut off, records what happened and returns. Only one
// process may run it per database (server takes a lock for that).
func (s *Service) RunDelivery(ctx context.Context) error {
	// Rows claimed by a previous run that died are ours again. A database
	// that fails here is waited for, not fatal: the server keeps serving.
	for delay := time.Second; ; delay = min(2*delay, time.Minute) {
		err := s.update(ctx, func(tx *store.Tx) error { return tx.ReleaseClaims() })
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil // stopped before it started
		}
		s.log.Error("delivery: cannot reset claims; retrying", "err", err, "retry_in", delay)
		if !sleep(ctx, delay) {
			return nil
		}
	}
	o := s.delivery
	jobs := make(chan *job)
	done := make(chan outcome, o.Workers)
	record := make(chan outcome, 4*o.Batch)

	var wg sync.WaitGroup
	wg.Go(func() { s.recordOutcomes(ctx, record) })
	var workers sync.WaitGroup
	for range o.Workers {
		workers.Go(func() {
			for j := range jobs {
				done <- s.attempt(ctx, j)
			}
		})
	}

	d := dispatcher{s: s, inflight: map[string]int{}, waiting: map[string][]*job{}, bodies: map[int64]activityBody{}}
	err := d.run(ctx, jobs, done, record)
	close(jobs)
	workers.Wait() // every job handed out was answered in d.run
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

// dispatcher owns the in-memory state of the queue; only its goroutine
// touches it.
type dispatcher struct {
	s        *Service
	ready    []*job            // may be sent to a worker now
	waiting  map[string][]*job // held back by the per-host limit
	inflight map[string]int    // requests running or ready, by host
	nWaiting int
	running  int // jobs handed to workers and not yet done
	bodies   map[int64]activityBody
}

func (d *dispatcher) run(ctx context.Context, jobs chan<- *job, done <-chan outcome, record chan<- outcome) error {
	o := d.s.delivery
	ticker := time.NewTicker(o.Poll)
	defer ticker.Stop()
	mayHaveWork, claimFailing := true, false
	for {
		// Claim more when few jobs are ready or running and the database
		// may hold due rows; cap what waits on busy hosts.
		if mayHaveWork && ctx.Err() == nil && len(d.ready)+d.running < o.Batch/2 && d.nWaiting < 4*o.Batch {
			n, err := d.claim(ctx)
			switch {
			case err != nil && ctx.Err() == nil && !claimFailing:
				d.s.log.Error("delivery: cannot read the queue; retrying every poll (logged once)", "err", err)
				claimFailing = true
			case err == nil && claimFailing:
				d.s.log.Info("delivery: the queue reads again")
				claimFailing = false
			}
			mayHaveWork = err == nil && n == o.Batch
		}
		var send chan<- *job
		var next *job
		if len(d.ready) > 0 && ctx.Err() == nil {
			send, next = jobs, d.ready[0]
		}
		select {
		case send <- next:
			d.ready = d.ready[1:]
			d.running++
		case out := <-done:
			d.running--
			d.finish(out.job.host)
			record <- out
		case <-ticker.C:
			mayHaveWork = true
		case <-d.s.wake:
			mayHaveWork = true
		case <-ctx.Done():
			// Stop handing out work; wait for what runs (the requests see
			// the cancellation), then release everything still claimed.
			for d.running > 0 {
				out := <-done
				d.running--
				record <- out
			}
			for _, j := range d.ready {
				record <- outcome{job: j, canceled: true}
			}
			for _, js := range d.waiting {
				for _, j := range js {
					record <- outcome{job: j, canceled: true}
				}
			}
			return nil
		}
	}
}

// route makes j ready, or holds it while its host is at the limit.
func (d *dispatcher) route(j *job) {
	if d.inflight[j.host] < d.s.delivery.PerHost {
		d.inflight[j.host]++
		d.ready = append(d.ready, j)
		return
	}
	d.waiting[j.host] = append(d.waiting[j.host], j)
	d.nWaiting++
}

// finish frees a slot of host and readies the next job waiting for it.
func (d *dispatcher) finish(host string) {
	if w := d.waiting[host]; len(w) > 0 {
		d.ready = append(d.ready, w[0])
		if len(w) == 1 {
			delete(d.waiting, host)
		} else {
			d.waiting[host] = w[1:]
		}
		d.nWaiting--
		return
	}
	if d.inflight[host]--; d.inflight[host] <= 0 {
		delete(d.inflight, host)
	}
}

// claim marks a batch of due rows as taken, reads their activities and
// routes them.
func (d *dispatcher) claim(ctx context.Context) (int, error) {
	s := d.s
	var claimed []*job
	if len(d.bodies) > 64 {
		clear(d.bodies)
	}
	err := s.update(ctx, func(tx *store.Tx) error {
		claimed = claimed[:0]
		rows, err := tx.ClaimDeliveries(s.delivery.Batch)
		if err != nil {
			return err
		}
		for _, row := range rows {
			ab, ok := d.bodies[row.ActivityID]
			if !ok {
				if ab.actorID, ab.body, err = tx.ActivityBody(row.ActivityID); err != nil {
					return err
				}
				d.bodies[row.ActivityID] = ab
			}
			claimed = append(claimed, &job{Delivery: row, host: inboxHost(row.Inbox), actorID: ab.actorID, body: ab.body})
		}
		return nil
	})
	if err != nil {
		return 0, err
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

func inboxHost(inbox string) string {
	u, err := url.Parse(inbox)
	if err != nil {
		return inbox
	}
	return strings.ToLower(u.Host)
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.Inbox, bytes.NewReader(j.body))
	if err != nil {
		out.err = fmt.Errorf("bad inbox URL: %w", err)
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
	resp, err := s.client.Do(req)
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

// recordOutcomes writes outcomes back, in one transaction per burst.
func (s *Service) recordOutcomes(ctx context.Context, in <-chan outcome) {
	batch := make([]outcome, 0, 256)
	for out := range in {
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
	for try := 0; ; try++ {
		err := s.writeOutcomes(batch)
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
	for _, out := range batch {
		s.logOutcome(out)
	}
}

// writeOutcomes records a batch in one transaction. It runs even during
// shutdown, hence its own context.
func (s *Service) writeOutcomes(batch []outcome) error {
	return s.update(context.Background(), func(tx *store.Tx) error {
		rows := make([]store.Outcome, len(batch))
		for i := range batch {
			rows[i] = s.storeOutcome(batch[i], tx.Now)
		}
		return tx.RecordOutcomes(rows)
	})
}

// storeOutcome decides what becomes of an attempt's delivery.
func (s *Service) storeOutcome(out outcome, now time.Time) store.Outcome {
	j := out.job
	o := store.Outcome{Delivery: j.Delivery, Release: out.canceled, Status: out.status, Started: out.started, Elapsed: out.elapsed}
	if out.canceled {
		return o
	}
	if out.err != nil {
		o.Error = truncate(out.err.Error(), 500)
	}
	switch v := classify(out); {
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

func (s *Service) logOutcome(out outcome) {
	if out.canceled {
		return
	}
	j := out.job
	attrs := []any{"delivery", j.ID, "inbox", j.Inbox, "attempt", j.Attempts + 1, "status", out.status,
		"ms", out.elapsed.Milliseconds()}
	if out.err != nil {
		attrs = append(attrs, "err", out.err)
	}
	switch classify(out) {
	case delivered:
		s.log.Info("delivered", attrs...)
	case gone:
		s.log.Warn("delivery: inbox gone, follower removed", append(attrs, "follower", j.Follower)...)
	case permanent:
		s.log.Warn("delivery failed permanently", attrs...)
	case retry:
		if j.Attempts+1 > len(s.delivery.Backoff) {
			s.log.Warn("delivery given up after the last retry", attrs...)
		} else {
			s.log.Info("delivery failed, will retry", attrs...)
		}
	}
}
