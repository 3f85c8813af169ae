// Package activitypub is the protocol of nuttx-feed: the documents it
// serves and sends (built with go-fed's streams vocabulary from the store's
// plain types), HTTP signatures (go-ap/httpsig, wrapped), the rules of the
// inbox (Follow, Undo, Delete), publishing, and the delivery worker that
// drains the queue the store keeps.
//
// It reads and writes through internal/store and never holds SQL; it knows
// nothing of echo or of routes: server adapts HTTP to the calls here. It is
// the only package that touches go-fed/activity and go-ap/httpsig.
package activitypub

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/nuttx-feed/nuttx-feed/internal/metrics"
	"github.com/nuttx-feed/nuttx-feed/internal/safehttp"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// Options configure a Service. Store and BaseURL are required.
type Options struct {
	// BaseURL is the public URL, the only source of ids and links.
	BaseURL string
	// Store is the database.
	Store *store.Store
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Client makes every outgoing request; nil means safehttp.NewClient
	// with private networks refused.
	Client *http.Client
	// Version names this build in the User-Agent.
	Version string
	// FetchActor is the local username that signs our GET requests (key
	// and actor fetches; GoToSocial answers unsigned ones with 401): the
	// default bot.
	FetchActor string
	// Now is the clock of signatures (Date headers and their window) and
	// of retry delays; nil means time.Now. The times rows carry come from
	// the store's own clock, read once per transaction (store.Tx.Now).
	Now func() time.Time
	// Delivery tunes the delivery queue.
	Delivery DeliveryOptions
	// AllowPrivateNetworks accepts followers whose inboxes are plain http
	// (tests, intranets); otherwise inboxes must be https. The Client
	// decides separately which addresses it may reach.
	AllowPrivateNetworks bool
	// InboxRate limits the activities each client address (before the
	// signature is checked) and each remote server (after) may send to our
	// inboxes; zero fields take the defaults.
	InboxRate Rate
	// Retention is how long finished deliveries, their attempts, activities
	// that carry no note are kept (DefaultRetention);
	// RunPruner removes older ones every PruneEvery (an hour).
	Retention, PruneEvery time.Duration
	// Metrics counts deliveries and fetches; nil counts nothing.
	Metrics *metrics.Metrics
	// FeedProfile writes the profile of a feed account (a board, target
	// or architecture of the catalog); nil: the service has no feed
	// accounts, and their names are unknown unless their rows exist.
	FeedProfile func(store.FeedAccount) Profile
}

// Service is the federation core. Create it with New; it is safe for
// concurrent use. Delivery runs only inside RunDelivery.
type Service struct {
	site   urls.Site
	store  *store.Store
	log    *slog.Logger
	client *http.Client
	// deliveryClient is client without redirects: an inbox that answers
	// 3xx must not send our signed POST to a host no follower named.
	deliveryClient *http.Client
	userAgent      string
	fetchActor     string
	now            func() time.Time
	delivery       DeliveryOptions
	wake           chan struct{}
	breaker        *breaker

	actors     *actorCache
	keys       *keyCache
	keyFetches singleflight.Group // by keyId
	// deleteChecks lets one unproven Delete of an actor a minute GET its
	// id, and each forwarder one GET of a forwarded note (replies.go).
	deleteChecks *throttle
	// originResults keeps what the origins of forwarded notes answered
	// in the last minute (replies.go).
	originResults *originCache
	fetches       *fetchLimits
	inboxRate     *keyedRates
	retention     time.Duration
	pruneEvery    time.Duration
	httpInbox     bool // inboxes may be http:// (private networks allowed)
	metrics       *metrics.Metrics
	report        *deliveryReport // the delivery log (report.go)

	feedProfile func(store.FeedAccount) Profile // Options.FeedProfile
	// materializing makes one key per feed account created at once;
	// keySlots bounds the keys generated at once (feedaccounts.go).
	materializing singleflight.Group
	keySlots      chan struct{}
	keysMade      atomic.Int64 // keys generated (tests count them)
}

// New returns a Service for o.
func New(o Options) (*Service, error) {
	if o.Store == nil {
		return nil, errors.New("activitypub: no store")
	}
	site, err := urls.New(o.BaseURL)
	if err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Client == nil {
		o.Client = safehttp.NewClient(safehttp.Options{})
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	noRedirects := *o.Client
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Service{
		site:           site,
		store:          o.Store,
		log:            o.Logger,
		client:         o.Client,
		deliveryClient: &noRedirects,
		userAgent:      "nuttx-feed/" + o.Version + " (+" + site.Base() + "/)",
		fetchActor:     o.FetchActor,
		now:            o.Now,
		delivery:       o.Delivery.withDefaults(),
		wake:           make(chan struct{}, 1),
		breaker:        newBreaker(),
		actors:         newActorCache(),
		keys:           newKeyCache(),
		deleteChecks:   newThrottle(time.Minute),
		originResults:  newOriginCache(),
		fetches:        newFetchLimits(maxFetches, maxFetchesPerHost, maxFetchesPerClient, fetchSlotWait),
		inboxRate:      newKeyedRates(o.InboxRate),
		retention:      cmp.Or(o.Retention, DefaultRetention),
		pruneEvery:     cmp.Or(o.PruneEvery, time.Hour),
		httpInbox:      o.AllowPrivateNetworks,
		metrics:        o.Metrics,
		report:         newDeliveryReport(),
		feedProfile:    o.FeedProfile,
		keySlots:       make(chan struct{}, keyGenerations),
	}, nil
}

// Site returns the site the service mints its URLs on.
func (s *Service) Site() urls.Site { return s.site }

// kick wakes the delivery queue so that work committed a moment ago goes
// out now rather than at the next poll. It never blocks.
func (s *Service) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// update runs fn in a write transaction of the store.
func (s *Service) update(ctx context.Context, fn func(*store.Tx) error) error {
	return s.store.Update(ctx, fn)
}

// randomID returns 16 random bytes in hex: note ids and activity suffixes.
func randomID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("activitypub: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

func lower(s string) string { return strings.ToLower(s) }
