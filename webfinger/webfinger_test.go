package webfinger_test

import (
	"context"
	"encoding/xml"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/internal/urls"
	"github.com/nuttx-feed/nuttx-feed/webfinger"
)

func TestParseResource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		user    string
		host    string
		wantErr error
	}{
		{in: "acct:nuttx_build@nuttx-feed.org", user: "nuttx_build", host: "nuttx-feed.org"},
		{in: "acct:NuttX_Build@Nuttx-Feed.ORG", user: "NuttX_Build", host: "nuttx-feed.org"},
		{in: "ACCT:nuttx_build@nuttx-feed.org", user: "nuttx_build", host: "nuttx-feed.org"},
		{in: "acct%3Anuttx_build%40nuttx-feed.org", user: "nuttx_build", host: "nuttx-feed.org"}, // escaped twice
		{in: url.QueryEscape("acct:nuttx_build@nuttx-feed.org"), user: "nuttx_build", host: "nuttx-feed.org"},
		{in: "nuttx_build@nuttx-feed.org", user: "nuttx_build", host: "nuttx-feed.org"},
		{in: "@nuttx_build@nuttx-feed.org", user: "nuttx_build", host: "nuttx-feed.org"},
		{in: "acct:nuttx_build@localhost:8080", user: "nuttx_build", host: "localhost:8080"},
		{in: "https://nuttx-feed.org/users/nuttx_build", user: "nuttx_build", host: "nuttx-feed.org"},
		{in: "https://nuttx-feed.org/users/NUTTX_BUILD/", user: "NUTTX_BUILD", host: "nuttx-feed.org"},
		{in: "https://nuttx-feed.org/@nuttx_build", user: "nuttx_build", host: "nuttx-feed.org"},
		{in: "http://Nuttx-Feed.org/@Nuttx_Build", user: "Nuttx_Build", host: "nuttx-feed.org"},
		{in: "", wantErr: webfinger.ErrMalformed},
		{in: "acct:", wantErr: webfinger.ErrMalformed},
		{in: "acct:nuttx_build", wantErr: webfinger.ErrMalformed},
		{in: "acct:@nuttx-feed.org", wantErr: webfinger.ErrMalformed},
		{in: "acct:nuttx_build@", wantErr: webfinger.ErrMalformed},
		{in: "acct:a@b@c", wantErr: webfinger.ErrMalformed},
		{in: "acct:nuttx build@nuttx-feed.org", wantErr: webfinger.ErrMalformed},
		{in: "acct:<script>@nuttx-feed.org", wantErr: webfinger.ErrMalformed},
		{in: "https://nuttx-feed.org/", wantErr: webfinger.ErrMalformed},
		{in: "https://nuttx-feed.org/notes/1", wantErr: webfinger.ErrMalformed},
		{in: "https:///users/x", wantErr: webfinger.ErrMalformed},
		{in: "mailto:someone@example.com", wantErr: webfinger.ErrMalformed},
		{in: "acct:" + strings.Repeat("a", 600) + "@x.org", wantErr: webfinger.ErrMalformed},
	}
	for _, tt := range tests {
		got, err := webfinger.ParseResource(tt.in)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("ParseResource(%q) = %+v, %v; want error %v", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.Username != tt.user || got.Host != tt.host {
			t.Errorf("ParseResource(%q) = %+v, %v; want %s@%s", tt.in, got, err, tt.user, tt.host)
		}
	}
	// A target typed as Prometheus names it gets its handle in the error.
	_, err := webfinger.ParseResource("acct:rv-virt:python@nuttx-feed.org")
	if !errors.Is(err, webfinger.ErrMalformed) || !strings.Contains(err.Error(), "rv-virt.python@nuttx-feed.org") {
		t.Errorf("a board:config resource: %v, want the handle in the error", err)
	}
}

func testServer() *webfinger.Server {
	site, err := urls.New("https://nuttx-feed.org")
	if err != nil {
		panic(err)
	}
	return &webfinger.Server{
		Site: site,
		Lookup: func(_ context.Context, name string) (webfinger.Account, bool, error) {
			if strings.EqualFold(name, "nuttx_build") {
				return webfinger.Account{Username: "nuttx_build", Avatar: site.Avatar(), AvatarType: "image/png"}, true, nil
			}
			return webfinger.Account{}, false, nil
		},
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	s := testServer()
	for _, res := range []string{"acct:nuttx_build@nuttx-feed.org", "acct:NUTTX_BUILD@nuttx-feed.org", "acct:NuttX_Build@NUTTX-FEED.ORG",
		"https://nuttx-feed.org/users/nuttx_build", "https://nuttx-feed.org/@NuttX_build"} {
		jrd, err := s.Resolve(context.Background(), res)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", res, err)
		}
		if jrd.Subject != "acct:nuttx_build@nuttx-feed.org" {
			t.Errorf("Resolve(%q).Subject = %q, want the canonical lower-case subject", res, jrd.Subject)
		}
		if l := jrd.Links[0]; l.Rel != "self" || l.Type != "application/activity+json" || l.Href != "https://nuttx-feed.org/users/nuttx_build" {
			t.Errorf("Resolve(%q) first link = %+v, want the ActivityPub self link", res, l)
		}
		selfs := 0
		for _, l := range jrd.Links {
			if l.Rel == "self" {
				selfs++
			}
		}
		if selfs != 1 {
			t.Errorf("Resolve(%q) has %d self links, want exactly 1", res, selfs)
		}
	}
	for res, want := range map[string]error{
		"acct:someone@nuttx-feed.org":        webfinger.ErrNotFound,
		"acct:nuttx_build@elsewhere.example": webfinger.ErrNotFound,
		"acct:nuttx_build":                   webfinger.ErrMalformed,
	} {
		if _, err := s.Resolve(context.Background(), res); !errors.Is(err, want) {
			t.Errorf("Resolve(%q) error = %v, want %v", res, err, want)
		}
	}
}

func TestHostMeta(t *testing.T) {
	t.Parallel()
	site, _ := urls.New("https://nuttx-feed.org")
	out := webfinger.HostMeta(site)
	var doc struct {
		XMLName xml.Name
		Links   []struct {
			Rel      string `xml:"rel,attr"`
			Template string `xml:"template,attr"`
		} `xml:"Link"`
	}
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("host-meta is not XML: %v\n%s", err, out)
	}
	if doc.XMLName.Space != "http://docs.oasis-open.org/ns/xri/xrd-1.0" || doc.XMLName.Local != "XRD" {
		t.Errorf("root element = %v, want XRD in the XRD 1.0 namespace", doc.XMLName)
	}
	if len(doc.Links) != 1 || doc.Links[0].Rel != "lrdd" ||
		doc.Links[0].Template != "https://nuttx-feed.org/.well-known/webfinger?resource={uri}" {
		t.Errorf("links = %+v", doc.Links)
	}
}

func FuzzParseResource(f *testing.F) {
	for _, seed := range []string{"acct:nuttx_build@nuttx-feed.org", "acct%3Ax%40y", "https://h/users/u", "https://h/@u",
		"@a@b", "a@b@c", "%", "acct:%zz@x", "http://[::1]:80/@x", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r, err := webfinger.ParseResource(in)
		if err != nil {
			if !errors.Is(err, webfinger.ErrMalformed) {
				t.Fatalf("ParseResource(%q) error %v is not ErrMalformed", in, err)
			}
			return
		}
		if r.Username == "" || r.Host == "" || strings.ContainsAny(r.Username, "@/ ") || r.Host != strings.ToLower(r.Host) {
			t.Fatalf("ParseResource(%q) = %+v: empty or unclean parts", in, r)
		}
		// A parsed resource must parse again to itself in acct form.
		again, err := webfinger.ParseResource("acct:" + r.Username + "@" + r.Host)
		if err != nil || again != r {
			t.Fatalf("round trip of %+v = %+v, %v", r, again, err)
		}
	})
}
