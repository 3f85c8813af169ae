package activitypub

// The delivery log and metrics: what the recorder tells the operator once
// a batch of outcomes is written (delivery.go, recordBatch).
//
//   - Each attempt: a debug line, and a count in the metrics.
//   - Each fan-out (a note's Create to every follower's inbox): one info
//     line once every inbox was tried once, saying how many it reached, how
//     many failed or will be retried, and how long it took. Inboxes whose
//     host's breaker holds them do not wait for it: they are counted as
//     held. An Accept (one inbox) gets that line at debug level.
//   - Failures: one warn line per host at most every failureLogEvery,
//     counting the failures of that host it did not log.
//
// A note to 1,000 followers once wrote 1,000 info lines; now one, plus a
// warn line per failing host.
//
// Knowing that a fan-out's first round is over takes a read of all its
// deliveries (FanOuts), which costs in proportion to them. So the report
// keeps, for each fan-out in progress, how many of its inboxes it believes
// untried, counts that down as first attempts are recorded, and reads the
// database only when the count reaches zero, when a fan-out is first seen,
// when a host is held (its deliveries are set aside without an attempt),
// and every fanOutRecheck for the rest (deliveries cancelled by an Undo).
// Only the recorder's goroutine uses it.

import (
	"context"
	"slices"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/nuttx-feed/nuttx-feed/internal/metrics"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

const (
	// failureLogEvery is how often failures to one host are logged.
	failureLogEvery = 15 * time.Minute
	// fanOutRecheck is how often fan-outs in progress are read again.
	fanOutRecheck = 30 * time.Second
	// reportMemory bounds the hosts and the finished fan-outs remembered.
	reportMemory = 1024
)

// deliveryReport is the state of the delivery log.
type deliveryReport struct {
	untried map[int64]int                     // fan-outs in progress: inboxes believed untried
	summed  *lru.Cache[int64, struct{}]       // fan-outs summed up lately: never twice
	hosts   *lru.Cache[string, *hostFailures] // by registrable domain
}

// hostFailures is what the log remembers of a failing host.
type hostFailures struct {
	logged     time.Time // when its last failure line was written
	suppressed int       // failures since then, not logged
}

func newDeliveryReport() *deliveryReport {
	summed, _ := lru.New[int64, struct{}](reportMemory) // errors only for a size <= 0
	hosts, _ := lru.New[string, *hostFailures](reportMemory)
	return &deliveryReport{untried: map[int64]int{}, summed: summed, hosts: hosts}
}

// reportBatch logs and counts a batch of outcomes once it is recorded;
// rows are the rows written for them, in the same order.
func (s *Service) reportBatch(ctx context.Context, batch []outcome, rows []store.Outcome) {
	firsts := map[int64]int{} // first attempts, by activity
	recheck := false          // a host was held: its fan-outs lost untried inboxes
	for i, out := range batch {
		row := rows[i]
		recheck = recheck || row.Hold
		if out.canceled {
			continue
		}
		if out.job.Attempts == 0 {
			firsts[out.job.ActivityID]++
		}
		s.reportAttempt(out, row)
	}
	var check []int64
	for id, n := range firsts {
		left, open := s.report.untried[id]
		switch {
		case s.report.summed.Contains(id):
		case !open || left-n <= 0:
			check = append(check, id)
		default:
			s.report.untried[id] = left - n
		}
	}
	if recheck {
		for id := range s.report.untried {
			check = append(check, id)
		}
	}
	s.checkFanOuts(ctx, check)
}

// recheckFanOuts reads every fan-out in progress again.
func (s *Service) recheckFanOuts(ctx context.Context) {
	ids := make([]int64, 0, len(s.report.untried))
	for id := range s.report.untried {
		ids = append(ids, id)
	}
	s.checkFanOuts(ctx, ids)
}

// checkFanOuts reads the progress of the fan-outs ids and sums up those
// whose every inbox was tried.
func (s *Service) checkFanOuts(ctx context.Context, ids []int64) {
	if len(ids) == 0 {
		return
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var fanOuts map[int64]store.FanOut
	var now time.Time // the store's clock, which stamped the deliveries
	err := s.store.View(ctx, func(tx *store.Tx) (err error) {
		now = tx.Now
		fanOuts, err = tx.FanOuts(ids)
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("delivery: cannot read the progress of fan-outs; their summary may come late", "err", err)
		}
		return
	}
	for _, id := range ids {
		f, ok := fanOuts[id]
		switch {
		case !ok: // no delivery left (pruned): nothing to sum up
			delete(s.report.untried, id)
		case f.Untried > 0:
			s.report.untried[id] = f.Untried
		default:
			delete(s.report.untried, id)
			s.report.summed.Add(id, struct{}{})
			s.sumUp(f, now.Sub(f.Queued))
		}
	}
}

// sumUp writes the one line of a fan-out whose every inbox was tried, took
// after its first delivery was queued.
func (s *Service) sumUp(f store.FanOut, took time.Duration) {
	level := s.log.Info
	if f.Type == "Accept" {
		level = s.log.Debug
	}
	level("delivery: "+f.Type+" sent", "activity", f.IRI, "inboxes", f.Inboxes, "reached", f.Delivered,
		"failed", f.Failed, "retrying", f.Retrying, "held", f.Held,
		"took", took.Round(time.Millisecond))
}

// reportAttempt counts an attempt, logs it at debug level, and logs a
// failure per host at a bounded rate.
func (s *Service) reportAttempt(out outcome, row store.Outcome) {
	j := out.job
	result := deliveryOutcome(out, row)
	s.metrics.DeliveryDone(result, j.Attempts > 0)
	attrs := []any{"delivery", j.ID, "inbox", j.Inbox, "attempt", j.Attempts + 1, "status", out.status,
		"ms", out.elapsed.Milliseconds(), "outcome", string(result)}
	if out.err != nil {
		attrs = append(attrs, "err", out.err)
	}
	s.log.Debug("delivery attempt", attrs...)
	switch result {
	case metrics.Delivered:
	case metrics.DeliveryGone:
		s.log.Warn("delivery: inbox gone, follower removed", append(attrs, "follower", j.Follower)...)
	default:
		s.logHostFailure(j.Domain, attrs)
	}
}

// logHostFailure logs a failed attempt to domain, unless a failure of that
// domain was logged less than failureLogEvery ago: then it is counted, and
// the next line says how many went unlogged.
func (s *Service) logHostFailure(domain string, attrs []any) {
	now := s.now()
	h, ok := s.report.hosts.Get(domain)
	if ok && now.Sub(h.logged) < failureLogEvery {
		h.suppressed++
		return
	}
	if !ok {
		h = &hostFailures{}
		s.report.hosts.Add(domain, h)
	}
	s.log.Warn("delivery failed (one line per host every "+failureLogEvery.String()+")",
		append([]any{"domain", domain, "unlogged_failures", h.suppressed}, attrs...)...)
	h.logged, h.suppressed = now, 0
}
