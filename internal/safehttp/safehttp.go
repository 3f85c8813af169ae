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

// notGlobal4 are the IPv4 blocks of IANA's IPv4 Special-Purpose Address
// Registry that are not globally reachable (RFC 6890 and its updates),
// plus multicast. 192.0.0.0/24 is refused whole, its two anycast /32s
// (PCP, TURN) included: no Fediverse server lives there.
var notGlobal4 = prefixes(
	"0.0.0.0/8",       // "this network"
	"10.0.0.0/8",      // private
	"100.64.0.0/10",   // shared address space (carrier-grade NAT)
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local (cloud metadata services)
	"172.16.0.0/12",   // private
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // documentation (TEST-NET-1)
	"192.88.99.0/24",  // 6to4 relay anycast, deprecated
	"192.168.0.0/16",  // private
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // documentation (TEST-NET-2)
	"203.0.113.0/24",  // documentation (TEST-NET-3)
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, 255.255.255.255 (limited broadcast) included
)

// globalUnicast6 is 2000::/3, the only IPv6 space IANA allocates for global
// unicast: everything outside it is refused (::/128, ::1, the deprecated
// IPv4-compatible ::a.b.c.d, 100::/64 discard-only, 5f00::/16 SRv6,
// fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local,
// ff00::/8 multicast), except the two forms that carry a public IPv4
// address: IPv4-mapped ::ffff:a.b.c.d and NAT64 64:ff9b::a.b.c.d, checked
// as that address.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// notGlobal6 are the blocks inside 2000::/3 of IANA's IPv6 Special-Purpose
// Address Registry that are not globally reachable. 2001::/23 is refused
// whole, Teredo (2001::/32, which hides its client's address) and the few
// globally reachable anycast, AMT, AS112, ORCHIDv2 and DRIP blocks inside
// it included: no Fediverse server lives there.
var notGlobal6 = prefixes(
	"2001::/23",     // IETF protocol assignments
	"2001:db8::/32", // documentation
	"3fff::/20",     // documentation
)

var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96") // well-known NAT64 prefix (RFC 6052): the IPv4 address is the last 32 bits
	sixTo4 = netip.MustParsePrefix("2002::/16")    // 6to4 (RFC 3056): the IPv4 address is bits 16 to 47
)

func prefixes(cidrs ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(cidrs))
	for i, c := range cidrs {
		out[i] = netip.MustParsePrefix(c)
	}
	return out
}

// IsPublicAddr reports whether a is an address NewClient connects to when
// private networks are not allowed: a globally reachable unicast address.
func IsPublicAddr(a netip.Addr) bool { return isPublicAddr(a) }

// isPublicAddr reports whether a is a globally reachable unicast address
// by IANA's special-purpose address registries (IPv4 and IPv6). An IPv6
// address that embeds an IPv4 one a gateway will forward to (IPv4-mapped,
// NAT64 64:ff9b::/96, 6to4 2002::/16) is as public as that IPv4 address.
// The local-use NAT64 prefix 64:ff9b:1::/48, whose IPv4 address may sit
// anywhere in it, is outside 2000::/3 and so refused.
func isPublicAddr(a netip.Addr) bool {
	if a.Is6() && !a.Is4In6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			return isPublic4(netip.AddrFrom4([4]byte(b[12:16])))
		case sixTo4.Contains(a):
			return isPublic4(netip.AddrFrom4([4]byte(b[2:6])))
		case !globalUnicast6.Contains(a):
			return false
		}
		for _, p := range notGlobal6 {
			if p.Contains(a) {
				return false
			}
		}
		return true
	}
	return isPublic4(a.Unmap())
}

func isPublic4(a netip.Addr) bool {
	if !a.Is4() {
		return false // the zero Addr
	}
	for _, p := range notGlobal4 {
		if p.Contains(a) {
			return false
		}
	}
	return true
}
