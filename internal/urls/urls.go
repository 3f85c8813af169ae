// Package urls is the URL space of nuttx-feed, defined once. Every route is
// a Route in the table below: server registers its Pattern with echo, and
// Site builds every public URL (ids in documents, links in pages, WebFinger
// answers) by filling the same Pattern, so an id always routes to the
// handler that serves it (server/routes_test.go checks each one).
//
// Ids come only from the configured base URL, never from a request
// (docs/FEDERATION.md, "Ids and the base URL").
package urls

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Route is one path of the site, in echo's syntax: ":name" matches one
// segment (possibly after a literal prefix, as in "/@:username"), and a
// final "*" matches the rest. A parameter may also end in a literal suffix
// beginning with a dot ("/@:username.atom"); echo cannot route those, so
// such a route is served by the route of its RouterPattern, whose handler
// tells them apart.
type Route struct {
	Name    string
	Pattern string
}

// The routes. Changing a pattern changes ids that other servers stored:
// the ActivityPub ones must never change.
var (
	WebFinger     = Route{"webfinger", "/.well-known/webfinger"}
	HostMeta      = Route{"host-meta", "/.well-known/host-meta"}
	NodeInfoLinks = Route{"nodeinfo-links", "/.well-known/nodeinfo"}
	NodeInfo20    = Route{"nodeinfo-2.0", "/nodeinfo/2.0"}
	NodeInfo21    = Route{"nodeinfo-2.1", "/nodeinfo/2.1"}
	Health        = Route{"health", "/health"}

	Actor       = Route{"actor", "/users/:username"}
	Inbox       = Route{"inbox", "/users/:username/inbox"}
	Outbox      = Route{"outbox", "/users/:username/outbox"}
	Followers   = Route{"followers", "/users/:username/followers"}
	Following   = Route{"following", "/users/:username/following"}
	Featured    = Route{"featured", "/users/:username/collections/featured"}
	Note        = Route{"note", "/users/:username/statuses/:id"}
	Image       = Route{"image", "/users/:username/images/:kind"}
	Activity    = Route{"activity", "/users/:username/statuses/:id/activity"}
	Replies     = Route{"replies", "/users/:username/statuses/:id/replies"} // a note's replies collection
	SharedInbox = Route{"shared-inbox", "/inbox"}

	Home        = Route{"home", "/"}
	Follow      = Route{"remote-follow", "/follow"}                 // ?server=domain or handle: follow from another server
	ProfileFeed = Route{"profile-feed", "/@:username" + FeedSuffix} // served by Profile's handler
	Profile     = Route{"profile", "/@:username"}
	NotePage    = Route{"note-page", "/@:username/:id"}
	Tag         = Route{"tag", "/tags/:tag"}
	Failing     = Route{"failing", "/targets"}                          // the directory of accounts: ?q=, kind=, state=, of=, page=
	TargetFeed  = Route{"target-feed", "/targets/:target" + FeedSuffix} // served by Target's handler
	Target      = Route{"target", "/targets/:target"}                   // a build target, "board:config"
	Search      = Route{"search", "/search"}                            // ?q=: full-text search of the posts
	Static      = Route{"static", "/static/*"}

	// The Mastodon-compatible API (server/api.go).
	APIInstance          = Route{"api-instance", "/api/v1/instance"}
	APIInstanceV2        = Route{"api-instance-v2", "/api/v2/instance"}
	APIVerifyCredentials = Route{"api-verify-credentials", "/api/v1/accounts/verify_credentials"}
	APIStatuses          = Route{"api-statuses", "/api/v1/statuses"}
	APIStatus            = Route{"api-status", "/api/v1/statuses/:id"}
	APIStatusSource      = Route{"api-status-source", "/api/v1/statuses/:id/source"}
	APIStatusContext     = Route{"api-status-context", "/api/v1/statuses/:id/context"}
	APIAccountLookup     = Route{"api-account-lookup", "/api/v1/accounts/lookup"}
	APIAccount           = Route{"api-account", "/api/v1/accounts/:id"}
	APIAccountStatuses   = Route{"api-account-statuses", "/api/v1/accounts/:id/statuses"}
	APIAccountFollowers  = Route{"api-account-followers", "/api/v1/accounts/:id/followers"}
	APITimelinePublic    = Route{"api-timeline-public", "/api/v1/timelines/public"}
	APINotifications     = Route{"api-notifications", "/api/v1/notifications"}
	APINotification      = Route{"api-notification", "/api/v1/notifications/:id"}
	APIAccountFollowing  = Route{"api-account-following", "/api/v1/accounts/:id/following"}
	APITimelineTag       = Route{"api-timeline-tag", "/api/v1/timelines/tag/:hashtag"}
	APIStatusHistory     = Route{"api-status-history", "/api/v1/statuses/:id/history"}
	APITag               = Route{"api-tag", "/api/v1/tags/:name"}
	APINotificationsV2   = Route{"api-notifications-v2", "/api/v2/notifications"}
	APISearchV2          = Route{"api-search-v2", "/api/v2/search"}

	// OAuth 2 for phone apps and what they call on start (server/oauth.go,
	// server/api_client.go).
	APIApps                 = Route{"api-apps", "/api/v1/apps"}
	APIAppsVerify           = Route{"api-apps-verify", "/api/v1/apps/verify_credentials"}
	OAuthAuthorize          = Route{"oauth-authorize", "/oauth/authorize"}
	OAuthToken              = Route{"oauth-token", "/oauth/token"}
	OAuthRevoke             = Route{"oauth-revoke", "/oauth/revoke"}
	OAuthMetadata           = Route{"oauth-metadata", "/.well-known/oauth-authorization-server"}
	APICustomEmojis         = Route{"api-custom-emojis", "/api/v1/custom_emojis"}
	APITimelineHome         = Route{"api-timeline-home", "/api/v1/timelines/home"}
	APIPreferences          = Route{"api-preferences", "/api/v1/preferences"}
	APIMarkers              = Route{"api-markers", "/api/v1/markers"}
	APIFilters              = Route{"api-filters", "/api/v1/filters"}
	APIFiltersV2            = Route{"api-filters-v2", "/api/v2/filters"}
	APILists                = Route{"api-lists", "/api/v1/lists"}
	APIAnnouncements        = Route{"api-announcements", "/api/v1/announcements"}
	APIFollowedTags         = Route{"api-followed-tags", "/api/v1/followed_tags"}
	APIConversations        = Route{"api-conversations", "/api/v1/conversations"}
	APIAccountRelationships = Route{"api-account-relationships", "/api/v1/accounts/relationships"}

	// Webhooks (server/hooks.go).
	HookAlertmanager = Route{"hook-alertmanager", "/hooks/alertmanager"}
)

// FeedSuffix ends the path of an Atom feed.
const FeedSuffix = ".atom"

// All is every route, in the order server registers them; a route with a
// suffix comes before the one that serves it, so that Site.Parse finds it.
var All = []Route{
	WebFinger, HostMeta, NodeInfoLinks, NodeInfo20, NodeInfo21, Health,
	Actor, Inbox, Outbox, Followers, Following, Featured, Note, Activity, Replies, Image, SharedInbox,
	Home, Follow, ProfileFeed, Profile, NotePage, Tag, Failing, TargetFeed, Target, Search, Static,
	APIInstance, APIInstanceV2, APIVerifyCredentials, APIStatuses, APIStatus, APIStatusSource,
	APIStatusContext, APIAccountLookup, APIAccount, APIAccountStatuses, APIAccountFollowers, APITimelinePublic,
	APINotifications, APINotification, APIAccountFollowing, APITimelineTag, APIStatusHistory, APITag,
	APINotificationsV2, APISearchV2,
	APIApps, APIAppsVerify, OAuthAuthorize, OAuthToken, OAuthRevoke, OAuthMetadata, APICustomEmojis,
	APITimelineHome, APIPreferences, APIMarkers, APIFilters, APIFiltersV2, APILists, APIAnnouncements,
	APIFollowedTags, APIConversations, APIAccountRelationships,
	HookAlertmanager,
}

// RouterPattern is the pattern echo routes r by: Pattern without the
// suffixes of its parameters.
func (r Route) RouterPattern() string {
	segs := strings.Split(r.Pattern, "/")
	for i, seg := range segs {
		if prefix, param, _, ok := cutParam(seg); ok && param != "*" {
			segs[i] = prefix + ":" + param
		}
	}
	return strings.Join(segs, "/")
}

// Path fills the route's parameters, in order, with path-escaped values.
// It panics when the number of values is wrong: a programming error.
func (r Route) Path(values ...string) string {
	segs := strings.Split(r.Pattern, "/")
	n := 0
	for i, seg := range segs {
		prefix, param, suffix, ok := cutParam(seg)
		if !ok {
			continue
		}
		if n == len(values) {
			panic(fmt.Sprintf("urls: %s needs more than %d values", r.Pattern, len(values)))
		}
		v := url.PathEscape(values[n])
		if param == "*" {
			v = values[n] // the rest of a path: its slashes stay
		}
		segs[i] = prefix + v + suffix
		n++
	}
	if n != len(values) {
		panic(fmt.Sprintf("urls: %s takes %d values, not %d", r.Pattern, n, len(values)))
	}
	return strings.Join(segs, "/")
}

// Match reports whether path (unescaped, without query) is one of this
// route's, and returns its parameter values in order.
func (r Route) Match(path string) ([]string, bool) {
	pat := strings.Split(r.Pattern, "/")
	got := strings.Split(path, "/")
	var values []string
	for i, seg := range pat {
		prefix, param, suffix, isParam := cutParam(seg)
		if param == "*" {
			if i >= len(got) {
				return nil, false
			}
			return append(values, strings.Join(got[i:], "/")), true
		}
		if i >= len(got) {
			return nil, false
		}
		if !isParam {
			if got[i] != seg {
				return nil, false
			}
			continue
		}
		v, hasPrefix := strings.CutPrefix(got[i], prefix)
		v, hasSuffix := strings.CutSuffix(v, suffix)
		if !hasPrefix || !hasSuffix || v == "" {
			return nil, false
		}
		values = append(values, v)
	}
	return values, len(got) == len(pat)
}

// cutParam splits a pattern segment into its literal prefix, parameter
// and literal suffix: "@:username.atom" is "@", "username", ".atom".
func cutParam(seg string) (prefix, param, suffix string, ok bool) {
	if strings.HasSuffix(seg, "*") {
		return strings.TrimSuffix(seg, "*"), "*", "", true
	}
	prefix, param, ok = strings.Cut(seg, ":")
	if dot := strings.IndexByte(param, '.'); dot >= 0 {
		param, suffix = param[:dot], param[dot:]
	}
	return prefix, param, suffix, ok
}

// Site builds every public URL from the configured base URL. The zero value
// is not usable; use New.
type Site struct {
	base string // scheme://host[:port], no trailing slash
	host string // host[:port] as peers put it in the Host header
}

// New validates base (an absolute http or https URL without query or
// fragment) and returns the site built on it.
func New(base string) (Site, error) {
	u, err := url.Parse(base)
	if err != nil {
		return Site{}, fmt.Errorf("base URL %q: %w", base, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Site{}, fmt.Errorf("base URL %q: want http:// or https:// and a host", base)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return Site{}, fmt.Errorf("base URL %q: no query, fragment or user info allowed", base)
	}
	if p := strings.Trim(u.EscapedPath(), "/"); p != "" {
		// Every route answers at the root (WebFinger and NodeInfo must, by
		// their specifications), so ids under a path would lead nowhere.
		return Site{}, fmt.Errorf("base URL %q: a path (/%s) is not supported: nuttx-feed answers at the root of its host, so give it a host of its own", base, p)
	}
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if port := u.Port(); (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		u.Host = strings.TrimSuffix(u.Host, ":"+port) // the default port is no part of an id
	}
	return Site{base: u.Scheme + "://" + u.Host, host: u.Host}, nil
}

// Base returns the base URL without a trailing slash.
func (s Site) Base() string { return s.base }

// Host returns host[:port] of the base URL: what remote servers sign as the
// "host" header and what WebFinger handles end in.
func (s Site) Host() string { return s.host }

// Hostname returns the host of the base URL without a port.
func (s Site) Hostname() string {
	h, _, found := strings.Cut(s.host, ":")
	if found && strings.HasPrefix(s.host, "[") { // IPv6 literal
		return s.host
	}
	return h
}

// URL returns the absolute URL of route r filled with values.
func (s Site) URL(r Route, values ...string) string { return s.base + r.Path(values...) }

func (s Site) Actor(username string) string     { return s.URL(Actor, username) }
func (s Site) KeyID(username string) string     { return s.Actor(username) + "#main-key" }
func (s Site) Inbox(username string) string     { return s.URL(Inbox, username) }
func (s Site) Outbox(username string) string    { return s.URL(Outbox, username) }
func (s Site) Followers(username string) string { return s.URL(Followers, username) }
func (s Site) Following(username string) string { return s.URL(Following, username) }
func (s Site) Featured(username string) string  { return s.URL(Featured, username) }
func (s Site) SharedInbox() string              { return s.URL(SharedInbox) }
func (s Site) Profile(username string) string   { return s.URL(Profile, username) }
func (s Site) ProfileFeed(username string) string {
	return s.URL(ProfileFeed, username)
}
func (s Site) Note(username, id string) string { return s.URL(Note, username, id) }
func (s Site) NoteURL(username, id string) string {
	return s.URL(NotePage, username, id)
}
func (s Site) Activity(username, id string) string { return s.URL(Activity, username, id) }
func (s Site) Replies(username, id string) string  { return s.URL(Replies, username, id) }
func (s Site) Tag(name string) string              { return s.URL(Tag, name) }
func (s Site) Avatar() string                      { return s.URL(Static, "avatar.png") }

// Target returns the page of a build target ("board:config").
func (s Site) Target(target string) string { return s.URL(Target, target) }

// Failing returns the page listing every target failing now.
func (s Site) Failing() string { return s.URL(Failing) }

// RemoteFollow returns the page that sends a visitor to their own server
// to follow a local actor.
func (s Site) RemoteFollow() string { return s.URL(Follow) }

// TargetFeed returns the Atom feed of a build target.
func (s Site) TargetFeed(target string) string { return s.URL(TargetFeed, target) }

// ImageURL returns the URL of an actor's image of this kind ("avatar" or
// "header"), versioned by its time so that a new image gets a new URL.
func (s Site) ImageURL(username, kind string, version int64) string {
	return s.URL(Image, username, kind) + "?v=" + strconv.FormatInt(version, 10)
}

// Local returns the path (with query) of an absolute URL of this site,
// so that a page links its own assets whatever name it was opened by;
// any other URL comes back unchanged.
func (s Site) Local(abs string) string {
	if rest, ok := strings.CutPrefix(abs, s.base); ok && strings.HasPrefix(rest, "/") {
		return rest
	}
	return abs
}

// Handle returns the WebFinger handle user@host (without a leading @).
func (s Site) Handle(username string) string { return username + "@" + s.Hostname() }

// Parse recognises a URL of this site (with or without a fragment or
// query) and returns its route and parameter values.
func (s Site) Parse(iri string) (Route, []string, bool) {
	rest, found := strings.CutPrefix(iri, s.base)
	if !found || !strings.HasPrefix(rest, "/") {
		return Route{}, nil, false
	}
	u, err := url.Parse(rest)
	if err != nil {
		return Route{}, nil, false
	}
	for _, r := range All {
		if values, ok := r.Match(u.Path); ok {
			return r, values, true
		}
	}
	return Route{}, nil, false
}

// ParseLocalNote recognises the id, the Create's id or the HTML URL of a
// local note and returns its username and id.
func (s Site) ParseLocalNote(iri string) (username, id string, ok bool) {
	r, v, ok := s.Parse(iri)
	if ok && (r == Note || r == Activity || r == NotePage) {
		return v[0], v[1], true
	}
	return "", "", false
}

// ParseLocalActor returns the username of a local actor id.
func (s Site) ParseLocalActor(iri string) (username string, ok bool) {
	if strings.ContainsAny(iri, "?#") {
		return "", false
	}
	r, v, ok := s.Parse(iri)
	if ok && r == Actor {
		return v[0], true
	}
	return "", false
}
