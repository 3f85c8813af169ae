package activitypub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/metrics"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// TestFetchResult names every way a fetch ends.
func TestFetchResult(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want metrics.FetchResult
	}{
		{nil, metrics.FetchOK},
		{&statusError{URL: "u", Status: http.StatusGone}, metrics.FetchMissing},
		{fmt.Errorf("key: %w", &statusError{URL: "u", Status: http.StatusNotFound}), metrics.FetchMissing},
		{&statusError{URL: "u", Status: http.StatusInternalServerError}, metrics.FetchHTTPError},
		{docErrorf("GET u: Content-Type %q is not ActivityPub JSON", "text/html"), metrics.FetchBadDocument},
		{fmt.Errorf("%w: the fetch actor: boom", errInternal), metrics.FetchError},
		{retryLater(ErrUnavailable, time.Second, "busy"), metrics.FetchLimited},
		{context.Canceled, metrics.FetchCanceled},
		{fmt.Errorf("GET u: %w", errors.New("connection refused")), metrics.FetchNetwork},
	} {
		if got := fetchResult(c.err); got != c.want {
			t.Errorf("%v: %s, want %s", c.err, got, c.want)
		}
	}
}

// TestDeliveryOutcome names what becomes of each kind of attempt.
func TestDeliveryOutcome(t *testing.T) {
	t.Parallel()
	j := &job{}
	for _, c := range []struct {
		out  outcome
		row  store.Outcome
		want metrics.DeliveryOutcome
	}{
		{outcome{job: j, status: 202}, store.Outcome{State: store.Delivered}, metrics.Delivered},
		{outcome{job: j, status: 410}, store.Outcome{State: store.Failed, RemoveFollower: true}, metrics.DeliveryGone},
		{outcome{job: j, status: 503}, store.Outcome{State: store.Pending, Hold: true}, metrics.DeliveryRetry},
		{outcome{job: j, status: 503}, store.Outcome{State: store.Pending}, metrics.DeliveryRetry},
		{outcome{job: j, status: 503}, store.Outcome{State: store.Failed}, metrics.DeliveryGivenUp},
		{outcome{job: j, status: 403}, store.Outcome{State: store.Failed}, metrics.DeliveryFailed},
	} {
		if got := deliveryOutcome(c.out, c.row); got != c.want {
			t.Errorf("status %d, row %+v: %s, want %s", c.out.status, c.row, got, c.want)
		}
	}
}
