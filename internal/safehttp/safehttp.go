// Package safehttp makes the one HTTP client of every outgoing request
// (deliveries, key and actor fetches): bounded timeouts, no proxy, the
// system trust store, and an address check on every connection, after DNS
// resolution and on redirects, that refuses loopback, private and other
// internal addresses unless they are allowed.
package safehttp

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrForbiddenAddress is returned (wrapped) when an outgoing request would
// reach a loopback, private, link-local or otherwise internal address and
// private networks are not allowed.
var ErrForbiddenAddress = errors.New("address not allowed")

// Options configure NewClient.
type Options struct {
	// AllowPrivateNetworks permits loopback and private addresses (tests,
	// intranets). Off, such addresses are refused, redirects included.
	AllowPrivateNetworks bool
	// MaxConnsPerHost caps connections to one host (0: unlimited).
	MaxConnsPerHost int
	// MaxIdleConns caps idle connections kept over all hosts (0: 256).
	MaxIdleConns int
	// ConnectTimeout and Timeout default to 5 s and 30 s.
	ConnectTimeout, Timeout time.Duration

	// isPublic replaces isPublicAddr in tests, which have only loopback.
	isPublic func(netip.Addr) bool
}

// NewClient returns the HTTP client for every outgoing request: deliveries
// and key/actor fetches. It uses the system trust store (and SSL_CERT_FILE),
// no proxy, a 5 s connect and 30 s total timeout, at most 5 redirects, and
// checks the address of every connection it opens (after DNS resolution, so
// a name that resolves to 127.0.0.1 or a redirect to 10.0.0.1 is refused too).
func NewClient(o Options) *http.Client {
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxIdleConns == 0 {
		o.MaxIdleConns = 256
	}
	dialer := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	if !o.AllowPrivateNetworks {
		isPublic := o.isPublic
		if isPublic == nil {
			isPublic = isPublicAddr
		}
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			return checkAddress(address, isPublic)
		}
	}
	perHostIdle := o.MaxConnsPerHost
	if perHostIdle <= 0 {
		perHostIdle = 2
	}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would hide the real destination from the address check
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          o.MaxIdleConns,
		MaxIdleConnsPerHost:   perHostIdle,
		MaxConnsPerHost:       o.MaxConnsPerHost,
		IdleConnTimeout:       60 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: o.Timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   o.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("stopped after 5 redirects")
			}
			return nil
		},
	}
}

// checkAddress runs from a net.Dialer Control hook: on the resolved address
// of each connection, just before connect(2).
func checkAddress(address string, isPublic func(netip.Addr) bool) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse %q", ErrForbiddenAddress, address)
	}
	if !isPublic(ap.Addr()) {
		return fmt.Errorf("%w: %s is not a public address (see --allow-private-networks)", ErrForbiddenAddress, ap.Addr())
	}
	return nil
}

var (
	sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10") // carrier-grade NAT
	thisNetwork        = netip.MustParsePrefix("0.0.0.0/8")
	benchmarkNetwork   = netip.MustParsePrefix("198.18.0.0/15")
)

// isPublicAddr reports whether a is a globally routable unicast address:
// not loopback, private, link-local, unspecified, multicast, carrier-grade
// NAT or IPv4-mapped forms of those.
func isPublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	switch {
	case !a.IsValid(), a.IsLoopback(), a.IsPrivate(), a.IsUnspecified(),
		a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast(), a.IsMulticast():
		return false
	case a.Is4() && (sharedAddressSpace.Contains(a) || thisNetwork.Contains(a) || benchmarkNetwork.Contains(a)):
		return false
	}
	return true
}
