// Package webfinger answers WebFinger (RFC 7033) and host-meta queries for
// local accounts. It knows no storage: the caller supplies a lookup
// function and the site's URLs.
package webfinger

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// ContentType is the media type of a JRD answer.
const ContentType = "application/jrd+json"

// Errors returned by Resolve and ParseResource.
var (
	ErrMalformed = errors.New("malformed resource")           // 400
	ErrNotFound  = errors.New("no such account on this host") // 404
)

// Resource is a parsed WebFinger query: an account on a host.
type Resource struct {
	Username string // as given (any case)
	Host     string // lower case, with a port if one was given
}

// maxResource bounds the resource parameter.
const maxResource = 512

// ParseResource accepts every form peers send (docs/FEDERATION.md, "WebFinger"):
//
//	acct:user@host        (raw, or percent-encoded once more)
//	@user@host, user@host (without the acct: scheme)
//	https://host/users/user and https://host/@user (actor and profile URLs)
//
// It returns ErrMalformed for anything else.
func ParseResource(resource string) (Resource, error) {
	r := strings.TrimSpace(resource)
	if r == "" {
		return Resource{}, fmt.Errorf("%w: resource is empty", ErrMalformed)
	}
	if len(r) > maxResource {
		return Resource{}, fmt.Errorf("%w: resource is too long", ErrMalformed)
	}
	if strings.Contains(r, "%") { // escaped twice: undo the second layer
		if u, err := url.QueryUnescape(r); err == nil {
			r = u
		}
	}
	lowerR := strings.ToLower(r)
	if strings.HasPrefix(lowerR, "http://") || strings.HasPrefix(lowerR, "https://") {
		return parseURLResource(r)
	}
	if strings.HasPrefix(lowerR, "acct:") {
		r = r[len("acct:"):]
	}
	r = strings.TrimPrefix(r, "@")
	user, host, ok := strings.Cut(r, "@")
	if !ok || user == "" || host == "" || strings.Contains(host, "@") {
		return Resource{}, fmt.Errorf("%w: want acct:user@host", ErrMalformed)
	}
	if board, config, ok := strings.Cut(user, ":"); ok && validUser(board) && validUser(config) && validHost(host) {
		return Resource{}, fmt.Errorf("%w: no : in a user name: a board:config target's account is %s.%s@%s", ErrMalformed, board, config, host)
	}
	if !validUser(user) || !validHost(host) {
		return Resource{}, fmt.Errorf("%w: bad characters in %q", ErrMalformed, resource)
	}
	return Resource{Username: user, Host: strings.ToLower(host)}, nil
}

func parseURLResource(r string) (Resource, error) {
	u, err := url.Parse(r)
	if err != nil || u.Host == "" || !validHost(u.Host) {
		return Resource{}, fmt.Errorf("%w: bad URL", ErrMalformed)
	}
	path := strings.TrimSuffix(u.Path, "/")
	var user string
	if v, ok := urls.Actor.Match(path); ok {
		user = v[0]
	} else if v, ok := urls.Profile.Match(path); ok {
		user = v[0]
	} else {
		return Resource{}, fmt.Errorf("%w: URL is neither an actor (%s) nor a profile (%s)", ErrMalformed, urls.Actor.Pattern, urls.Profile.Pattern)
	}
	if !validUser(user) {
		return Resource{}, fmt.Errorf("%w: bad user name in URL", ErrMalformed)
	}
	return Resource{Username: user, Host: strings.ToLower(u.Host)}, nil
}

func validUser(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

func validHost(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-:[]", r)) {
			return false
		}
	}
	return true
}

// Link is a JRD link.
type Link struct {
	Rel      string `json:"rel"`
	Type     string `json:"type,omitempty"`
	Href     string `json:"href,omitempty"`
	Template string `json:"template,omitempty"`
}

// JRD is a WebFinger answer.
type JRD struct {
	Subject string   `json:"subject"`
	Aliases []string `json:"aliases,omitempty"`
	Links   []Link   `json:"links"`
}

// Server resolves resources for one site.
type Server struct {
	// Site is the URL space of the accounts: its host, with and without its
	// port, is the only one answered for.
	Site urls.Site
	// Lookup returns the account called name (any case), or false.
	Lookup func(ctx context.Context, name string) (a Account, ok bool, err error)
}

// Account is what an answer says of an account.
type Account struct {
	Username   string // canonical
	Avatar     string // its avatar's URL
	AvatarType string // and media type
}

// Resolve answers a resource query. Errors wrap ErrMalformed or ErrNotFound,
// or come from Lookup.
func (s *Server) Resolve(ctx context.Context, resource string) (*JRD, error) {
	r, err := ParseResource(resource)
	if err != nil {
		return nil, err
	}
	if !s.ours(r.Host) {
		return nil, fmt.Errorf("%w: %s is not served here", ErrNotFound, r.Host)
	}
	a, ok, err := s.Lookup(ctx, r.Username)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: no account %q", ErrNotFound, r.Username)
	}
	actor, profile := s.Site.Actor(a.Username), s.Site.Profile(a.Username)
	return &JRD{
		Subject: "acct:" + s.Site.Handle(a.Username),
		Aliases: []string{profile, actor},
		Links: []Link{ // the ActivityPub self link first, and the only self link (docs/FEDERATION.md, "WebFinger")
			{Rel: "self", Type: "application/activity+json", Href: actor},
			{Rel: "http://webfinger.net/rel/profile-page", Type: "text/html", Href: profile},
			{Rel: "http://webfinger.net/rel/avatar", Type: a.AvatarType, Href: a.Avatar},
		},
	}, nil
}

// ours reports whether host (lower case) names this site, with or
// without its port.
func (s *Server) ours(host string) bool {
	return host == s.Site.Host() || host == s.Site.Hostname()
}

// HostMeta returns the host-meta XRD pointing at our WebFinger endpoint
// (docs/FEDERATION.md, "WebFinger"), served as application/xrd+xml.
func HostMeta(site urls.Site) []byte {
	type link struct {
		Rel      string `xml:"rel,attr"`
		Type     string `xml:"type,attr"`
		Template string `xml:"template,attr"`
	}
	doc := struct {
		XMLName xml.Name `xml:"http://docs.oasis-open.org/ns/xri/xrd-1.0 XRD"`
		Link    link     `xml:"Link"`
	}{Link: link{Rel: "lrdd", Type: ContentType, Template: site.URL(urls.WebFinger) + "?resource={uri}"}}
	out, _ := xml.MarshalIndent(doc, "", "  ")
	return append([]byte(xml.Header), append(out, '\n')...)
}
