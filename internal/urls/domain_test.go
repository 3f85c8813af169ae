package urls

import (
	"regexp"
	"testing"
)

func TestDomain(t *testing.T) {
	for host, want := range map[string]string{
		"mastodon.social":           "mastodon.social",
		"Mastodon.Social:443":       "mastodon.social",
		"a.b.mastodon.social":       "mastodon.social",
		"x.example.co.uk":           "example.co.uk",
		"alice.github.io":           "alice.github.io", // a private suffix: each user is a site
		"127.0.0.1:8080":            "127.0.0.1",
		"[::1]:443":                 "::/64",
		"2001:db8:1:2::1":           "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::9]:80": "2001:db8:1:2::/64",
		"ｍａｓｔｏｄｏｎ.social":           "mastodon.social",
		"127.0.０.１:8080":            "127.0.0.1",
		"Bücher.example":            "xn--bcher-kva.example",
		"::ffff:192.0.2.1":          "192.0.2.1",
		"localhost:3000":            "localhost",
		"co.uk":                     "co.uk",
		"qoto.org.":                 "qoto.org",
		"":                          "",
	} {
		if got := Domain(host); got != want {
			t.Errorf("Domain(%q) = %q, want %q", host, got, want)
		}
	}
	for u, want := range map[string]string{
		"https://a.b.mastodon.social:8443/users/x#main-key": "mastodon.social",
		"https://user:pw@evil.example.com/inbox":            "example.com",
		"http://127.0.0.1:9/inbox?x=1":                      "127.0.0.1",
		"/relative":                                         "",
		"mailto:a@example.com":                              "",
	} {
		if got := DomainOf(u); got != want {
			t.Errorf("DomainOf(%q) = %q, want %q", u, got, want)
		}
	}
}

// FuzzDomain: any host or URL a sender names (a keyId, an inbox) gives a
// domain without a panic, and a domain that is a host name (letters,
// digits, dots, hyphens: what the HTTP client can reach) or an IPv4 address
// is its own domain.
func FuzzDomain(f *testing.F) {
	for _, s := range []string{"mastodon.social:443", "[2001:db8::1]:80", "127.0.０.1", "ｅxample.co.uk", "https://user@a.b.example/x#k", "", "[::1", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := Domain(s)
		DomainOf(s)
		if hostName.MatchString(d) && Domain(d) != d {
			t.Errorf("Domain(%q) = %q, but Domain(%q) = %q", s, d, d, Domain(d))
		}
	})
}

var hostName = regexp.MustCompile(`^[a-z0-9_-]+(\.[a-z0-9_-]+)*$`)
