package activitypub

// The per-host circuit breaker, by registrable domain. A domain whose
// deliveries fail BreakAfter times in a row (network errors, timeouts, 408,
// 5xx) is held: its deliveries stay queued, set aside, never given up, and
// one of them probes it at the retry schedule's intervals. Any answer (a
// probe's, or one that was in flight) closes the breaker and releases them.
// A domain still failing ParkAfter after its first failure is parked: no
// more probes until a valid signed request from it (reviveHost) or the
// operator (RetryHost) revives it. The state lives in the store
// (delivery_hosts), so it survives restarts.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// breaker remembers which domains have a row in delivery_hosts, so that
// the common case, an answer from a healthy domain, costs no statement.
// It may be stale the other way only: a row RetryHost deleted from another
// process. So it is trusted to skip work, never to hold a delivery.
type breaker struct {
	mu      sync.Mutex
	failing map[string]bool      // has a row
	blocked map[string]time.Time // held or parked, since
}

func newBreaker() *breaker {
	return &breaker{failing: map[string]bool{}, blocked: map[string]time.Time{}}
}

func (b *breaker) isFailing(domain string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failing[domain]
}

func (b *breaker) isBlocked(domain string) bool {
	_, ok := b.blockedSince(domain)
	return ok
}

func (b *breaker) blockedSince(domain string) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.blocked[domain]
	return t, ok
}

// set records a domain's state once it is committed ("" when cleared).
func (b *breaker) set(domain, state string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if state == "" {
		delete(b.failing, domain)
		delete(b.blocked, domain)
		return
	}
	b.failing[domain] = true
	if _, ok := b.blocked[domain]; !ok && (state == store.HostHeld || state == store.HostParked) {
		b.blocked[domain] = time.Now()
	}
}

// hostVerdict is what an outcome says of its host's health.
type hostVerdict int

const (
	hostUnknown  hostVerdict = iota // shutdown, or refused on our side
	hostAnswered                    // any HTTP answer but 408 and 5xx
	hostFailed                      // network error, timeout, 408, 5xx
)

func judgeHost(out outcome) hostVerdict {
	switch {
	case out.canceled:
		return hostUnknown
	case out.err != nil && classify(out) == retry:
		return hostFailed
	case out.err != nil:
		return hostUnknown // a bad URL or a private address: the host was not asked
	case out.status == 408 || (out.status >= 500 && out.status != 501):
		return hostFailed
	default:
		return hostAnswered
	}
}

// recordHosts applies a batch's outcomes to the breaker in tx and returns
// each touched domain's state at the end of the batch ("" for healthy).
// The in-memory view follows once tx commits.
func (s *Service) recordHosts(tx *store.Tx, batch []outcome) (map[string]string, error) {
	o := s.delivery
	states := map[string]string{}
	for _, out := range batch {
		j := out.job
		switch judgeHost(out) {
		case hostAnswered:
			failing := s.breaker.isFailing(j.Domain)
			if st, touched := states[j.Domain]; touched {
				failing = st != ""
			}
			if !failing {
				continue
			}
			if _, err := tx.ForgetHost(j.Domain); err != nil {
				return nil, err
			}
			states[j.Domain] = ""
		case hostFailed:
			h, ok, err := tx.Host(j.Domain)
			if err != nil {
				return nil, err
			}
			if !ok {
				h = store.Host{Domain: j.Domain, State: store.HostFailing, FailingSince: tx.Now}
			}
			h.Failures++
			switch {
			case h.State == store.HostFailing && h.Failures >= o.BreakAfter:
				h.State, h.NextProbe = store.HostHeld, tx.Now.Add(s.probeDelay(0))
				s.log.Warn("delivery: host held after failures in a row; probing it", "domain", j.Domain, "failures", h.Failures)
			case h.State == store.HostHeld && j.Probe:
				h.Probes++
				if tx.Now.Sub(h.FailingSince) >= o.ParkAfter {
					h.State, h.NextProbe = store.HostParked, time.Time{}
					s.log.Warn("delivery: host parked; a signed request from it or RetryHost revives it", "domain", j.Domain, "failing_since", h.FailingSince)
				} else {
					h.NextProbe = tx.Now.Add(s.probeDelay(h.Probes))
				}
			}
			if err := tx.SaveHost(h); err != nil {
				return nil, err
			}
			states[j.Domain] = h.State
		case hostUnknown:
			if !j.Probe || (out.canceled && !out.withdrawn) { // a probe cut off by shutdown is due again at the next start
				continue
			}
			h, ok, err := tx.Host(j.Domain)
			if err != nil {
				return nil, err
			}
			if !ok { // forgotten meanwhile (a block, a revival)
				continue
			}
			if out.withdrawn { // it tested nothing: another row probes the host now
				h.NextProbe = tx.Now
			} else {
				h.NextProbe = tx.Now.Add(s.probeDelay(h.Probes))
			}
			if err := tx.SaveHost(h); err != nil {
				return nil, err
			}
			states[j.Domain] = h.State
		}
	}
	tx.AfterCommit(func() {
		for d, st := range states {
			s.breaker.set(d, st)
			if st == "" {
				s.kick() // its held deliveries are due
			}
		}
	})
	return states, nil
}

// probeDelay is the wait before probe number n+1 of a held host: the retry
// schedule, its last step repeated.
func (s *Service) probeDelay(n int) time.Duration {
	b := s.delivery.Backoff
	return b[min(n, len(b)-1)]
}

// held tells whether domain's deliveries are held after a batch that left
// the touched domains in states; the store has the last word.
func (s *Service) held(tx *store.Tx, domain string, states map[string]string) (bool, error) {
	st, ok := states[domain]
	if !ok && s.breaker.isBlocked(domain) {
		h, _, err := tx.Host(domain)
		if err != nil {
			return false, err
		}
		st = h.State
	}
	return st == store.HostHeld || st == store.HostParked, nil
}

// reviveHost closes the breaker of host's registrable domain: a valid
// signed request from it shows it is back. It costs nothing for a domain
// that is not held or parked, so the inbox may call it for every request.
func (s *Service) reviveHost(ctx context.Context, host string) error {
	domain := urls.Domain(host)
	if !s.breaker.isBlocked(domain) {
		return nil
	}
	_, err := s.forgetHost(ctx, domain, "signed request")
	return err
}

// RetryHost closes the breaker of host's registrable domain (a host name,
// with or without a port, or an inbox URL) for the operator: its held and
// parked deliveries go out at once, and it is judged afresh. A running
// server notices a revival made by another process at its next poll. It
// returns the domain and whether its breaker was open (failing, held or
// parked).
func (s *Service) RetryHost(ctx context.Context, host string) (domain string, revived bool, err error) {
	if strings.Contains(host, "://") {
		domain = urls.DomainOf(host)
	} else {
		domain = urls.Domain(host)
	}
	if domain == "" {
		return "", false, fmt.Errorf("%w: no host in %q", ErrInvalid, host)
	}
	revived, err = s.forgetHost(ctx, domain, "operator")
	return domain, revived, err
}

// forgetHost closes domain's breaker; it reports whether it was open.
func (s *Service) forgetHost(ctx context.Context, domain, by string) (forgot bool, err error) {
	err = s.update(ctx, func(tx *store.Tx) error {
		forgot, err = tx.ForgetHost(domain)
		if err != nil {
			return err
		}
		tx.AfterCommit(func() {
			s.breaker.set(domain, "")
			s.kick()
			if forgot {
				s.log.Info("delivery: host revived", "domain", domain, "by", by)
			}
		})
		return nil
	})
	return forgot, err
}
