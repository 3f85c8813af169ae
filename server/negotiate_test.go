package server

import (
	"strings"
	"testing"
)

func TestParseAccept(t *testing.T) {
	t.Parallel()
	got := parseAccept(`application/ld+json; profile="https://www.w3.org/ns/activitystreams,x", text/html;q=0.5, bad/type/x, */*;q=0.1`)
	if len(got) != 3 || got[0].typ != "application/ld+json" || got[1].q != 0.5 || got[2].typ != "*/*" {
		t.Errorf("parseAccept = %+v", got)
	}
}

// FuzzAccept: the Accept header of every GET reaches this parser.
func FuzzAccept(f *testing.F) {
	for _, c := range acceptCases {
		f.Add(c.accept)
	}
	f.Add(`a/b;q="0.5,x"`)
	f.Fuzz(func(t *testing.T, accept string) {
		ap := prefersActivityJSON(accept)
		if ap && !strings.Contains(strings.ToLower(accept), "json") {
			t.Fatalf("prefersActivityJSON(%q) without any JSON type", accept)
		}
		for _, r := range parseAccept(accept) {
			if r.q < 0 || r.q > 1 {
				t.Fatalf("q %v out of range", r.q)
			}
		}
	})
}
