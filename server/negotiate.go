package server

import (
	"mime"
	"strconv"
	"strings"
)

// mediaRange is one entry of an Accept header.
type mediaRange struct {
	typ string
	q   float64
}

// parseAccept splits an Accept header into media ranges with their
// weights. Commas inside quoted parameters (a JSON-LD profile) are kept.
func parseAccept(accept string) []mediaRange {
	var out []mediaRange
	for _, part := range splitUnquoted(accept, ',') {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		mt, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
				q = f
			}
		}
		out = append(out, mediaRange{typ: mt, q: q})
	}
	return out
}

func splitUnquoted(s string, sep byte) []string {
	var parts []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case sep:
			if !quoted {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// prefersActivityJSON reports whether a client asks for an ActivityPub
// document rather than a web page: activity+json, ld+json (any profile) or
// plain JSON is acceptable and weighs at least as much as HTML (docs/FEDERATION.md, "Media types and content negotiation").
// No Accept header, or */*, means a web page.
func prefersActivityJSON(accept string) bool {
	ap, html := -1.0, -1.0
	for _, r := range parseAccept(accept) {
		switch r.typ {
		case "application/activity+json", "application/ld+json", "application/json":
			ap = max(ap, r.q)
		case "text/html", "application/xhtml+xml":
			html = max(html, r.q)
		}
	}
	return ap > 0 && ap >= html
}
