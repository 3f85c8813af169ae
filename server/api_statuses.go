package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// apiMaxBody bounds the body of a request to post a status.
const apiMaxBody = 1 << 20

// idempotencyTTL is how long an Idempotency-Key returns the status it
// posted, as on Mastodon.
const idempotencyTTL = time.Hour

// statusRequest is what POST /api/v1/statuses asks for.
type statusRequest struct {
	Status, InReplyToID, SpoilerText, Visibility, Language string
	Sensitive                                              bool
}

// errUnprocessable marks a request that parsed but cannot be posted
// (422); other parse errors are 400.
var errUnprocessable = errors.New("validation failed")

// errMalformed marks a body that cannot be read (400).
var errMalformed = errors.New("malformed request")

// unprocessable is a 422 error with Mastodon's "Validation failed: " text.
func unprocessable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUnprocessable, fmt.Sprintf(format, args...))
}

// parseStatusRequest reads a status to post from a form, multipart or JSON
// body, and checks it.
func parseStatusRequest(r *http.Request) (statusRequest, error) {
	fields, composite, err := typedRequestFields(r)
	if err != nil {
		return statusRequest{}, err
	}
	if err := checkUnsupported(fields); err != nil {
		return statusRequest{}, err
	}
	for _, k := range statusTextFields { // a list or an object would be read as its JSON text
		if composite[k] {
			return statusRequest{}, unprocessable("%s must be a string", k)
		}
	}
	req := statusRequest{
		Status: fields["status"], InReplyToID: strings.TrimSpace(fields["in_reply_to_id"]),
		SpoilerText: fields["spoiler_text"], Visibility: fields["visibility"], Language: fields["language"],
	}
	if s := fields["sensitive"]; s != "" {
		if req.Sensitive, err = strconv.ParseBool(s); err != nil {
			return statusRequest{}, unprocessable("Sensitive %q is not true or false", s)
		}
	}
	return req, req.check()
}

// post is what req says: its text, content warning and sensitivity.
func (req statusRequest) post() activitypub.Post {
	return activitypub.Post{Content: richtext.Parse(req.Status), Summary: req.SpoilerText, Sensitive: req.Sensitive, Language: req.Language}
}

// statusTextFields are the fields of a status that are text: sent as a
// JSON list or object, they are refused rather than read as JSON text
// (Rails would turn them into something else, or nothing, and post).
var statusTextFields = []string{"status", "in_reply_to_id", "spoiler_text", "visibility", "language", "sensitive"}

// check reports what of req nuttx-feed cannot post.
func (req statusRequest) check() error {
	switch {
	case !utf8.ValidString(req.Status) || !utf8.ValidString(req.SpoilerText):
		return unprocessable("Text is not valid UTF-8")
	case strings.TrimSpace(req.Status) == "":
		return unprocessable("Text can't be blank")
	case utf8.RuneCountInString(req.Status) > apiMaxCharacters:
		return unprocessable("Text character limit of %d exceeded", apiMaxCharacters)
	case req.Visibility == "private" || req.Visibility == "direct":
		return unprocessable("Visibility %s is not supported: nuttx-feed posts public and unlisted statuses only", req.Visibility)
	case req.Visibility != "" && req.Visibility != store.Public && req.Visibility != store.Unlisted:
		return unprocessable("Visibility is not included in the list")
	case req.Language != "" && !activitypub.ValidLanguage(req.Language):
		return unprocessable("Language %q is not a language code (ISO 639, as en or pt-BR)", req.Language)
	}
	return nil
}

// requestFields reads the fields of a form, multipart or JSON body as
// strings; a JSON field may be a string, number, boolean or null, and a
// list or an object is its JSON text ("" when empty).
func requestFields(r *http.Request) (map[string]string, error) {
	fields, _, err := typedRequestFields(r)
	return fields, err
}

// typedRequestFields is requestFields, and the set of the JSON fields
// that were lists or objects.
func typedRequestFields(r *http.Request) (map[string]string, map[string]bool, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, apiMaxBody)
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == "application/json" {
		return jsonFields(r.Body)
	}
	if err := readForm(r, mediaType); err != nil {
		return nil, nil, fmt.Errorf("%w: reading the form: %v", errMalformed, err)
	}
	out := map[string]string{}
	for k, v := range r.Form {
		out[k] = v[0]
		if strings.HasSuffix(k, "[]") { // a list (media_ids[]): all its values
			out[k] = strings.Join(v, "")
		}
	}
	return out, nil, nil
}

// readForm reads the form of r, whose body is of mediaType (multipart or
// URL-encoded), at most apiMaxBody bytes. Reading it again reads nothing
// more: the token check (apiToken) and the handler both read it.
func readForm(r *http.Request, mediaType string) error {
	if err := formFailed(r); err != nil { // an earlier reader failed: the body is gone
		return err
	}
	r.Body = http.MaxBytesReader(nil, r.Body, apiMaxBody)
	var err error
	if mediaType == "multipart/form-data" {
		err = r.ParseMultipartForm(apiMaxBody)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		r.Form = url.Values{formError: {err.Error()}}
		r.PostForm = r.Form
	}
	return err
}

// formError is the key under which readForm keeps, in the request's
// form, the error of a form it could not read, for the next reader: the
// token check reads the form first (an access_token), then the handler,
// which would else see an empty form and answer as if fields were
// missing.
const formError = "\x00form error"

// formFailed is the error of an earlier readForm of r that failed, or nil.
func formFailed(r *http.Request) error {
	if failed, ok := r.Form[formError]; ok {
		return errors.New(failed[0])
	}
	return nil
}

// jsonFields reads a JSON object's scalar fields as strings, and the set
// of its fields that are lists or objects (their JSON text, "" when
// empty). Anything but one object is malformed.
func jsonFields(body io.Reader) (map[string]string, map[string]bool, error) {
	dec := json.NewDecoder(body)
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, nil, fmt.Errorf("%w: reading the JSON body: it is %s, not an object", errMalformed, typeErr.Value)
		}
		return nil, nil, fmt.Errorf("%w: reading the JSON body: %v", errMalformed, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("%w: reading the JSON body: data after the object", errMalformed)
	}
	out, composite := map[string]string{}, map[string]bool{}
	for k, v := range raw {
		v = bytes.TrimSpace(v)
		switch {
		case len(v) > 0 && v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, nil, fmt.Errorf("%w: reading the JSON body: %s: %v", errMalformed, k, err)
			}
			out[k] = s
		case bytes.Equal(v, []byte("null")):
		case len(v) > 0 && (v[0] == '{' || v[0] == '['):
			out[k], composite[k] = emptyJSON(v), true // media_ids, poll: refused unless empty (unsupported)
		default:
			out[k] = string(v) // a number or a boolean
		}
	}
	return out, composite, nil
}

// emptyJSON is "" for an empty JSON array or object, else v as is.
func emptyJSON(v []byte) string {
	var x []any
	var m map[string]any
	if (json.Unmarshal(v, &x) == nil && len(x) == 0) || (json.Unmarshal(v, &m) == nil && len(m) == 0) {
		return ""
	}
	return string(v)
}

// unsupportedFields are the fields of a status nuttx-feed cannot post,
// by the form key or prefix a client sends them under, and what the 422
// says of them. A field sent empty asks for nothing and is no error.
var unsupportedFields = []struct{ prefix, what string }{
	{"media_ids", "media attachments are not supported"},
	{"poll", "polls are not supported"},
	{"scheduled_at", "scheduled statuses are not supported"},
}

// checkUnsupported refuses fields that ask for what nuttx-feed cannot
// post (unsupportedFields), rather than post the status without it.
func checkUnsupported(fields map[string]string) error {
	for _, f := range unsupportedFields {
		for k, v := range fields {
			if strings.HasPrefix(k, f.prefix) && strings.TrimSpace(v) != "" {
				return unprocessable("%s (%s)", f.what, k)
			}
		}
	}
	return nil
}

// handleAPIPostStatus is POST /api/v1/statuses: it publishes a status as
// the token's account (the bot unless made with --account), as
// `nuttx-feed post` does, so that it federates the same way.
// A request with an Idempotency-Key posted within the hour before from the
// same token gets that status back.
func (s *Server) handleAPIPostStatus(c echo.Context) error {
	req, err := parseStatusRequest(c.Request())
	if err != nil {
		return apiRequestError(c, err)
	}
	ctx := c.Request().Context()
	key := ""
	if k := c.Request().Header.Get("Idempotency-Key"); k != "" { // stored as a hash: any length a client sends costs 32 bytes
		sum := sha256.Sum256([]byte(c.Get(apiTokenKey).(string) + "\x00" + k))
		key = hex.EncodeToString(sum[:])
	}
	var st *apiStatus
	if key != "" { // before resolving mentions: a repeat reaches no other server
		if err := s.store.View(ctx, func(tx *store.Tx) (err error) { st, err = s.apiIdempotent(tx, key); return err }); err != nil {
			return err
		}
		if st != nil {
			return c.JSON(http.StatusOK, st)
		}
	}
	post := req.post()
	post.Visibility = req.Visibility
	if post.InReplyTo, err = s.apiReplyTarget(ctx, req.InReplyToID); err != nil {
		return apiRequestError(c, err)
	}
	if err := s.svc.ResolveMentions(ctx, &post); err != nil { // network first: no write lock held meanwhile
		return s.apiMentionFailure(c, err)
	}
	err = s.store.Update(ctx, func(tx *store.Tx) (err error) {
		st, err = s.apiPublish(tx, tokenAccountOf(c), key, post)
		return err
	})
	if err != nil {
		return apiRequestError(c, err)
	}
	return c.JSON(http.StatusOK, st)
}

// apiReplyTarget returns the IRI of the status in_reply_to_id names (""
// for none): a standing local note, or a stored reply, whose author
// ResolveMentions then mentions as for `post --in-reply-to` a remote
// note. A deleted or unknown status is an error wrapping
// store.ErrNotFound (404, as on Mastodon).
func (s *Server) apiReplyTarget(ctx context.Context, id string) (iri string, err error) {
	if id == "" {
		return "", nil
	}
	err = s.store.View(ctx, func(tx *store.Tx) error {
		n, err := s.apiStatusNode(tx, id)
		if err == nil {
			iri = n.iri
		}
		return err
	})
	return iri, err
}

// apiIdempotent returns the status posted under key within the hour, or
// nil (also when that status was deleted since).
func (s *Server) apiIdempotent(tx *store.Tx, key string) (*apiStatus, error) {
	id, err := tx.IdempotentNote(key, tx.Now.Add(-idempotencyTTL))
	if err != nil || id == "" {
		return nil, err
	}
	n, err := tx.NoteByPublicID(id)
	if err != nil || !n.Deleted.IsZero() { // deleted since: the request posts anew, as on Mastodon
		return nil, err
	}
	return s.apiStatusOf(tx, n)
}

// apiPublish publishes post as the local actor username in tx and records
// key (when not "") for it; when key posted within the hour already (a request that
// raced this one), it returns that status and publishes nothing.
func (s *Server) apiPublish(tx *store.Tx, username, key string, post activitypub.Post) (*apiStatus, error) {
	if key != "" {
		if st, err := s.apiIdempotent(tx, key); st != nil || err != nil {
			return st, err
		}
	}
	n, err := s.svc.Publish(tx, username, post)
	if err != nil {
		return nil, err
	}
	if key != "" {
		if err := tx.SaveIdempotencyKey(key, n.PublicID, tx.Now.Add(-idempotencyTTL)); err != nil {
			return nil, err
		}
	}
	return s.apiStatusOf(tx, n)
}

// apiRequestError answers a request that cannot be done: 422 for what
// Mastodon does not validate (with its "Validation failed: " text) and
// for a mention or parent that cannot be resolved, 404 for a reply to an
// unknown status, 400 for a malformed body. Other errors go to the
// server's error handler (a peer that is down: 503, retry later).
func apiRequestError(c echo.Context, err error) error {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	switch {
	case errors.Is(err, errUnprocessable):
		return apiError(c, http.StatusUnprocessableEntity, "Validation failed: "+strings.TrimPrefix(msg, errUnprocessable.Error()+": "))
	case errors.Is(err, activitypub.ErrInvalid), errors.Is(err, activitypub.ErrUnresolvable):
		return apiError(c, http.StatusUnprocessableEntity, "Validation failed: "+msg)
	case errors.Is(err, activitypub.ErrNotFound):
		return apiError(c, http.StatusNotFound, apiErrNotFound)
	case errors.Is(err, errMalformed):
		return apiError(c, http.StatusBadRequest, msg)
	}
	return err
}

// handleAPIGetStatus is GET /api/v1/statuses/:id: one of the server's
// statuses or a stored reply (as context shows it); a deleted or unknown
// one is 404.
func (s *Server) handleAPIGetStatus(c echo.Context) error {
	var st *apiStatus
	err := s.store.View(c.Request().Context(), func(tx *store.Tx) error {
		n, err := s.apiStatusNode(tx, c.Param("id"))
		if err != nil {
			return err
		}
		st, err = s.status(tx, n)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return apiError(c, http.StatusNotFound, apiErrNotFound)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}
