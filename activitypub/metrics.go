package activitypub

// The names the metrics give to what the service does (internal/metrics
// holds the counters; this package only says which to count).

import (
	"context"
	"errors"

	"github.com/nuttx-feed/nuttx-feed/internal/metrics"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// deliveryOutcome names, for the metrics, what became of an attempt given
// the row recorded for it.
func deliveryOutcome(out outcome, row store.Outcome) metrics.DeliveryOutcome {
	switch {
	case row.State == store.Delivered:
		return metrics.Delivered
	case row.RemoveFollower:
		return metrics.DeliveryGone
	case row.State == store.Pending: // now, or after its host's breaker lets it (as the fan-out's log line counts it)
		return metrics.DeliveryRetry
	case classify(out) == retry:
		return metrics.DeliveryGivenUp
	default:
		return metrics.DeliveryFailed
	}
}

// fetchResult names how a fetch of a remote document went.
func fetchResult(err error) metrics.FetchResult {
	var se *statusError
	var de *docError
	switch {
	case err == nil:
		return metrics.FetchOK
	case isMissing(err):
		return metrics.FetchMissing
	case errors.As(err, &se):
		return metrics.FetchHTTPError
	case errors.As(err, &de):
		return metrics.FetchBadDocument
	case errors.Is(err, errInternal):
		return metrics.FetchError
	case errors.Is(err, ErrUnavailable):
		return metrics.FetchLimited
	case errors.Is(err, context.Canceled):
		return metrics.FetchCanceled
	default:
		return metrics.FetchNetwork
	}
}
