package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mmcdole/gofeed"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// TestProfileFeed: /@user.atom, over real HTTP, is an Atom feed a real
// parser reads: the latest store.PageSize posts, newest first, each with
// the note's id, its page as link, its first line as title, its HTML as
// content and its time; a deleted note is left out.
func TestProfileFeed(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	var notes []*store.Note
	for i := range store.PageSize + 2 {
		notes = append(notes, ts.publish(t, fmt.Sprintf("post %d\nsecond line <b>&</b> #NuttX", i)))
	}
	deleted := notes[len(notes)-2]
	if _, err := ts.svc.DeleteNote(t.Context(), ts.svc.NoteIRI(deleted)); err != nil {
		t.Fatal(err)
	}

	f := getFeed(t, ts.URL+"/@nuttx_build.atom", ts.URL+"/@nuttx_build", "@nuttx_build@127.0.0.1")
	// Newest first, the deleted one left out: posts 21, 19, 18, ..., 1.
	var want []*store.Note
	for i := len(notes) - 1; i >= 0 && len(want) < store.PageSize; i-- {
		if notes[i] != deleted {
			want = append(want, notes[i])
		}
	}
	if len(f.Items) != len(want) {
		t.Fatalf("%d entries, want %d", len(f.Items), len(want))
	}
	for i, item := range f.Items {
		n := want[i]
		if item.GUID != ts.svc.NoteIRI(n) || item.Link != ts.URL+"/@nuttx_build/"+n.PublicID || item.Title != firstLine(n.Source) {
			t.Errorf("entry %d: id %q, link %q, title %q; want note %s", i, item.GUID, item.Link, item.Title, n.Source)
		}
		if item.Content != n.Content || item.PublishedParsed == nil || !item.PublishedParsed.Equal(n.Published.Truncate(1e9)) {
			t.Errorf("entry %d: content %q, published %v; want %q at %v", i, item.Content, item.PublishedParsed, n.Content, n.Published)
		}
	}
	for _, item := range f.Items {
		if item.GUID == ts.svc.NoteIRI(deleted) {
			t.Error("the deleted note is in the feed")
		}
	}
}

// TestEmptyFeedsHaveADate: a feed without entries (a bot without posts, a
// feed account not created yet) still has the date Atom requires.
func TestEmptyFeedsHaveADate(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.seeTargets(t, store.CatalogTarget{Target: "sim:nsh", Board: "sim", Config: "nsh", Arch: "sim"})
	for _, name := range []string{"nuttx_build", "sim.nsh", "arch.sim"} {
		f := getFeed(t, ts.URL+"/@"+name+".atom", ts.URL+"/@"+name, "@"+name+"@127.0.0.1")
		if len(f.Items) != 0 || f.UpdatedParsed == nil || f.UpdatedParsed.Year() < 2000 {
			t.Errorf("%s: %d entries, updated %q", name, len(f.Items), f.Updated)
		}
	}
}

// TestFeedsStayUnder100KB: a feed of posts of about 7 KB (their links'
// URLs are long) keeps the newest entries that fit under 100 KB.
func TestFeedsStayUnder100KB(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	for i := range store.PageSize {
		ts.publish(t, fmt.Sprintf("post %d https://example.org/%s", i, strings.Repeat("a", 3000)))
	}
	resp, body := get(t, ts.URL+"/@nuttx_build.atom", "")
	f := getFeed(t, ts.URL+"/@nuttx_build.atom", ts.URL+"/@nuttx_build", "@nuttx_build@127.0.0.1")
	if resp.StatusCode != http.StatusOK || len(body) > 100_000 || len(f.Items) < 5 || len(f.Items) == store.PageSize || !strings.HasPrefix(f.Items[0].Title, fmt.Sprintf("post %d", store.PageSize-1)) {
		t.Errorf("feed: %d bytes, %d entries, first %q; want under 100 KB, the newest first", len(body), len(f.Items), f.Items[0].Title)
	}
}

// getFeed fetches url, checks that it is an Atom feed a real parser reads,
// linking to link, its title holding title, and returns it.
func getFeed(t *testing.T, url, link, title string) *gofeed.Feed {
	t.Helper()
	resp, body := get(t, url, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/atom+xml; charset=utf-8" {
		t.Fatalf("feed: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	f, err := gofeed.NewParser().ParseString(string(body))
	if err != nil {
		t.Fatalf("the feed does not parse: %v\n%s", err, body)
	}
	if f.FeedType != "atom" || f.Link != link || !strings.Contains(f.Title, title) {
		t.Errorf("feed: type %s, link %q, title %q", f.FeedType, f.Link, f.Title)
	}
	return f
}

// TestProfileFeedFailures: an unknown user has no feed, and the feed is
// rate limited like the pages.
func TestProfileFeedFailures(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.RateLimit = 2 })
	if resp, _ := get(t, ts.URL+"/@nobody.atom", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown user's feed: %d, want 404", resp.StatusCode)
	}
	limited := false
	for range 10 {
		if resp, _ := get(t, ts.URL+"/@nuttx_build.atom", ""); resp.StatusCode == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Error("10 quick feed requests were never limited")
	}
}
