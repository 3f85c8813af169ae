package activitypub

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/clock"
	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/logtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// answering is a loopback host whose inboxes all answer status.
func answering(t *testing.T, status int) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(status)
	}))
	t.Cleanup(s.Close)
	return s
}

// onHost rewrites a loopback server's URL to name the host as name
// ("localhost"): two servers on 127.0.0.1 are then two registrable
// domains, as two Fediverse servers would be.
func onHost(s *httptest.Server, name string) string {
	return strings.Replace(s.URL, "127.0.0.1", name, 1)
}

// logLines returns the lines of logs at level whose message starts with msg.
func logLines(logs *logtest.Buffer, level, msg string) []string {
	var out []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, " level="+level+" ") && strings.Contains(line, ` msg="`+msg) {
			out = append(out, line)
		}
	}
	return out
}

// TestDeliveryLogOneLinePerNote: a note to 60 followers on two servers,
// one of which answers 503 until its breaker holds it, writes one info
// line (how many inboxes, reached, failed, retrying, held, how long), one
// warn line for the failing server and the breaker's, and a debug line per
// attempt only.
func TestDeliveryLogOneLinePerNote(t *testing.T) {
	t.Parallel()
	var logs logtest.Buffer
	e := newEnv(t, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	good, bad := answering(t, http.StatusAccepted), answering(t, http.StatusServiceUnavailable)
	e.addFollowers(60, func(i int) string {
		if i%2 == 0 {
			return fmt.Sprintf("%s/users/g%d/inbox", good.URL, i)
		}
		return fmt.Sprintf("%s/users/b%d/inbox", onHost(bad, "localhost"), i)
	})
	e.runDelivery()
	e.publish("a note for sixty followers")

	var summary []string
	eventually.True(t, 20*time.Second, "the note's summary", func() bool {
		summary = logLines(&logs, "INFO", "delivery: Create sent")
		return len(summary) > 0
	})
	time.Sleep(200 * time.Millisecond) // room for a second summary, which must not come
	attempts := storetest.Count(t, e.db.SQL, "delivery_attempts")
	if n := len(logLines(&logs, "INFO", "deliver")); n != 1 { // besides "published note", when it was queued
		t.Errorf("%d info lines of the delivery, want the one summary:\n%s", n, logs.String())
	}
	for _, want := range []string{" inboxes=60 ", " reached=30 ", " failed=0 ", " took="} {
		if !strings.Contains(summary[0], want) {
			t.Errorf("summary %q lacks %q", summary[0], want)
		}
	}
	var retrying, held int
	if _, err := fmt.Sscanf(summary[0][strings.Index(summary[0], "retrying="):], "retrying=%d held=%d", &retrying, &held); err != nil || retrying+held != 30 || held == 0 {
		t.Errorf("summary %q: retrying %d + held %d, want 30 with some held (%v)", summary[0], retrying, held, err)
	}
	if retrying != attempts-30 {
		t.Errorf("retrying=%d, but %d attempts were made to the failing server", retrying, attempts-30)
	}
	failures := logLines(&logs, "WARN", "delivery failed")
	if len(failures) != 1 || !strings.Contains(failures[0], " domain=localhost ") || !strings.Contains(failures[0], " status=503 ") {
		t.Errorf("failure lines %q, want one for localhost", failures)
	}
	if n := len(logLines(&logs, "WARN", "delivery: host held")); n != 1 {
		t.Errorf("%d breaker lines, want 1", n)
	}
	if n := len(logLines(&logs, "DEBUG", "delivery attempt")); n != attempts {
		t.Errorf("%d debug lines for %d attempts", n, attempts)
	}
}

// TestDeliveryLogFailuresPerHost: failures to one server are logged once
// every 15 minutes, and the next line counts those left unlogged; each
// note still gets its summary, with its failures counted.
func TestDeliveryLogFailuresPerHost(t *testing.T) {
	t.Parallel()
	var logs logtest.Buffer
	clk := clock.At(time.Now())
	e := newEnv(t, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		o.Now = clk.Now
	})
	good, refusing := answering(t, http.StatusAccepted), answering(t, http.StatusForbidden) // 403: refused for good, no breaker
	e.addFollowers(20, func(i int) string {
		if i < 5 {
			return fmt.Sprintf("%s/users/g%d/inbox", good.URL, i)
		}
		return fmt.Sprintf("%s/users/r%d/inbox", onHost(refusing, "localhost"), i)
	})
	e.runDelivery()

	e.publish("first")
	eventually.True(t, 20*time.Second, "the first summary", func() bool { return len(logLines(&logs, "INFO", "delivery: Create sent")) == 1 })
	clk.Add(10 * time.Minute)
	e.publish("second, within 15 minutes")
	eventually.True(t, 20*time.Second, "the second summary", func() bool { return len(logLines(&logs, "INFO", "delivery: Create sent")) == 2 })
	clk.Add(6 * time.Minute)
	e.publish("third, 16 minutes after the first")
	eventually.True(t, 20*time.Second, "the third summary", func() bool { return len(logLines(&logs, "INFO", "delivery: Create sent")) == 3 })

	for _, s := range logLines(&logs, "INFO", "delivery: Create sent") {
		if !strings.Contains(s, " inboxes=20 reached=5 failed=15 retrying=0 held=0 ") {
			t.Errorf("summary %q, want 20 inboxes, 5 reached, 15 failed", s)
		}
	}
	failures := logLines(&logs, "WARN", "delivery failed")
	if len(failures) != 2 {
		t.Fatalf("failure lines:\n%s\nwant 2 (one per 15 minutes)", strings.Join(failures, "\n"))
	}
	if !strings.Contains(failures[0], " unlogged_failures=0 ") || !strings.Contains(failures[1], " unlogged_failures=29 ") {
		t.Errorf("failure lines count %q, want 0 then 29 unlogged (15 + 15 failures, one logged each time)", failures)
	}
	if !strings.Contains(failures[1], " status=403 ") || !strings.HasSuffix(failures[1], " outcome=failed") {
		t.Errorf("failure line %q lacks the status and outcome", failures[1])
	}
}

// TestDeliveryLogDatabaseFails: when the progress of fan-outs cannot be
// read, a warn line says their summary may come late, and they stay open
// to be read again.
func TestDeliveryLogDatabaseFails(t *testing.T) {
	t.Parallel()
	var logs logtest.Buffer
	e := newEnv(t, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	e.s.report.untried[42] = 3
	e.db.Store.Close()
	e.s.recheckFanOuts(e.ctx)
	if n := len(logLines(&logs, "WARN", "delivery: cannot read the progress of fan-outs")); n != 1 {
		t.Errorf("%d warn lines, want 1:\n%s", n, logs.String())
	}
	if e.s.report.untried[42] != 3 {
		t.Errorf("the open fan-out was forgotten: %v", e.s.report.untried)
	}
}
