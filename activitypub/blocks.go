package activitypub

// Blocked servers (docs/FEDERATION.md, "Blocked servers"). The operator
// blocks a registrable domain (urls.Domain: a block covers its subdomains
// and ports), often from another process while the server runs, so the
// server reads the blocks from the database where it needs them:
//   - the inbox, for every signed request, before it fetches anything: a
//     keyId on a blocked domain gets 401;
//   - every fetch (keys, actors), which is refused without a request;
//   - the delivery queue: the block gives up what was queued to the domain
//     in its own transaction, and the dispatcher, which rereads the blocks
//     at every poll (a second), drops the deliveries it claimed before.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// hostnameRE is a host name in ASCII (IDNA already applied): labels of
// letters, digits and inner hyphens.
var hostnameRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// ParseDomain reads the operator's name of a server (a host name, with or
// without a port, an IP address, or a URL) and returns the registrable
// domain a block of it covers. A public suffix (com, co.uk, github.io) or
// a single-label name is refused: unrelated servers share it. Errors wrap

// numericHost matches a host of digits, dots and hex digits after 0x
// only: no server's name, but shorthands of IPv4 addresses.
var numericHost = regexp.MustCompile(`^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+))*$`)

// ErrInvalid.
func ParseDomain(name string) (string, error) {
	host := strings.TrimSpace(name)
	if strings.Contains(host, "://") {
		u, err := url.Parse(host)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("%w: %q is not a URL with a host", ErrInvalid, name)
		}
		host = u.Host
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if _, err := netip.ParseAddr(host); err == nil {
		return urls.Domain(host), nil
	}
	if p, err := netip.ParsePrefix(host); err == nil && p.Addr().Is6() && p.Bits() == 64 { // as block list shows an IPv6 server
		return urls.Domain(p.Addr().String()), nil
	}
	if numericHost.MatchString(host) { // 127.1, 0x7f000001: spellings of addresses a URL parser may read otherwise
		return "", fmt.Errorf("%w: %q is neither a host name nor an IP address written in full (a.b.c.d, or IPv6)", ErrInvalid, name)
	}
	host = urls.CanonicalHost(host)
	if len(host) > 253 || !hostnameRE.MatchString(host) {
		return "", fmt.Errorf("%w: %q is not a host name", ErrInvalid, name)
	}
	if suffix, _ := publicsuffix.PublicSuffix(host); suffix == host {
		return "", fmt.Errorf("%w: %s is a public suffix or a single-label name, shared by unrelated servers: name one server's domain", ErrInvalid, host)
	}
	return urls.Domain(host), nil
}

// Block blocks the server name (see ParseDomain): its followers are
// removed without a word (nothing goes to a blocked server), what was
// queued to it is given up and its breaker forgotten. It returns the block
// and whether it is new; blocking twice changes nothing.
func (s *Service) Block(ctx context.Context, name string) (b store.Block, added bool, err error) {
	domain, err := ParseDomain(name)
	if err != nil {
		return store.Block{}, false, err
	}
	err = s.update(ctx, func(tx *store.Tx) error {
		b, added, err = tx.AddBlock(domain)
		if added {
			tx.AfterCommit(func() { s.breaker.set(domain, "") })
		}
		return err
	})
	if err != nil {
		return store.Block{}, false, err
	}
	if added {
		s.log.Info("server blocked", "domain", domain, "followers_removed", b.FollowersRemoved, "deliveries_cancelled", b.DeliveriesCancelled)
	}
	return b, added, nil
}

// Unblock lifts the block of the server name and returns its domain, or
// an error wrapping ErrNotFound when it was not blocked. Its former
// followers must follow again.
func (s *Service) Unblock(ctx context.Context, name string) (string, error) {
	domain, err := ParseDomain(name)
	if err != nil {
		return "", err
	}
	var removed bool
	err = s.update(ctx, func(tx *store.Tx) (err error) {
		removed, err = tx.RemoveBlock(domain)
		return err
	})
	switch {
	case err != nil:
		return "", err
	case !removed:
		return "", fmt.Errorf("%w: %s is not blocked", ErrNotFound, domain)
	}
	s.log.Info("server unblocked", "domain", domain)
	return domain, nil
}

// errBlocked is the error of a delivery dropped because its server was
// blocked after the delivery was claimed.
var errBlocked = errors.New("server blocked: not sent")

// refuseBlocked returns a docError (401 to a sender) when rawURL is on a
// blocked domain, and errInternal when the database cannot say.
func (s *Service) refuseBlocked(ctx context.Context, rawURL string) error {
	domain := urls.DomainOf(rawURL)
	blocked, err := s.store.IsBlocked(ctx, domain)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w", errInternal, err)
	case blocked:
		return docErrorf("%s is blocked here", domain)
	}
	return nil
}

// dropBlocked tells whether j, claimed already, must not go out because
// its server is blocked, and what to record of it then. The dispatcher's
// list may be a poll late either way: a domain it names is looked up
// again, so that a block lifted a moment ago drops nothing; when the
// database cannot say, j is released, to be tried later.
func (d *dispatcher) dropBlocked(ctx context.Context, j *job) (outcome, bool) {
	if !d.blocked[j.Domain] {
		return outcome{}, false
	}
	blocked, err := d.s.store.IsBlocked(ctx, j.Domain)
	switch {
	case err != nil:
		return outcome{job: j, canceled: true}, true
	case !blocked:
		delete(d.blocked, j.Domain)
		return outcome{}, false
	}
	return outcome{job: j, err: errBlocked, started: d.s.now()}, true
}

// withdrawn tells whether j, claimed a while ago, was given up since (its
// note deleted, its follower removed), so that it must not go out. When the
// database cannot say, it is not sent either: released, it is claimed
// again later.
func (d *dispatcher) withdrawn(ctx context.Context, j *job) bool {
	pending, err := d.s.store.DeliveryPending(ctx, j.ID)
	return err != nil || !pending
}

// refreshBlocked rereads the blocked domains for the dispatcher; when the
// database fails it keeps what it had, and tries again at the next poll.
func (d *dispatcher) refreshBlocked(ctx context.Context) {
	var blocks []store.Block
	err := d.s.store.View(ctx, func(tx *store.Tx) (err error) {
		blocks, err = tx.Blocks()
		return err
	})
	if err != nil {
		d.s.log.Debug("delivery: cannot read the blocked servers; keeping the last list", "err", err)
		return
	}
	d.blocked = make(map[string]bool, len(blocks))
	for _, b := range blocks {
		d.blocked[b.Domain] = true
	}
}
