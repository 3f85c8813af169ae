package server

import (
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

var pageLink = regexp.MustCompile(`<a href="([^"]+)">(← Newer|Older →)</a>`)

// links returns the Newer and Older links of an HTML page.
func links(t *testing.T, url string) (newer, older string) {
	t.Helper()
	resp, body := get(t, url, "text/html")
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	for _, m := range pageLink.FindAllStringSubmatch(string(body), -1) {
		if strings.HasPrefix(m[2], "←") {
			newer = html.UnescapeString(m[1])
		} else {
			older = html.UnescapeString(m[1])
		}
	}
	return newer, older
}

// TestPagesAgreeOnOlderAndNewer: the profile and tag pages link an older or
// newer page exactly when one exists, with the outbox's cursors: a full
// last page has no "Older" link (the tag page used to show one).
func TestPagesAgreeOnOlderAndNewer(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	for i := range store.PageSize {
		ts.publish(t, fmt.Sprintf("post %d #paging", i))
	}
	for _, page := range []string{"/@nuttx_build", "/tags/paging"} {
		if newer, older := links(t, ts.URL+page); newer != "" || older != "" {
			t.Errorf("%s with exactly one page: newer %q, older %q, want neither", page, newer, older)
		}
	}
	ts.publish(t, "one more #paging")
	for _, page := range []string{"/@nuttx_build", "/tags/paging"} {
		newer, older := links(t, ts.URL+page)
		if newer != "" || !strings.Contains(older, "?max_id=") {
			t.Fatalf("%s with 21 posts: newer %q, older %q, want only older", page, newer, older)
		}
		resp, body := get(t, older, "text/html")
		if n := strings.Count(string(body), "<article"); resp.StatusCode != 200 || n != 1 || !strings.Contains(string(body), "post 0 ") {
			t.Errorf("%s older page: %d with %d notes, want only the oldest post", page, resp.StatusCode, n)
		}
		newer, older = links(t, older)
		if older != "" || !strings.Contains(newer, "?min_id=") {
			t.Errorf("%s oldest page: newer %q, older %q, want only newer", page, newer, older)
		}
		if resp, _ := get(t, ts.URL+page+"?max_id=x", "text/html"); resp.StatusCode != 400 {
			t.Errorf("%s?max_id=x: %d, want 400", page, resp.StatusCode)
		}
	}
}
