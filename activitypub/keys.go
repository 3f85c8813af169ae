package activitypub

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// Remote keys: fetched with a signed GET (GoToSocial refuses unsigned ones),
// accepted from a full actor or a key document, kept in memory and, once a
// request signed with them was accepted, in remote_actors (docs/FEDERATION.md, "HTTP signatures").

const (
	keyCacheTTL     = 24 * time.Hour // after this, a cached key is fetched again
	refetchInterval = time.Minute    // at most one forced refetch per key per minute
)

// remoteKey is a remote actor's public key and what we know of the actor.
type remoteKey struct {
	keyID       string
	owner       string // the actor id
	pem         string
	pub         *rsa.PublicKey
	inbox       string // "" until known (GoToSocial's key stub has none)
	sharedInbox string
	username    string // the owner's preferredUsername, "" until known
	profile     authorProfile
	fetchedAt   time.Time
}

// keyCache holds remote keys by key id, and when each was last refetched
// by force. Both are bounded; the database keeps accepted keys anyway.
type keyCache struct {
	entries *lru.Cache[string, *remoteKey]
	forced  *throttle
}

const keyCacheSize = 10000

func newKeyCache() *keyCache {
	entries, _ := lru.New[string, *remoteKey](keyCacheSize) // errors only for a size <= 0
	return &keyCache{entries: entries, forced: newThrottle(refetchInterval)}
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

// throttle allows one thing per key every interval, for the most recently
// seen keys.
type throttle struct {
	interval time.Duration
	mu       sync.Mutex // makes allow's check and record one step
	last     *lru.Cache[string, time.Time]
}

func newThrottle(interval time.Duration) *throttle {
	last, _ := lru.New[string, time.Time](keyCacheSize) // errors only for a size <= 0
	return &throttle{interval: interval, last: last}
}

// allow reports whether key's thing may happen now, and records it.
func (t *throttle) allow(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if last, ok := t.last.Get(key); ok && now.Sub(last) < t.interval {
		return false
	}
	t.last.Add(key, now)
	return true
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
	} else if !s.keys.forced.allow(keyID, now) {
		return nil, false, docErrorf("key %s was fetched again less than a minute ago", keyID)
	}
	if err := s.fetches.keyFailed(keyID, now); err != nil {
		if stale != nil && !isMissing(err) {
			return stale, false, nil
		}
		return nil, false, err
	}
	k, err = s.fetchKeyOnce(ctx, keyID)
	if err != nil {
		if stale != nil && !isMissing(err) {
			s.log.Warn("key refresh failed, using the cached key", "key_id", keyID, "err", err)
			return stale, false, nil
		}
		return nil, false, err
	}
	s.keys.put(k)
	return k, true, nil
}

// fetchKeyOnce fetches keyID, sharing one fetch among the requests that
// need it at once (a new key often signs several). The fetch runs on its
// own, free of any one request's cancellation: a sender that hangs up must
// not fail the others, nor leave its cancellation remembered as the key's
// failure. A failure of the fetch itself is remembered for failingFor.
func (s *Service) fetchKeyOnce(ctx context.Context, keyID string) (*remoteKey, error) {
	ch := s.keyFetches.DoChan(keyID, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*(fetchTimeout+fetchSlotWait))
		defer cancel()
		k, err := s.fetchKey(fctx, keyID)
		if err != nil && !errors.Is(err, errInternal) && !errors.Is(err, ErrUnavailable) && fctx.Err() == nil {
			s.fetches.rememberKeyFailure(keyID, err, s.now())
		}
		return k, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*remoteKey), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
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
		sharedInbox: r.SharedInbox, username: r.Username, fetchedAt: r.FetchedAt,
		profile: authorProfile{name: r.Name, avatar: r.Avatar, url: r.ProfileURL}}, nil
}

// fetchKey dereferences keyID (without its fragment) and returns the key,
// bound to where it came from (docs/FEDERATION.md, "HTTP signatures"):
//   - what answers is the key itself (its id is keyID: a key document) or an
//     actor whose publicKey has the id keyID (Mastodon's #main-key, and
//     GoToSocial's stub at /main-key, a minimal actor with the owner's id);
//   - its owner is on keyID's host, and fetches never leave that host;
//   - the owner's own actor document, fetched at the owner's id unless that
//     is what answered already, names keyID as its publicKey with the same
//     key. A key thus changes only through its owner's document.
func (s *Service) fetchKey(ctx context.Context, keyID string) (*remoteKey, error) {
	u, err := url.Parse(keyID)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, docErrorf("keyId %q is not an http(s) URL without user information", truncate(keyID, 80))
	}
	u.Fragment = ""
	docURL := u.String()
	doc, err := s.fetchDocument(ctx, docURL)
	if err != nil {
		return nil, err
	}
	pk, err := doc.key(keyID)
	if err != nil {
		return nil, err
	}
	owner := pk.Owner
	switch {
	case owner == "":
		return nil, docErrorf("key %s names no owner", keyID)
	case !sameHost(owner, keyID):
		return nil, docErrorf("key %s is owned by %s on another host", keyID, truncate(owner, 80))
	case doc.ID != owner && doc.ID != keyID:
		return nil, docErrorf("%s answered with the document %s, neither the key nor its owner", docURL, truncate(doc.ID, 80))
	}
	pub, err := parsePublicKey(pk.PublicKeyPem)
	if err != nil {
		return nil, docErrorf("key %s: %v", keyID, err)
	}
	actor := doc
	if doc.ID != owner || docURL != owner { // a key document or a stub: ask the owner
		if actor, err = s.ownerDocument(ctx, owner, keyID, pub); err != nil {
			return nil, err
		}
	}
	k := &remoteKey{keyID: keyID, owner: owner, pem: pk.PublicKeyPem, pub: pub, fetchedAt: s.now()}
	k.inbox, k.sharedInbox, k.username = actor.Inbox, actor.sharedInbox(), actor.username()
	k.profile = actor.profile()
	return k, nil
}

// ownerDocument fetches the actor owner, which must answer with its own id
// and name keyID as its publicKey, with the key material pub.
func (s *Service) ownerDocument(ctx context.Context, owner, keyID string, pub *rsa.PublicKey) (*remoteDocument, error) {
	doc, err := s.fetchDocument(ctx, owner)
	if err != nil {
		return nil, err
	}
	if doc.ID != owner {
		return nil, docErrorf("actor %s answered with the id %s", owner, truncate(doc.ID, 80))
	}
	named, err := doc.key(keyID)
	if err != nil {
		return nil, docErrorf("actor %s does not name the key %s", owner, keyID)
	}
	if own, err := parsePublicKey(named.PublicKeyPem); err != nil || !own.Equal(pub) {
		return nil, docErrorf("actor %s names the key %s with other key material", owner, keyID)
	}
	return doc, nil
}

// withInboxes returns a copy of k carrying the inboxes and profile of its
// owner, read from the actor, which must answer with its own id and name k.
// k itself is shared (cached) and never changes. Keys fetched since the
// owner binding carry their inboxes already (and since replies, their
// profile); this serves keys stored without them.
func (s *Service) withInboxes(ctx context.Context, k *remoteKey) (*remoteKey, error) {
	doc, err := s.ownerDocument(ctx, k.owner, k.keyID, k.pub)
	if err != nil {
		return nil, err
	}
	c := *k
	c.inbox, c.sharedInbox, c.username = doc.Inbox, doc.sharedInbox(), doc.username()
	c.profile = doc.profile()
	s.keys.put(&c)
	return &c, nil
}

// sameHost reports whether the URLs a and b have the same scheme and
// authority (host and port, the scheme's default when none is named).
func sameHost(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Host != "" && ua.User == nil && ub.User == nil &&
		ua.Scheme == ub.Scheme && authority(ua) == authority(ub)
}

// record returns k as the store keeps an accepted signer.
func (k *remoteKey) record() *store.RemoteActor {
	return &store.RemoteActor{IRI: k.owner, KeyID: k.keyID, PublicKeyPEM: k.pem, Inbox: k.inbox,
		SharedInbox: k.sharedInbox, Username: k.username, FetchedAt: k.fetchedAt,
		Name: k.profile.name, Avatar: k.profile.avatar, ProfileURL: k.profile.url}
}
