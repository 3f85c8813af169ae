package activitypub

import (
	"fmt"
	"net/url"
	"strings"
)

// URLs builds every public URL from the configured base URL, never from a
// request (INTEROP P1). The zero value is not usable; use NewURLs.
type URLs struct {
	base string // scheme://host[:port][/prefix], no trailing slash
	host string // host[:port] as peers put it in the Host header
}

// NewURLs validates base (an absolute http or https URL without query or
// fragment) and returns the URL scheme built on it.
func NewURLs(base string) (URLs, error) {
	u, err := url.Parse(base)
	if err != nil {
		return URLs{}, fmt.Errorf("base URL %q: %v", base, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return URLs{}, fmt.Errorf("base URL %q: want http:// or https:// and a host", base)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return URLs{}, fmt.Errorf("base URL %q: no query, fragment or user info allowed", base)
	}
	u.Host = strings.ToLower(u.Host)
	return URLs{base: strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), host: u.Host}, nil
}

// Base returns the base URL without a trailing slash.
func (u URLs) Base() string { return u.base }

// Host returns host[:port] of the base URL: what remote servers sign as the
// "host" header and what WebFinger handles end in.
func (u URLs) Host() string { return u.host }

// Hostname returns the host of the base URL without a port.
func (u URLs) Hostname() string {
	h, _, found := strings.Cut(u.host, ":")
	if found && strings.HasPrefix(u.host, "[") { // IPv6 literal
		return u.host
	}
	return h
}

func (u URLs) Actor(username string) string       { return u.base + "/users/" + username }
func (u URLs) KeyID(username string) string       { return u.Actor(username) + "#main-key" }
func (u URLs) Inbox(username string) string       { return u.Actor(username) + "/inbox" }
func (u URLs) Outbox(username string) string      { return u.Actor(username) + "/outbox" }
func (u URLs) Followers(username string) string   { return u.Actor(username) + "/followers" }
func (u URLs) Following(username string) string   { return u.Actor(username) + "/following" }
func (u URLs) Featured(username string) string    { return u.Actor(username) + "/collections/featured" }
func (u URLs) SharedInbox() string                { return u.base + "/inbox" }
func (u URLs) Profile(username string) string     { return u.base + "/@" + username }
func (u URLs) Note(username, id string) string    { return u.Actor(username) + "/statuses/" + id }
func (u URLs) NoteURL(username, id string) string { return u.Profile(username) + "/" + id }
func (u URLs) Activity(noteIRI string) string     { return noteIRI + "/activity" }
func (u URLs) Tag(name string) string             { return u.base + "/tags/" + url.PathEscape(name) }
func (u URLs) Avatar() string                     { return u.base + "/static/avatar.png" }

// Handle returns the WebFinger handle user@host (without a leading @).
func (u URLs) Handle(username string) string { return username + "@" + u.Hostname() }

// ParseLocalNote recognises the id or HTML URL of a local note and returns
// its username and id: base/users/{u}/statuses/{id}[/activity] or base/@{u}/{id}.
func (u URLs) ParseLocalNote(iri string) (username, id string, ok bool) {
	rest, found := strings.CutPrefix(iri, u.base+"/")
	if !found {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) >= 4 && parts[0] == "users" && parts[2] == "statuses" && (len(parts) == 4 || (len(parts) == 5 && parts[4] == "activity")):
		return parts[1], parts[3], parts[1] != "" && parts[3] != ""
	case len(parts) == 2 && strings.HasPrefix(parts[0], "@"):
		return parts[0][1:], parts[1], len(parts[0]) > 1 && parts[1] != ""
	}
	return "", "", false
}

// ParseLocalActor returns the username of a local actor id (base/users/{u}).
func (u URLs) ParseLocalActor(iri string) (username string, ok bool) {
	rest, found := strings.CutPrefix(iri, u.base+"/users/")
	if !found || rest == "" || strings.ContainsAny(rest, "/?#") {
		return "", false
	}
	return rest, true
}
