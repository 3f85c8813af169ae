package urls

import "testing"

func TestPathAndMatchAgree(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		r      Route
		values []string
		path   string
	}{
		{Actor, []string{"nuttx_build"}, "/users/nuttx_build"},
		{Note, []string{"nuttx_build", "60cece9b"}, "/users/nuttx_build/statuses/60cece9b"},
		{Profile, []string{"rv-virt.citest"}, "/@rv-virt.citest"},
		{ProfileFeed, []string{"rv-virt.citest"}, "/@rv-virt.citest.atom"},
		{NotePage, []string{"nuttx_build", "abc"}, "/@nuttx_build/abc"},
		{Tag, []string{"risc_v"}, "/tags/risc_v"},
		{Target, []string{"rv-virt:citest"}, "/targets/rv-virt:citest"},
		{TargetFeed, []string{"rv-virt:citest"}, "/targets/rv-virt:citest.atom"},
		{Static, []string{"css/style.css"}, "/static/css/style.css"},
		{SharedInbox, nil, "/inbox"},
		{Home, nil, "/"},
	} {
		if got := c.r.Path(c.values...); got != c.path {
			t.Errorf("%s.Path(%q) = %q, want %q", c.r.Name, c.values, got, c.path)
		}
		got, ok := c.r.Match(c.path)
		if !ok || len(got) != len(c.values) {
			t.Errorf("%s.Match(%q) = %q, %v", c.r.Name, c.path, got, ok)
			continue
		}
		for i := range got {
			if got[i] != c.values[i] {
				t.Errorf("%s.Match(%q) = %q, want %q", c.r.Name, c.path, got, c.values)
			}
		}
	}
	if got := Tag.Path("a/b c"); got != "/tags/a%2Fb%20c" {
		t.Errorf("Tag.Path escapes to %q", got)
	}
}

func TestMatchRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		r    Route
		path string
	}{
		{Actor, "/users/"}, {Actor, "/users/a/b"}, {Actor, "/user/a"}, {Profile, "/a"}, {Profile, "/@"},
		{Note, "/users/a/statuses"}, {NotePage, "/@a"}, {Home, "/x"},
		{ProfileFeed, "/@a"}, {ProfileFeed, "/@.atom"}, {ProfileFeed, "/@a.atom/x"}, {ProfileFeed, "/a.atom"},
		{Target, "/targets"}, {Target, "/targets/"}, {Target, "/targets/a/b"}, {TargetFeed, "/targets/a:b"}, {TargetFeed, "/targets/.atom"},
	} {
		if v, ok := c.r.Match(c.path); ok {
			t.Errorf("%s.Match(%q) = %q, want no match", c.r.Name, c.path, v)
		}
	}
}

func TestSiteParse(t *testing.T) {
	t.Parallel()
	s, err := New("https://Nuttx-Feed.org/")
	if err != nil {
		t.Fatal(err)
	}
	if s.Base() != "https://nuttx-feed.org" || s.Handle("nuttx_build") != "nuttx_build@nuttx-feed.org" {
		t.Fatalf("site = %+v", s)
	}
	for iri, want := range map[string][2]string{
		"https://nuttx-feed.org/users/nuttx_build/statuses/abc":          {"nuttx_build", "abc"},
		"https://nuttx-feed.org/users/nuttx_build/statuses/abc/activity": {"nuttx_build", "abc"},
		"https://nuttx-feed.org/@nuttx_build/abc":                        {"nuttx_build", "abc"},
	} {
		u, id, ok := s.ParseLocalNote(iri)
		if !ok || u != want[0] || id != want[1] {
			t.Errorf("ParseLocalNote(%s) = %s, %s, %v", iri, u, id, ok)
		}
	}
	for _, iri := range []string{"https://nuttx-feed.org/users/nuttx_build", "https://other.org/users/a/statuses/b",
		"https://nuttx-feed.org.evil/users/a/statuses/b", "https://nuttx-feed.org/@a"} {
		if _, _, ok := s.ParseLocalNote(iri); ok {
			t.Errorf("ParseLocalNote(%s) matched", iri)
		}
	}
	if u, ok := s.ParseLocalActor("https://nuttx-feed.org/users/nuttx_build"); !ok || u != "nuttx_build" {
		t.Errorf("ParseLocalActor = %q, %v", u, ok)
	}
	for _, iri := range []string{"https://nuttx-feed.org/users/nuttx_build#main-key", "https://nuttx-feed.org/users/a/inbox",
		"https://nuttx-feed.org/@nuttx_build", "https://nuttx-feed.org/users/"} {
		if _, ok := s.ParseLocalActor(iri); ok {
			t.Errorf("ParseLocalActor(%s) matched", iri)
		}
	}
	for _, bad := range []string{"ftp://x.org", "https://", "https://x.org/?q=1", "https://u@x.org", "https://x.org/#f"} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
}

// FuzzSiteParse: ids from the network (Undo objects, inReplyTo, WebFinger
// resources) never panic the parser, and whatever it recognises builds
// back to a URL that parses the same.
func FuzzSiteParse(f *testing.F) {
	for _, s := range []string{"https://nuttx-feed.org/users/nuttx_build", "https://nuttx-feed.org/@a/b",
		"https://nuttx-feed.org/users/a/statuses/b/activity", "https://nuttx-feed.org/static/x/y", "https://nuttx-feed.org/%zz",
		"https://nuttx-feed.org", "https://nuttx-feed.org//users//a", "https://nuttx-feed.org/tags/a%2Fb"} {
		f.Add(s)
	}
	site, _ := New("https://nuttx-feed.org")
	f.Fuzz(func(t *testing.T, iri string) {
		r, values, ok := site.Parse(iri)
		if !ok {
			return
		}
		again, values2, ok := site.Parse(site.URL(r, values...))
		if !ok || again != r || len(values2) != len(values) {
			t.Fatalf("Parse(%q) = %s %q, but its URL parses as %s %q", iri, r.Name, values, again.Name, values2)
		}
		for i := range values {
			if values[i] != values2[i] {
				t.Fatalf("Parse(%q) = %q, its URL gives %q", iri, values, values2)
			}
		}
	})
}

// TestNewNormalises: spellings of one base URL make one site, whose ids
// are the same byte for byte.
func TestNewNormalises(t *testing.T) {
	for in, want := range map[string]string{
		"https://nuttx-feed.org":      "https://nuttx-feed.org",
		"HTTPS://Nuttx-Feed.ORG/":     "https://nuttx-feed.org",
		"https://nuttx-feed.org:443":  "https://nuttx-feed.org",
		"http://localhost:80/":        "http://localhost",
		"http://localhost:8080":       "http://localhost:8080",
		"https://nuttx-feed.org:8443": "https://nuttx-feed.org:8443",
		"http://[::1]:80":             "http://[::1]",
		"https://[::1]:443":           "https://[::1]",
	} {
		s, err := New(in)
		if err != nil || s.Base() != want {
			t.Errorf("New(%q) = %q, %v; want %q", in, s.Base(), err, want)
		}
	}
}

// TestRouterPattern: echo routes a feed by its profile's pattern; other
// patterns are their own.
func TestRouterPattern(t *testing.T) {
	t.Parallel()
	for r, want := range map[Route]string{ProfileFeed: "/@:username", Profile: "/@:username", TargetFeed: "/targets/:target", Note: Note.Pattern, Static: "/static/*", Home: "/"} {
		if got := r.RouterPattern(); got != want {
			t.Errorf("%s.RouterPattern() = %q, want %q", r.Name, got, want)
		}
	}
}

// TestLocal: our own URLs become paths (with their query), others stay.
func TestLocal(t *testing.T) {
	t.Parallel()
	s, err := New("https://nuttx-feed.org")
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		s.Avatar():                             "/static/avatar.png",
		s.ImageURL("nuttx_build", "avatar", 7): "/users/nuttx_build/images/avatar?v=7",
		"https://nuttx-feed.org.evil/x.png":    "https://nuttx-feed.org.evil/x.png",
		"https://cdn.example/a.png":            "https://cdn.example/a.png",
		"https://nuttx-feed.org":               "https://nuttx-feed.org",
	} {
		if got := s.Local(in); got != want {
			t.Errorf("Local(%q) = %q, want %q", in, got, want)
		}
	}
}
