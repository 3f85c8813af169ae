package activitypub

import (
	"errors"
	"fmt"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// Error kinds returned by this package. Errors are wrapped with detail
// (fmt.Errorf("%w: ...")); callers test the kind with errors.Is and show the
// message, which never carries secrets. server maps each kind to one status.
var (
	// ErrNotFound: no such local actor, note or collection page (404). It
	// is the store's, so a missing row is the same kind wherever it shows.
	ErrNotFound = store.ErrNotFound
	// ErrInvalid: the request is malformed or lacks required fields (400).
	ErrInvalid = errors.New("invalid request")
	// ErrUnauthorized: a missing, malformed or failing HTTP signature (401).
	ErrUnauthorized = errors.New("signature rejected")
	// ErrTooLarge: the body is over MaxInboxBody (413).
	ErrTooLarge = errors.New("request body too large")
	// ErrUnsupportedMediaType: the body is not JSON (415).
	ErrUnsupportedMediaType = errors.New("unsupported media type")
	// ErrUnavailable: the request is fine but cannot be processed now (a
	// peer we must ask is unreachable); the sender should retry (503).
	ErrUnavailable = errors.New("temporarily unavailable")
	// ErrTooManyRequests: the sender's server is over its rate (429). The
	// error carries how long to wait (RetryAfter).
	ErrTooManyRequests = errors.New("too many requests")
)

// retryError is an error of kind ErrTooManyRequests or ErrUnavailable that
// tells the sender when to try again.
type retryError struct {
	kind  error
	after time.Duration
	msg   string
}

func (e *retryError) Error() string { return e.kind.Error() + ": " + e.msg }
func (e *retryError) Unwrap() error { return e.kind }

// retryLater returns an error of kind that asks the sender to wait after.
func retryLater(kind error, after time.Duration, format string, args ...any) error {
	return &retryError{kind: kind, after: after, msg: fmt.Sprintf(format, args...)}
}

// RetryAfter returns how long the sender of a refused request should wait
// before trying again, when err says so; 0 otherwise. server sends it as
// the Retry-After header, in whole seconds (at least 1).
func RetryAfter(err error) time.Duration {
	var re *retryError
	if errors.As(err, &re) {
		return re.after
	}
	return 0
}

// errInternal marks our own failures (the database) met while checking a
// request: they must not read as the sender's fault (401). It is no kind
// of server's map, so the error is logged and answered 503 without detail.
var errInternal = errors.New("internal error")
