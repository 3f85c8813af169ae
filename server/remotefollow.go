package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/internal/safehttp"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
	"github.com/nuttx-feed/nuttx-feed/webfinger"
)

// Remote follow (README.md, "Remote follow"): the profile's form sends a
// visitor's server, or their handle, to /follow; we send the visitor on to
// their server's page for following our actor.
const (
	subscribeRel     = "http://ostatus.org/schema/1.0/subscribe"
	followTimeout    = 5 * time.Second // the whole WebFinger lookup
	maxFollowJRD     = 64 << 10        // bytes of a WebFinger answer read
	maxFollowInput   = 255             // characters of the form's field
	maxHostLabel     = 63
	followInputHint  = "give your server's domain (mastodon.social) or your handle (@you@mastodon.social)"
	authorizeInvPath = "/authorize_interaction?uri=" // Mastodon's remote interaction page
)

// remoteAccount is what the visitor typed: a server, and the user on it
// when they gave a handle.
type remoteAccount struct {
	user string // "" when only a server was given
	host string // canonical host, with ":port" when one was given
}

// handleRemoteFollow serves /follow?server=...&user=...[&note=ID]: it
// sends the visitor (303 See Other) to their server's page for following
// the local actor user (the bot when none is given), or, with note, for
// replying to that note of the actor (the thread page's form). With a
// handle it looks up their server's subscribe template by WebFinger
// (which Mastodon and its kin fill with any object's id); with only a
// domain, or when the lookup finds no template or fails, it sends them to
// Mastodon's /authorize_interaction. Input that is no server name is
// refused (400); an unknown note is 404, a deleted one 410.
func (s *Server) handleRemoteFollow(c echo.Context) error {
	username := c.QueryParam("user")
	if username == "" {
		username = s.cfg.Username
	}
	a, err := s.svc.Actor(c.Request().Context(), username)
	if err != nil {
		return err
	}
	acct, err := parseRemoteAccount(c.QueryParam("server"), s.cfg.AllowPrivateNetworks)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	uri, err := s.interactionURI(c, a)
	if err != nil {
		return err
	}
	target := s.remoteScheme + "://" + acct.host + authorizeInvPath + url.QueryEscape(uri)
	if acct.user != "" {
		// A failed lookup (unreachable, refused by the address guard,
		// no template) still sends the visitor on: their browser may reach
		// what we cannot, and Mastodon's page is the likeliest to be there.
		tmpl, err := s.subscribeTemplate(c.Request().Context(), acct)
		if u, ok := s.fillTemplate(tmpl, uri); err == nil && ok {
			target = u
		} else {
			s.log.Info("remote follow: no usable subscribe template, sending to authorize_interaction", "host", acct.host, "template", tmpl, "err", err)
		}
	}
	return c.Redirect(http.StatusSeeOther, target)
}

// interactionURI is the id the visitor's server is asked to show: the
// note of a that ?note= names (to reply to it), else a itself (to follow).
func (s *Server) interactionURI(c echo.Context, a *store.Actor) (string, error) {
	id := c.QueryParam("note")
	if id == "" {
		return s.site.Actor(a.Username), nil
	}
	var n *store.Note
	if err := s.view(c, func(tx *store.Tx) (err error) { n, err = tx.Note(a.Username, id); return err }); err != nil {
		return "", err
	}
	if !n.Deleted.IsZero() {
		return "", echo.NewHTTPError(http.StatusGone, "this post was deleted")
	}
	return s.svc.NoteIRI(n), nil
}

// parseRemoteAccount reads the form's field: a host name with an optional
// port (a server's home page, https://host/, is taken as its host), or a
// handle user@host (with or without a leading @; a profile page,
// https://host/@user, is taken as that handle). It refuses other URLs,
// spaces, IP literals of non-public addresses (unless private networks are
// allowed) and anything longer than a host name can be.
func parseRemoteAccount(input string, allowPrivate bool) (remoteAccount, error) {
	in := strings.TrimSpace(input)
	// What people paste from their address bar: the server's home page,
	// or their profile page there (https://host/@user: Mastodon's form).
	if rest, ok := cutScheme(in); ok {
		rest = strings.TrimSuffix(rest, "/")
		if host, user, found := strings.Cut(rest, "/@"); found && !strings.Contains(user, "/") && !strings.Contains(user, "@") {
			rest = "@" + user + "@" + host
		}
		if !strings.Contains(rest, "/") {
			in = rest
		}
	}
	in = strings.TrimSuffix(in, "/")
	switch {
	case in == "":
		return remoteAccount{}, errors.New("no server given: " + followInputHint)
	case len(in) > maxFollowInput:
		return remoteAccount{}, errors.New("too long for a server name: " + followInputHint)
	case strings.ContainsAny(in, "/?#\\ \t\r\n%"):
		return remoteAccount{}, errors.New("not a server name (no URL, path or spaces): " + followInputHint)
	}
	var acct remoteAccount
	hostport := strings.TrimPrefix(in, "@")
	if user, host, ok := strings.Cut(hostport, "@"); ok {
		if _, err := webfinger.ParseResource("acct:" + user + "@example.org"); err != nil {
			return remoteAccount{}, errors.New("not a handle: " + followInputHint)
		}
		acct.user, hostport = user, host
	}
	host, err := parseHostPort(hostport, allowPrivate)
	if err != nil {
		return remoteAccount{}, err
	}
	acct.host = host
	return acct, nil
}

// cutScheme returns s without a leading "https://" or "http://" (in any
// case), and whether it had one.
func cutScheme(s string) (string, bool) {
	for _, scheme := range []string{"https://", "http://"} {
		if len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			return s[len(scheme):], true
		}
	}
	return s, false
}

// parseHostPort checks a host name or IP literal with an optional port
// and returns it canonical (IDNA to ASCII, lower case).
func parseHostPort(hostport string, allowPrivate bool) (string, error) {
	name, port := hostport, ""
	bracketed := strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]")
	if _, err := netip.ParseAddr(hostport); err != nil && !bracketed && strings.Contains(hostport, ":") {
		h, p, err := net.SplitHostPort(hostport) // not a bare IPv6 address: a port
		if err != nil {
			return "", errors.New("not a server name: " + followInputHint)
		}
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", errors.New("bad port " + strconv.Quote(p) + ": " + followInputHint)
		}
		name, port = h, p
	}
	name = urls.CanonicalHost(strings.Trim(name, "[]"))
	if addr, err := netip.ParseAddr(name); err == nil {
		if !allowPrivate && !safehttp.IsPublicAddr(addr) {
			return "", errors.New(name + " is not a public address: " + followInputHint)
		}
		if addr.Is6() {
			name = "[" + addr.String() + "]"
		}
	} else if !validHostName(name, allowPrivate) {
		return "", errors.New("not a server name: " + followInputHint)
	}
	if port != "" {
		name += ":" + port
	}
	return name, nil
}

// validHostName reports whether name (canonical, ASCII) is a DNS host
// name: labels of letters, digits and inner hyphens. A single label
// ("localhost") names no public server and needs private networks.
func validHostName(name string, allowPrivate bool) bool {
	labels := strings.Split(name, ".")
	if len(labels) < 2 && !allowPrivate {
		return false
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return false // no top-level domain is a number: an IP address in another notation (0177.0.0.1)
	}
	for _, l := range labels {
		if l == "" || len(l) > maxHostLabel || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// subscribeTemplate asks acct's server by WebFinger for its subscribe
// template, through the server's one HTTP client, within followTimeout.
func (s *Server) subscribeTemplate(ctx context.Context, acct remoteAccount) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, followTimeout)
	defer cancel()
	q := url.Values{"resource": {"acct:" + acct.user + "@" + acct.host}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.remoteScheme+"://"+acct.host+urls.WebFinger.Pattern+"?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/jrd+json, application/json")
	req.Header.Set("User-Agent", "nuttx-feed/"+Version+" (+"+s.site.Base()+"/)")
	resp, err := s.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", errors.New("WebFinger answered " + resp.Status)
	}
	var jrd webfinger.JRD
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxFollowJRD)).Decode(&jrd); err != nil {
		return "", err
	}
	for _, l := range jrd.Links {
		if l.Rel == subscribeRel && l.Template != "" {
			return l.Template, nil
		}
	}
	return "", errors.New("WebFinger offers no subscribe template")
}

// fillTemplate puts the escaped id (an actor's or a note's) in a
// subscribe template's {uri} and checks that the result is a web address
// to send a browser to: https (or http when private networks are
// allowed), with a host.
func (s *Server) fillTemplate(tmpl, id string) (string, bool) {
	if !strings.Contains(tmpl, "{uri}") {
		return "", false
	}
	filled := strings.ReplaceAll(tmpl, "{uri}", url.QueryEscape(id))
	u, err := url.Parse(filled)
	if err != nil || u.Host == "" || u.User != nil {
		return "", false
	}
	ok := u.Scheme == "https" || (u.Scheme == "http" && s.cfg.AllowPrivateNetworks)
	return filled, ok
}
