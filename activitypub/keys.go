package activitypub

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// Remote keys: fetched with a signed GET (GoToSocial refuses unsigned ones),
// accepted from a full actor or a key document, kept in memory and, once a
// request signed with them was accepted, in remote_actors (docs/FEDERATION.md, "HTTP signatures").

const (
	fetchTimeout    = 5 * time.Second // key and actor fetches run inline in the inbox
	maxFetchBody    = 1 << 20         // largest actor or key document we read
	keyCacheTTL     = 24 * time.Hour  // after this, a cached key is fetched again
	refetchInterval = time.Minute     // at most one forced refetch per key per minute
	acceptFetch     = `application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"`
)

// remoteKey is a remote actor's public key and what we know of the actor.
type remoteKey struct {
	keyID       string
	owner       string // the actor id
	pem         string
	pub         *rsa.PublicKey
	inbox       string // "" until known (GoToSocial's key stub has none)
	sharedInbox string
	fetchedAt   time.Time
}

// keyCache holds remote keys by key id, and when each was last refetched
// by force. Both are bounded; the database keeps accepted keys anyway.
type keyCache struct {
	entries    *lru.Cache[string, *remoteKey]
	forceMu    sync.Mutex // makes mayForce's check and record one step
	lastForced *lru.Cache[string, time.Time]
}

const keyCacheSize = 10000

func newKeyCache() *keyCache {
	entries, _ := lru.New[string, *remoteKey](keyCacheSize) // errors only for a size <= 0
	lastForced, _ := lru.New[string, time.Time](keyCacheSize)
	return &keyCache{entries: entries, lastForced: lastForced}
}

func (c *keyCache) get(keyID string) *remoteKey {
	k, _ := c.entries.Get(keyID)
	return k
}

func (c *keyCache) put(k *remoteKey) { c.entries.Add(k.keyID, k) }

// drop forgets every key of owner.
func (c *keyCache) drop(owner string) {
	for _, id := range c.entries.Keys() {
		if k, ok := c.entries.Peek(id); ok && k.owner == owner {
			c.entries.Remove(id)
		}
	}
}

// mayForce reports whether keyID may be fetched again now, and records it.
func (c *keyCache) mayForce(keyID string, now time.Time) bool {
	c.forceMu.Lock()
	defer c.forceMu.Unlock()
	if last, ok := c.lastForced.Get(keyID); ok && now.Sub(last) < refetchInterval {
		return false
	}
	c.lastForced.Add(keyID, now)
	return true
}

// statusError is a fetch answered with a non-200 status.
type statusError struct {
	URL    string
	Status int
}

func (e *statusError) Error() string { return fmt.Sprintf("GET %s: HTTP %d", e.URL, e.Status) }

// isGone reports whether err is a fetch answered 410 Gone.
func isGone(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.Status == http.StatusGone
}

// key returns the key keyID, from memory, then the database, then the
// network, and whether it was fetched just now. With force it skips the
// caches (after a failed verification), at most once a minute per key.
func (s *Service) key(ctx context.Context, keyID string, force bool) (k *remoteKey, fetched bool, err error) {
	now := s.now()
	var stale *remoteKey // a cached key past its TTL: better than nothing if the fetch fails
	if !force {
		if k := s.keys.get(keyID); k != nil {
			if now.Sub(k.fetchedAt) < keyCacheTTL {
				return k, false, nil
			}
			stale = k
		}
		if k, err := s.storedKey(ctx, keyID); err != nil {
			return nil, false, err
		} else if k != nil {
			if now.Sub(k.fetchedAt) < keyCacheTTL {
				s.keys.put(k)
				return k, false, nil
			}
			stale = k
		}
	} else if !s.keys.mayForce(keyID, now) {
		return nil, false, errors.New("key was refetched less than a minute ago")
	}
	if k, err = s.fetchKey(ctx, keyID); err != nil {
		if stale != nil && !isGone(err) {
			s.log.Warn("key refresh failed, using the cached key", "key_id", keyID, "err", err)
			return stale, false, nil
		}
		return nil, false, err
	}
	s.keys.put(k)
	return k, true, nil
}

// storedKey loads a key accepted before, or returns nil.
func (s *Service) storedKey(ctx context.Context, keyID string) (*remoteKey, error) {
	var r *store.RemoteActor
	err := s.store.View(ctx, func(tx *store.Tx) (err error) {
		r, err = tx.RemoteActorByKeyID(keyID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errInternal, err)
	}
	pub, err := parsePublicKey(r.PublicKeyPEM)
	if err != nil {
		return nil, nil // unusable: fetch it again
	}
	return &remoteKey{keyID: keyID, owner: r.IRI, pem: r.PublicKeyPEM, pub: pub, inbox: r.Inbox,
		sharedInbox: r.SharedInbox, fetchedAt: r.FetchedAt}, nil
}

// fetchKey dereferences keyID (without its fragment) and extracts the key:
// from an actor's publicKey (Mastodon, GoToSocial's stub at /main-key) or a
// key document (id, owner, publicKeyPem). The key's owner must be on the
// same host as the key id.
func (s *Service) fetchKey(ctx context.Context, keyID string) (*remoteKey, error) {
	u, err := url.Parse(keyID)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("keyId %q is not an http(s) URL", truncate(keyID, 80))
	}
	u.Fragment = ""
	doc, err := s.fetchDocument(ctx, u.String())
	if err != nil {
		return nil, err
	}
	pk, err := doc.key(keyID)
	if err != nil {
		return nil, err
	}
	if pk.Owner == "" {
		return nil, fmt.Errorf("key %s names no owner", keyID)
	}
	if !sameHost(pk.Owner, keyID) || !sameHost(doc.ID, keyID) {
		return nil, fmt.Errorf("key %s is owned by %s on another host", keyID, pk.Owner)
	}
	pub, err := parsePublicKey(pk.PublicKeyPem)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", keyID, err)
	}
	k := &remoteKey{keyID: keyID, owner: pk.Owner, pem: pk.PublicKeyPem, pub: pub, fetchedAt: s.now()}
	if doc.ID == pk.Owner { // an actor, or GoToSocial's stub of one (no inbox)
		k.setInboxes(doc)
	}
	return k, nil
}

// withInboxes returns a copy of k carrying the inboxes of its owner, read
// from the actor, which must answer with its own id. k itself is shared
// (cached) and never changes.
func (s *Service) withInboxes(ctx context.Context, k *remoteKey) (*remoteKey, error) {
	doc, err := s.fetchDocument(ctx, k.owner)
	if err != nil {
		return nil, err
	}
	if doc.ID != k.owner {
		return nil, fmt.Errorf("actor %s answered with id %s", k.owner, doc.ID)
	}
	c := *k
	if !c.setInboxes(doc) {
		return nil, fmt.Errorf("actor %s: %w", k.owner, checkIRI("inbox", doc.Inbox))
	}
	s.keys.put(&c)
	return &c, nil
}

// setInboxes takes the inboxes of actor document doc when its inbox is an
// http(s) IRI (a bad sharedInbox is dropped); it reports whether it did.
func (k *remoteKey) setInboxes(doc *remoteDocument) bool {
	if checkIRI("inbox", doc.Inbox) != nil {
		return false
	}
	k.inbox, k.sharedInbox = doc.Inbox, doc.sharedInbox()
	if k.sharedInbox != "" && checkIRI("sharedInbox", k.sharedInbox) != nil {
		k.sharedInbox = ""
	}
	return true
}

// fetchDocument GETs an ActivityPub document, signed by our fetch actor.
func (s *Service) fetchDocument(ctx context.Context, target string) (*remoteDocument, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", acceptFetch)
	req.Header.Set("User-Agent", s.userAgent)
	if s.fetchActor != "" {
		a, err := s.Actor(ctx, s.fetchActor)
		switch {
		case errors.Is(err, ErrNotFound): // no bot yet: an unsigned GET
		case err != nil:
			return nil, fmt.Errorf("%w: the fetch actor: %w", errInternal, err)
		default:
			sg, err := s.signerOf(ctx, a.ID)
			if err != nil {
				return nil, fmt.Errorf("%w: the fetch actor's key: %w", errInternal, err)
			}
			if err := signRequest(req, nil, sg.keyID, sg.key, s.now()); err != nil {
				return nil, err
			}
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
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
		return nil, fmt.Errorf("GET %s: Content-Type %q is not ActivityPub JSON", target, mediaType)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFetchBody+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", target, err)
	}
	if len(body) > maxFetchBody {
		return nil, fmt.Errorf("GET %s: document larger than %d bytes", target, maxFetchBody)
	}
	doc, err := decodeRemoteDocument(body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", target, err)
	}
	return doc, nil
}

func sameHost(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Host != "" && strings.EqualFold(ua.Host, ub.Host)
}

// record returns k as the store keeps an accepted signer.
func (k *remoteKey) record() *store.RemoteActor {
	return &store.RemoteActor{IRI: k.owner, KeyID: k.keyID, PublicKeyPEM: k.pem, Inbox: k.inbox,
		SharedInbox: k.sharedInbox, FetchedAt: k.fetchedAt}
}
