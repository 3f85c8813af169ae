package server

import (
	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
)

// plainError is an error shown to an API client as msg, in plain words,
// while keeping the kind (errors.Is) and retry delay of err, whose
// details went to the log.
type plainError struct {
	msg string
	err error
}

func (e *plainError) Error() string { return e.msg }
func (e *plainError) Unwrap() error { return e.err }

// apiMentionFailure answers a post or edit whose mentions or parent
// ResolveMentions could not resolve: 422 (or 503, 429 when a retry may
// help) saying what failed in plain words ("cannot mention
// @bob@example.org: no such domain"), with the fetch's detail (URLs,
// resolver address) in the log only.
func (s *Server) apiMentionFailure(c echo.Context, err error) error {
	if msg, ok := activitypub.PlainMentionError(err); ok {
		s.log.Warn("API post refused: a mention or parent cannot be resolved", "token", c.Get(apiTokenKey), "err", err)
		err = &plainError{msg, err}
	}
	return apiRequestError(c, err)
}
