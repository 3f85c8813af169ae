package web_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
	"github.com/nuttx-feed/nuttx-feed/web"
)

func TestPagesRenderAndEscape(t *testing.T) {
	t.Parallel()
	r, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	u, _ := urls.New("https://nuttx-feed.org")
	a := &store.Actor{Username: "nuttx_build", DisplayName: `<script>alert("x")</script>`, Summary: "Bio with #NuttX",
		Fields: []store.Field{{Name: "Source", URL: "https://github.com/apache/nuttx"}}}
	note := &store.Note{PublicID: "abc", Username: "nuttx_build", Content: "<p>built &amp; broke</p>", Published: time.Now(),
		InReplyTo: "https://nuttx-feed.org/users/nuttx_build/statuses/parent"}
	profile := web.NewProfileView(u, a, 1, 2)
	pages := map[string]any{
		"profile": web.ProfilePage{Page: web.Page{Title: a.DisplayName, Site: u, Alternate: u.Actor("nuttx_build")}, Profile: profile,
			Notes: web.NoteViews(u, []*store.Note{note})},
		"note":  web.NotePage{Page: web.Page{Title: "n", Site: u}, Profile: profile, Note: web.NewNoteView(u, note)},
		"tag":   web.TagPage{Page: web.Page{Title: "#NuttX", Site: u}, Profile: profile, Tag: "NuttX", Notes: web.NoteViews(u, []*store.Note{note})},
		"error": web.ErrorPage{Page: web.Page{Title: "Not found", Site: u}, Heading: "Not found", Message: "<b>no</b>"},
	}
	for name, data := range pages {
		var buf bytes.Buffer
		if err := r.Render(&buf, name, data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := buf.String()
		if strings.Contains(out, "<script>") || strings.Contains(out, "<b>no</b>") {
			t.Errorf("%s: unescaped input in the page", name)
		}
		if !strings.HasPrefix(out, "<!doctype html>") || !strings.Contains(out, "</html>") {
			t.Errorf("%s: not a whole page", name)
		}
	}
	var buf bytes.Buffer
	r.Render(&buf, "profile", pages["profile"])
	for _, want := range []string{`<link rel="alternate" type="application/activity+json" href="https://nuttx-feed.org/users/nuttx_build">`,
		"@<wbr>nuttx_build@<wbr>nuttx-<wbr>feed.<wbr>org", "<p>built &amp; broke</p>", `href="https://nuttx-feed.org/@nuttx_build/parent"`, "<strong>2</strong> followers"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("profile page lacks %q", want)
		}
	}
	if err := r.Render(&buf, "nonexistent", nil); err == nil {
		t.Error("rendering an unknown page succeeded")
	}
}

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"avatar.png", "style.css"} {
		f, err := web.Static().Open(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		f.Close()
	}
}
