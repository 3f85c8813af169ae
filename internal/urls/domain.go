package urls

import (
	"net"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// Domain returns the registrable domain of host ("eTLD+1" by the public
// suffix list): mastodon.social for mastodon.social:443 and for
// a.b.mastodon.social, example.co.uk for x.example.co.uk. Limits that count
// per remote server (inbox rate, fetches in flight, delivery fairness) key
// on it, so that ports and subdomains, which cost an attacker nothing, do
// not multiply their share. An IPv4 literal is its own domain and an IPv6
// one counts as its /64 (one site's network: "2001:db8:1:2::/64"); a name
// the list cannot split (a bare public suffix, "localhost") is its own
// domain. The result is lower case without a port; "" for an empty host.
func Domain(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = CanonicalHost(strings.Trim(host, "[]"))
	if host == "" {
		return ""
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a = a.Unmap(); a.Is6() {
			p, _ := a.WithZone("").Prefix(64) // errors only for a bit count out of range
			return p.String()
		}
		return a.String()
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return host
	}
	return d
}

// CanonicalHost returns a host name (without a port) as net/http connects
// to it: IDNA-mapped to ASCII (so that a fullwidth "ｅxample.org" or
// "127.0.０.1" is the host it reaches), lower case, without trailing dots.
// A name IDNA refuses is only lower-cased: it reaches nothing anyway.
func CanonicalHost(host string) string {
	if a, err := idna.Lookup.ToASCII(host); err == nil {
		host = a
	}
	return strings.ToLower(strings.TrimRight(host, "."))
}

// DomainOf returns the registrable domain of an absolute URL's host, or ""
// when rawURL has none.
func DomainOf(rawURL string) string {
	i := strings.Index(rawURL, "://")
	if i < 0 {
		return ""
	}
	rest := rawURL[i+3:]
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		rest = rest[:j]
	}
	if j := strings.LastIndex(rest, "@"); j >= 0 { // userinfo
		rest = rest[j+1:]
	}
	return Domain(rest)
}
