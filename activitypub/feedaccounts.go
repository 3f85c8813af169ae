package activitypub

// The feed's accounts (docs/FEDERATION.md, "Accounts for boards, targets
// and architectures"): one per board, target and architecture the catalog
// knows. Reading one creates nothing: until it is needed, an account is a
// template, an actor with ID 0 and no key made from the catalog and the
// firehose. A Follow or a fetch of its actor document (which carries its
// public key) makes its row and key, once.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// keyGenerations bounds the RSA keys generated at once, server-wide: a
// crawler fetching the documents of 2,000 new accounts costs one core.
// A caller waits at most keySlotWait for its turn, then is told to come
// back later (ErrUnavailable: 503), rather than queue without end.
const (
	keyGenerations = 1
	keySlotWait    = 10 * time.Second
)

// feedActor reads the actor username in tx: its row, or the template of a
// feed account without one. A feed account shows its profile text as
// s.feedProfile writes it now (so a changed setting shows at once), and
// the firehose's visibility and images (the store reads those). It returns
// an error wrapping ErrNotFound for any other name.
func (s *Service) feedActor(tx *store.Tx, username string) (*store.Actor, error) {
	a, err := tx.Actor(username)
	switch {
	case err == nil && (s.feedProfile == nil || !store.IsFeedKind(a.Kind)):
		return a, nil
	case err != nil && (s.feedProfile == nil || !errors.Is(err, store.ErrNotFound)):
		return nil, err
	}
	fa, ferr := tx.FeedAccountNamed(username)
	switch {
	case ferr == nil:
	case a != nil && errors.Is(ferr, store.ErrNotFound): // a row the catalog no longer names keeps its text
		return a, nil
	default:
		return nil, ferr
	}
	if a == nil {
		if a, err = s.template(tx, fa); err != nil {
			return nil, err
		}
	}
	p := s.feedProfile(*fa)
	a.DisplayName, a.Summary, a.Fields = p.DisplayName, p.Summary, nonNilFields(p.Fields)
	return a, nil
}

// template is the actor of the feed account fa before it exists: ID 0, no
// key, the firehose's visibility, images and creation time (none of them
// without a firehose).
func (s *Service) template(tx *store.Tx, fa *store.FeedAccount) (*store.Actor, error) {
	a := &store.Actor{Username: fa.Username, Kind: fa.Kind, Visibility: store.Public}
	firehose, err := tx.Firehose()
	switch {
	case err == nil:
		a.Visibility, a.Avatar, a.Header, a.CreatedAt = firehose.Visibility, firehose.Avatar, firehose.Header, firehose.CreatedAt
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	return a, nil
}

// nonNilFields is fields, or an empty list for nil (a document lists none).
func nonNilFields(fields []store.Field) []store.Field {
	if fields == nil {
		return []store.Field{}
	}
	return fields
}

// MaterializeActor returns the actor username with its row, creating the
// row and its RSA-2048 key when username is a feed account that has none
// yet. Concurrent calls for one name make one key, and keys are made one
// at a time server-wide. Any other unknown name is an error wrapping
// ErrNotFound, and creates nothing. Call it only where a key is needed: the
// actor document (it carries the public key) and a Follow (the Accept is
// signed).
//
// The work runs on its own, bounded by materializeTimeout, so that the
// caller who started it going away fails no one else waiting for it; each
// caller waits until its own ctx ends.
func (s *Service) MaterializeActor(ctx context.Context, username string) (*store.Actor, error) {
	name := lower(username)
	done := s.materializing.DoChan(name, func() (any, error) {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), materializeTimeout)
		defer cancel()
		return s.materialize(wctx, name)
	})
	select {
	case r := <-done:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*store.Actor), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for the account %s: %w", ErrUnavailable, name, ctx.Err())
	}
}

// materializeTimeout bounds the making of one account: the wait for a key
// slot, the key, the row.
const materializeTimeout = keySlotWait + 20*time.Second

// materialize is MaterializeActor for one caller at a time per name.
func (s *Service) materialize(ctx context.Context, name string) (*store.Actor, error) {
	var a *store.Actor
	err := s.store.View(ctx, func(tx *store.Tx) (err error) {
		a, err = s.feedActor(tx, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	if a.ID != 0 {
		return s.Actor(ctx, name)
	}
	priv, pub, err := s.generateKey(ctx)
	if err != nil {
		return nil, err
	}
	row := &store.Actor{Username: a.Username, Kind: a.Kind, DisplayName: a.DisplayName, Summary: a.Summary, Fields: a.Fields,
		Visibility: store.Public, PrivateKeyPEM: priv, PublicKeyPEM: pub}
	var created bool
	err = s.update(ctx, func(tx *store.Tx) (err error) {
		created, err = tx.CreateActor(row) // another process may have made it: its key wins
		return err
	})
	if err != nil {
		return nil, err
	}
	s.actors.forget(name)
	if created {
		s.log.Info("created feed account", "username", a.Username, "kind", a.Kind)
	}
	return s.Actor(ctx, name)
}

// generateKey makes an RSA-2048 key pair as PEM (PKCS#8 and PKIX), waiting
// for its turn among keyGenerations (at most keySlotWait, or until ctx
// ends: ErrUnavailable).
func (s *Service) generateKey(ctx context.Context) (privatePEM, publicPEM string, err error) {
	wait := time.NewTimer(keySlotWait)
	defer wait.Stop()
	select {
	case s.keySlots <- struct{}{}:
		defer func() { <-s.keySlots }()
	case <-ctx.Done():
		return "", "", fmt.Errorf("%w: waiting to make a key: %w", ErrUnavailable, ctx.Err())
	case <-wait.C:
		return "", "", fmt.Errorf("%w: too many new accounts at once; try again in a minute", ErrUnavailable)
	}
	s.keysMade.Add(1)
	return newKeyPair()
}

// announceFeedImages queues, in tx, an Update of each feed account that has
// followers when a, whose images changed, is the firehose: their documents
// show its images. It returns how many deliveries it queued. Visibility
// needs none: it is read from the firehose when a note is published.
func (s *Service) announceFeedImages(tx *store.Tx, a *store.Actor) (int, error) {
	firehose, err := tx.Firehose()
	if errors.Is(err, store.ErrNotFound) || err == nil && firehose.ID != a.ID {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	followed, err := tx.FollowedFeedAccounts()
	if err != nil {
		return 0, err
	}
	queued := 0
	for name := range followed {
		fa, err := s.feedActor(tx, name)
		if err != nil {
			return queued, err
		}
		n, err := s.announceProfile(tx, fa)
		if err != nil {
			return queued, err
		}
		queued += n
	}
	return queued, nil
}
