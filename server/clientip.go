package server

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/labstack/echo/v4"
)

// Client addresses (docs/FEDERATION.md, "Behind a proxy"). A request's
// client is its peer, the address that opened the connection, unless the
// peer is one of --trusted-proxies: then the proxy's word is taken, from
// CF-Connecting-IP (cloudflared) or else X-Forwarded-For. Headers from any
// other peer are ignored, since anyone can send them.

// parseTrustedProxies parses --trusted-proxies: addresses and CIDR
// prefixes, separated by commas ("" trusts no proxy).
func parseTrustedProxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q is not an address or a CIDR prefix", f)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 { // ::ffff:10.0.0.0/104 is 10.0.0.0/8
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// clientIPExtractor is echo's IPExtractor (c.RealIP) for the trusted proxies.
func clientIPExtractor(trusted []netip.Prefix) echo.IPExtractor {
	return func(r *http.Request) string {
		if a := clientAddr(r.RemoteAddr, r.Header, trusted); a.IsValid() {
			return a.String()
		}
		return echo.ExtractIPDirect()(r) // a peer that is no IP address (never on TCP)
	}
}

// clientAddr returns the client's address: the peer's (remoteAddr, "IP:port"),
// or when the peer is a trusted proxy, CF-Connecting-IP's, or else the
// rightmost X-Forwarded-For hop that is not a trusted proxy itself (each
// proxy appends the address it saw, so hops left of an untrusted one may be
// forged). When every hop is trusted, it is the leftmost; a hop that does
// not parse ends the walk at the last trusted one. IPv4-mapped addresses
// come back as IPv4. It returns the zero Addr when remoteAddr has no IP.
func clientAddr(remoteAddr string, h http.Header, trusted []netip.Prefix) netip.Addr {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	client := ap.Addr().Unmap()
	if !isTrusted(client, trusted) {
		return client
	}
	if cf := h.Values("CF-Connecting-IP"); len(cf) == 1 {
		if a, ok := parseHop(cf[0]); ok {
			return a
		}
	}
	xff := h.Values("X-Forwarded-For")
	if len(xff) == 0 {
		return client
	}
	hops := strings.Split(strings.Join(xff, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return client
		}
		client = a
		if !isTrusted(a, trusted) {
			break
		}
	}
	return client
}

// parseHop parses one address of CF-Connecting-IP or X-Forwarded-For: an
// IP, maybe in brackets or with a port, without a zone.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	if a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
