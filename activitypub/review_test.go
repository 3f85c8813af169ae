package activitypub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// TestResolveFailureKinds: a mention that cannot be resolved is
// ErrUnresolvable when its server does not know it (404, NXDOMAIN, a bad
// document, an unknown local account) and ErrUnavailable when its server
// is down or failing (refused, timed out, 5xx, 429); internal faults
// keep their kind; the message stays as it was.
func TestResolveFailureKinds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	_, refused := http.Get("http://" + ln.Addr().String() + "/") // nobody listens: refused
	if refused == nil {
		t.Fatal("a closed port answered")
	}
	dns := func(notFound bool) error {
		return fmt.Errorf("GET x: %w", &url.Error{Op: "Get", URL: "https://nobody.example/", Err: &net.OpError{Op: "dial", Net: "tcp",
			Err: &net.DNSError{Err: "no such host", Name: "nobody.example", IsNotFound: notFound, IsTemporary: !notFound}}})
	}
	for _, c := range []struct {
		what string
		err  error
		want error
	}{
		{"WebFinger 404", &statusError{URL: "x", Status: http.StatusNotFound}, ErrUnresolvable},
		{"actor 410", &statusError{URL: "x", Status: http.StatusGone}, ErrUnresolvable},
		{"NXDOMAIN", dns(true), ErrUnresolvable},
		{"a bad document", docErrorf("GET x: not a JRD"), ErrUnresolvable},
		{"an unknown local account", fmt.Errorf("actor nobody: %w", store.ErrNotFound), ErrUnresolvable},
		{"503", &statusError{URL: "x", Status: http.StatusServiceUnavailable}, ErrUnavailable},
		{"429", &statusError{URL: "x", Status: http.StatusTooManyRequests}, ErrUnavailable},
		{"DNS failing", dns(false), ErrUnavailable},
		{"connection refused", refused, ErrUnavailable},
		{"a timeout", fmt.Errorf("GET x: %w", context.DeadlineExceeded), ErrUnavailable},
		{"a breaker held", retryLater(ErrUnavailable, time.Minute, "x did not answer"), ErrUnavailable},
		{"internal", fmt.Errorf("%w: the fetch actor", errInternal), errInternal},
	} {
		in := fmt.Errorf("cannot mention @a@b: %w", c.err)
		got := resolveFailure(in)
		if !errors.Is(got, c.want) || got.Error() != in.Error() {
			t.Errorf("%s: %v, want of kind %v with the same message", c.what, got, c.want)
		}
		for _, other := range []error{ErrUnresolvable, ErrUnavailable, ErrInvalid} {
			if other != c.want && errors.Is(got, other) {
				t.Errorf("%s: %v is also %v", c.what, got, other)
			}
		}
	}
}

// TestNoteIDsSortByTime: note ids are 32 lower-case hex digits that sort
// by the millisecond they were made at, after any imported Mastodon id
// (shorter), and differ within one millisecond.
func TestNoteIDsSortByTime(t *testing.T) {
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	prev := "999999999999999999" // an imported Mastodon id: 18 digits
	for i := range 1000 {
		id := noteID(at.Add(time.Duration(i) * time.Millisecond))
		if !hexID.MatchString(id) || seen[id] {
			t.Fatalf("id %q: want 32 lower-case hex digits, new", id)
		}
		seen[id] = true
		if len(id) < len(prev) || (len(id) == len(prev) && id <= prev) {
			t.Fatalf("id %s made after %s sorts before it", id, prev)
		}
		prev = id
		if same := noteID(at.Add(time.Duration(i) * time.Millisecond)); same[:12] != id[:12] || same == id {
			t.Fatalf("two ids of one millisecond: %s %s", id, same)
		}
	}
	if got := noteID(at)[:12]; got != fmt.Sprintf("%012x", at.UnixMilli()) {
		t.Errorf("time part %s, want the Unix milliseconds %x", got, at.UnixMilli())
	}
}
