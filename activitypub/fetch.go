package activitypub

// Fetching remote documents (keys and actors) for the inbox, bounded
// (docs/FEDERATION.md, "Fetching"): a request that needs a key we do not
// hold makes us call a server of the sender's choosing, so the sender must
// not be able to make us open many connections, wait on a silent host over
// and over, or learn from our answers what lies behind a URL.
//
// - At most maxFetches fetches run at once, at most maxFetchesPerHost to
//   one registrable domain (urls.Domain: ports and subdomains do not
//   multiply a share) and at most maxFetchesPerClient for the requests of
//   one client address (naming keyIds on ever new hosts gains a client
//   nothing). A request that finds no slot within fetchSlotWait is
//   answered 503 with Retry-After.
// - An authority (host:port) that fails failingHostAfter times in a row
//   (no answer, timeout, 5xx) is not asked again for failingFor; a keyId
//   whose fetch failed is not fetched again for failingFor either. Both
//   answer at once. Health counts per authority, not per domain, so that a
//   closed port or a dead subdomain that anyone can name does not stop the
//   fetches of a whole server.
// - Redirects are followed within the same scheme and host only, and
//   re-signed.
// - Errors shown to the sender name what it must fix (the document, the
//   status its server answered), never how the network failed; the log
//   has the details.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/semaphore"

	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

const (
	fetchTimeout        = 5 * time.Second // key and actor fetches run inline in the inbox
	maxFetchBody        = 1 << 20         // largest actor or key document we read
	maxFetches          = 32              // fetches in flight over all hosts
	maxFetchesPerHost   = 2               // fetches in flight to one registrable domain
	maxFetchesPerClient = 4               // fetches in flight for the requests of one client address
	fetchSlotWait       = 2 * time.Second // wait for a free slot before answering 503
	failingHostAfter    = 3               // consecutive failures that mark an authority failing
	failingFor          = time.Minute     // a failing authority or keyId is left alone this long
	maxFetchRedirects   = 5
	acceptFetch         = `application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"`
)

// docError is a fault of the fetched document or of the sender's request
// (a missing key, a foreign owner, an HTTP status its server answered):
// safe to show to the sender, and the thing it must fix.
type docError struct{ msg string }

func (e *docError) Error() string { return e.msg }

func docErrorf(format string, args ...any) error { return &docError{fmt.Sprintf(format, args...)} }

// statusError is a fetch answered with a non-200 status.
type statusError struct {
	URL    string
	Status int
}

func (e *statusError) Error() string { return fmt.Sprintf("GET %s: HTTP %d", e.URL, e.Status) }

// isMissing reports whether err is a fetch answered 404 Not Found or 410
// Gone: the document does not exist (any more).
func isMissing(err error) bool {
	var se *statusError
	return errors.As(err, &se) && (se.Status == http.StatusGone || se.Status == http.StatusNotFound)
}

// shownError returns what the sender may be told of a fetch failure.
func shownError(err error) string {
	var de *docError
	var se *statusError
	switch {
	case errors.As(err, &de):
		return de.msg
	case errors.As(err, &se):
		return fmt.Sprintf("%s answered HTTP %d", se.URL, se.Status)
	}
	return "could not be fetched"
}

// fetchLimits bounds fetching; see the top of this file.
type fetchLimits struct {
	global    *semaphore.Weighted
	perHost   int
	perClient int
	wait      time.Duration

	mu     sync.Mutex
	slots  map[string]*slots               // "host DOMAIN" and "client ADDRESS" with fetches running or waiting
	health *lru.Cache[string, *hostHealth] // recent failures by authority (host:port)
	keys   *lru.Cache[string, keyFailure]  // keyIds whose fetch failed lately
}

// slots is a semaphore that lives while someone holds or waits for it.
type slots struct {
	sem   chan struct{}
	users int
}

type hostHealth struct {
	failures int       // in a row
	until    time.Time // failing until then
}

type keyFailure struct {
	err   error
	until time.Time
}

func newFetchLimits(total, perHost, perClient int, wait time.Duration) *fetchLimits {
	health, _ := lru.New[string, *hostHealth](keyCacheSize) // errors only for a size <= 0
	keys, _ := lru.New[string, keyFailure](keyCacheSize)
	return &fetchLimits{global: semaphore.NewWeighted(int64(total)), perHost: perHost, perClient: perClient, wait: wait,
		slots: map[string]*slots{}, health: health, keys: keys}
}

// errFetchBusy: no fetch slot came free in time (503 to the sender).
var errFetchBusy = errors.New("too many remote fetches in flight")

// fetchTarget is what a fetch counts against: the registrable domain it
// goes to (concurrency), its exact authority (health: a closed port or a
// dead subdomain that anyone can name must not mark the whole domain
// failing) and the client whose request needs it ("" for none).
type fetchTarget struct {
	domain, authority, client string
}

// acquire waits for the slots of a fetch: one of the client's, one of the
// domain's and one of the global pool. It fails at once for a failing
// authority.
func (l *fetchLimits) acquire(ctx context.Context, t fetchTarget, now time.Time) (release func(), err error) {
	l.mu.Lock()
	var until time.Time
	if h, ok := l.health.Get(t.authority); ok {
		until = h.until // read under the lock: record writes it
	}
	l.mu.Unlock()
	if now.Before(until) {
		return nil, retryLater(ErrUnavailable, until.Sub(now), "%s did not answer our last requests; try again later", t.authority)
	}
	wctx, cancel := context.WithTimeout(ctx, l.wait)
	defer cancel()
	var held []func()
	releaseAll := func() {
		for i := len(held) - 1; i >= 0; i-- {
			held[i]()
		}
	}
	if t.client != "" {
		release, ok := l.take(wctx, "client "+t.client, l.perClient)
		if !ok {
			return nil, busy(ctx)
		}
		held = append(held, release)
	}
	release, ok := l.take(wctx, "host "+t.domain, l.perHost)
	if !ok {
		releaseAll()
		return nil, busy(ctx)
	}
	held = append(held, release)
	if err := l.global.Acquire(wctx, 1); err != nil {
		releaseAll()
		return nil, busy(ctx)
	}
	held = append(held, func() { l.global.Release(1) })
	return releaseAll, nil
}

// busy is the error of a fetch that found no slot: ctx's own when the
// request went away, else a 503 to try later.
func busy(ctx context.Context) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return retryLater(ErrUnavailable, 10*time.Second, "%v; try again later", errFetchBusy)
}

// take waits for one of the n slots named key.
func (l *fetchLimits) take(ctx context.Context, key string, n int) (release func(), ok bool) {
	l.mu.Lock()
	s := l.slots[key]
	if s == nil {
		s = &slots{sem: make(chan struct{}, n)}
		l.slots[key] = s
	}
	s.users++
	l.mu.Unlock()
	leave := func() {
		l.mu.Lock()
		if s.users--; s.users == 0 {
			delete(l.slots, key)
		}
		l.mu.Unlock()
	}
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem; leave() }, true
	case <-ctx.Done():
		leave()
		return nil, false
	}
}

// record notes how a fetch from authority went: failed (no answer,
// timeout, 5xx) or not.
func (l *fetchLimits) record(authority string, failed bool, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.health.Get(authority)
	if !failed {
		if ok {
			l.health.Remove(authority)
		}
		return
	}
	if !ok {
		h = &hostHealth{}
		l.health.Add(authority, h)
	}
	if h.failures++; h.failures >= failingHostAfter {
		h.failures, h.until = 0, now.Add(failingFor)
	}
}

// keyFailed returns the error of keyID's last fetch if it failed lately.
func (l *fetchLimits) keyFailed(keyID string, now time.Time) error {
	if f, ok := l.keys.Get(keyID); ok && now.Before(f.until) {
		return f.err
	}
	return nil
}

func (l *fetchLimits) rememberKeyFailure(keyID string, err error, now time.Time) {
	l.keys.Add(keyID, keyFailure{err: err, until: now.Add(failingFor)})
}

// hostFault reports whether a fetch error counts against the host's health:
// no answer, a timeout or a server error, rather than a bad document.
func hostFault(err error) bool {
	var se *statusError
	var de *docError
	switch {
	case errors.As(err, &se):
		return se.Status >= 500
	case errors.As(err, &de), errors.Is(err, errInternal), errors.Is(err, context.Canceled):
		return false
	}
	return true
}

// fetchDocument GETs an actor or key document (fetch).
func (s *Service) fetchDocument(ctx context.Context, target string) (doc *remoteDocument, err error) {
	err = s.fetch(ctx, target, func(body []byte) (err error) {
		doc, err = decodeRemoteDocument(body)
		return err
	})
	return doc, err
}

// fetch GETs an ActivityPub document, signed by our fetch actor, within
// the fetch limits, unless target's server is blocked (withFetchSlot), and
// hands its body to decode, whose error is the document's fault.
// Redirects stay on target's scheme and host.
func (s *Service) fetch(ctx context.Context, target string, decode func(body []byte) error) (err error) {
	defer func() { s.metrics.RemoteFetch(fetchResult(err)) }()
	return s.withFetchSlot(ctx, target, func() error {
		body, err := s.getDocument(ctx, target)
		if err != nil {
			return err
		}
		if err := decode(body); err != nil {
			return docErrorf("GET %s: %v", target, err)
		}
		return nil
	})
}

// withFetchSlot runs get, a request to target, within the fetch limits,
// unless target's server is blocked, and records how target's authority
// answered.
func (s *Service) withFetchSlot(ctx context.Context, target string, get func() error) error {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return docErrorf("%q is not a URL we can fetch", truncate(target, 80))
	}
	if err := s.refuseBlocked(ctx, target); err != nil { // blocked: no request at all
		return err
	}
	t := fetchTarget{domain: urls.Domain(u.Host), authority: authority(u), client: clientOf(ctx)}
	release, err := s.fetches.acquire(ctx, t, s.now())
	if err != nil {
		return err
	}
	defer release()
	err = get()
	if err == nil || !errors.Is(err, errInternal) {
		s.fetches.record(t.authority, err != nil && hostFault(err) && ctx.Err() == nil, s.now())
	}
	return err
}

// authority is u's lower-case host name and port, the scheme's default
// port when it names none: example.org:443 for https://Example.org/x.
func authority(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	return net.JoinHostPort(urls.CanonicalHost(u.Hostname()), port)
}

type clientKey struct{}

// withClient records in ctx the address of the client whose request it
// serves: fetches made for it count against that client's share.
func withClient(ctx context.Context, addr string) context.Context {
	if addr == "" {
		return ctx
	}
	return context.WithValue(ctx, clientKey{}, urls.Domain(addr)) // an IPv6 client by its /64
}

func clientOf(ctx context.Context) string {
	c, _ := ctx.Value(clientKey{}).(string)
	return c
}

// getDocument GETs target and returns its body: ActivityPub JSON of at
// most maxFetchBody bytes, answered 200.
func (s *Service) getDocument(ctx context.Context, target string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, docErrorf("%q is not a URL we can fetch", truncate(target, 80))
	}
	req.Header.Set("Accept", acceptFetch)
	req.Header.Set("User-Agent", s.userAgent)
	sign, err := s.fetchSigner(ctx)
	if err != nil {
		return nil, err
	}
	if err := sign(req); err != nil {
		return nil, err
	}
	client := *s.client
	client.CheckRedirect = func(next *http.Request, via []*http.Request) error {
		if len(via) >= maxFetchRedirects {
			return docErrorf("GET %s: more than %d redirects", target, maxFetchRedirects)
		}
		if next.URL.Scheme != req.URL.Scheme || !strings.EqualFold(next.URL.Host, req.URL.Host) {
			return docErrorf("GET %s: redirected to another host (%s)", target, truncate(next.URL.Host, 80))
		}
		return sign(next) // the signature covers the path
	}
	resp, err := client.Do(req)
	if err != nil {
		var de *docError
		if errors.As(err, &de) {
			return nil, de
		}
		return nil, fmt.Errorf("GET %s: %w", target, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, &statusError{URL: target, Status: resp.StatusCode}
	}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mediaType {
	case "application/activity+json", "application/ld+json", "application/json":
	default:
		return nil, docErrorf("GET %s: Content-Type %q is not ActivityPub JSON", target, truncate(mediaType, 80))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFetchBody+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", target, err)
	}
	if len(body) > maxFetchBody {
		return nil, docErrorf("GET %s: document larger than %d bytes", target, maxFetchBody)
	}
	return body, nil
}

// fetchSigner returns what signs our GETs: the fetch actor's key, or
// nothing before the bot exists.
func (s *Service) fetchSigner(ctx context.Context) (func(*http.Request) error, error) {
	unsigned := func(*http.Request) error { return nil }
	if s.fetchActor == "" {
		return unsigned, nil
	}
	a, err := s.Actor(ctx, s.fetchActor)
	switch {
	case errors.Is(err, ErrNotFound): // no bot yet: an unsigned GET
		return unsigned, nil
	case err != nil:
		return nil, fmt.Errorf("%w: the fetch actor: %w", errInternal, err)
	}
	sg, err := s.signerOf(ctx, a.ID)
	if err != nil {
		return nil, fmt.Errorf("%w: the fetch actor's key: %w", errInternal, err)
	}
	return func(req *http.Request) error { return signRequest(req, nil, sg.keyID, sg.key, s.now()) }, nil
}
