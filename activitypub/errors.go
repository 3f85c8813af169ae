package activitypub

import (
	"errors"

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
)

// errInternal marks our own failures (the database) met while checking a
// request: they must not read as the sender's fault (401). It is no kind
// of server's map, so the error is logged and answered 503 without detail.
var errInternal = errors.New("internal error")
