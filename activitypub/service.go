// Package activitypub is the federation core of nuttx-feed: local actors and
// their keys, the documents they serve (actor, notes, outbox, followers),
// the inbox (HTTP signature verification, Follow, Undo, Delete), publishing,
// and the persistent, retrying delivery queue.
//
// It owns the SQL of its tables (see migrations/0001_federation.sql) and is
// the only package that touches go-fed/activity and go-ap/httpsig. It knows
// nothing of echo or of the routes: server adapts HTTP to the methods here.
package activitypub

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configure a Service. DB and BaseURL are required.
type Options struct {
	// BaseURL is the public URL, the only source of ids and links.
	BaseURL string
	// DB is a migrated database (migrations.Apply).
	DB *sql.DB
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Client makes every outgoing request; nil means NewClient with
	// private networks refused.
	Client *http.Client
	// Version names this build in the User-Agent.
	Version string
	// FetchActor is the local username that signs our GET requests (key
	// and actor fetches; GoToSocial answers unsigned ones with 401).
	FetchActor string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Delivery tunes the delivery queue.
	Delivery DeliveryOptions
}

// Service is the federation core. Create it with New; it is safe for
// concurrent use. Delivery runs only inside RunDelivery.
type Service struct {
	urls       URLs
	db         *sql.DB
	log        *slog.Logger
	client     *http.Client
	userAgent  string
	fetchActor string
	now        func() time.Time
	delivery   DeliveryOptions
	wake       chan struct{}

	mu     sync.Mutex
	actors map[string]*Actor // by lower-case username
	keys   keyCache
}

// New returns a Service for o.
func New(o Options) (*Service, error) {
	if o.DB == nil {
		return nil, errors.New("activitypub: no database")
	}
	urls, err := NewURLs(o.BaseURL)
	if err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Client == nil {
		o.Client = NewClient(ClientOptions{})
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	return &Service{
		urls:       urls,
		db:         o.DB,
		log:        o.Logger,
		client:     o.Client,
		userAgent:  "nuttx-feed/" + o.Version + " (+" + urls.Base() + "/)",
		fetchActor: o.FetchActor,
		now:        o.Now,
		delivery:   o.Delivery.withDefaults(),
		wake:       make(chan struct{}, 1),
		actors:     map[string]*Actor{},
		keys:       keyCache{entries: map[string]*remoteKey{}},
	}, nil
}

// URLs returns the URL scheme of this service.
func (s *Service) URLs() URLs { return s.urls }

// UserAgent returns the User-Agent of outgoing requests.
func (s *Service) UserAgent() string { return s.userAgent }

// Kick wakes the delivery queue so that work committed a moment ago goes
// out now rather than at the next poll. It never blocks.
func (s *Service) Kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
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
