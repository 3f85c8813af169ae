package server

import (
	"fmt"
	"slices"
	"strings"
)

// Token scopes, Mastodon's (OAuth scopes of its API): a token grants the
// scopes it was made with (`token create --scopes`), and each API route
// needs one of them. A top-level scope (read, write) grants each of its
// granular ones (read:statuses, write:statuses, ...); a granular scope
// grants only itself.

// apiErrScope is Mastodon's answer (403) to a token without the scope a
// route needs.
const apiErrScope = "This action is outside the authorized scopes"

// defaultScopes are the scopes of a token made without --scopes: both
// read and write. Mastodon's default for an app is read only; a token
// made by the operator on the command line is for a script that posts,
// which needs write, and usually reads what it posted.
const defaultScopes = "read,write"

// apiScopes are the scopes a token may be made with: Mastodon 4.3's,
// without the admin ones.
var apiScopes = []string{
	"read", "write", "follow", "push", "profile",
	"read:accounts", "read:blocks", "read:bookmarks", "read:favourites", "read:filters", "read:follows",
	"read:lists", "read:mutes", "read:notifications", "read:search", "read:statuses",
	"write:accounts", "write:blocks", "write:bookmarks", "write:conversations", "write:favourites",
	"write:filters", "write:follows", "write:lists", "write:media", "write:mutes", "write:notifications",
	"write:reports", "write:statuses",
}

// parseScopes reads --scopes, scopes separated by commas or spaces, into
// the stored form: space-separated, each once, in the order given.
func parseScopes(s string) (string, error) {
	var out []string
	for _, scope := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if !slices.Contains(apiScopes, scope) {
			return "", fmt.Errorf("unknown scope %q: use read, write, follow, push, profile, or Mastodon's read:* and write:* (e.g. read:statuses, write:statuses)", scope)
		}
		if !slices.Contains(out, scope) {
			out = append(out, scope)
		}
	}
	if len(out) == 0 {
		return "", fmt.Errorf("no scope given: use e.g. --scopes read,write")
	}
	return strings.Join(out, " "), nil
}

// scopeGrants reports whether the stored scopes have grant one of the
// scopes in need, or need is empty (a route for any token).
func scopeGrants(have string, need []string) bool {
	if len(need) == 0 {
		return true
	}
	for _, h := range strings.Fields(have) {
		for _, n := range need {
			top, _, _ := strings.Cut(n, ":")
			if h == n || h == top {
				return true
			}
		}
	}
	return false
}

// grantsAll reports whether the stored scopes have grant every scope of
// want (space-separated), as scopeGrants grants each.
func grantsAll(have, want string) bool {
	for _, w := range strings.Fields(want) {
		if !scopeGrants(have, []string{w}) {
			return false
		}
	}
	return true
}
