package activitypub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// MaxInboxBody is the largest inbox body accepted (Mastodon's limit too).
const MaxInboxBody = 1 << 20

// HandleInbox verifies and processes one POST to an inbox: username's
// personal inbox, or the shared inbox when username is "". It returns nil
// when the activity was accepted, including well-formed activities that we
// ignore; otherwise an error wrapping ErrNotFound (no such inbox),
// ErrUnsupportedMediaType, ErrTooLarge, ErrInvalid (malformed JSON or
// missing fields), ErrUnauthorized (signature) or ErrUnavailable. Nothing is
// stored for a rejected request.
func (s *Service) HandleInbox(ctx context.Context, username string, req InboundRequest) error {
	if username != "" {
		if _, err := s.Actor(ctx, username); err != nil {
			return err
		}
	}
	if err := checkInboxContentType(req.Header.Get("Content-Type")); err != nil {
		return err
	}
	if len(req.Body) > MaxInboxBody {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(req.Body), MaxInboxBody)
	}
	act, err := decodeActivity(req.Body)
	if err != nil {
		return err
	}
	log := s.log.With("activity", act.ID, "type", act.Type, "actor", act.Actor)

	// A Delete of an actor we never knew: its key is most likely gone, and
	// fetching it would only cost us and them (docs/FEDERATION.md, "Incoming activities").
	if act.Type == "Delete" && act.Object.ID == act.Actor {
		known, err := s.knownRemoteActor(ctx, act.Actor)
		if err != nil {
			return err
		}
		if !known {
			log.Debug("ignored Delete of an unknown actor")
			return nil
		}
	}

	signer, err := s.verifyInbound(ctx, req)
	if err != nil {
		if act.Type == "Delete" && act.Object.ID == act.Actor && isGone(err) {
			log.Info("actor deleted (its key is gone)")
			return s.removeActorEverywhere(ctx, act.Actor)
		}
		if errors.Is(err, errInternal) { // our database, not their signature
			return err
		}
		log.Info("inbox: signature rejected", "err", err)
		// The cause is shown, not wrapped: this error is of one kind only.
		return fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	if signer.owner != act.Actor {
		return fmt.Errorf("%w: signed by %s but the activity's actor is %s", ErrUnauthorized, signer.owner, act.Actor)
	}

	switch act.Type {
	case "Follow":
		return s.handleFollow(ctx, act, signer, log)
	case "Undo":
		return s.handleUndo(ctx, act, signer)
	case "Delete":
		if act.Object.ID == act.Actor {
			log.Info("actor deleted")
			return s.removeActorEverywhere(ctx, act.Actor)
		}
		log.Debug("ignored Delete of an object")
		return nil
	default:
		log.Debug("ignored activity")
		return nil
	}
}

// checkInboxContentType accepts the JSON types peers send (docs/FEDERATION.md, "Media types and content negotiation") and
// a missing Content-Type.
func checkInboxContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mediaType, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrUnsupportedMediaType, ct)
	}
	switch mediaType {
	case "application/activity+json", "application/ld+json", "application/json":
		return nil
	}
	return fmt.Errorf("%w: %s (send application/activity+json)", ErrUnsupportedMediaType, mediaType)
}

// verifyInbound checks the request's signature and returns the signer's key.
// A failure with a cached key is retried once with a freshly fetched key
// (the peer may have rotated it).
func (s *Service) verifyInbound(ctx context.Context, req InboundRequest) (*remoteKey, error) {
	p, candidates, err := precheckSignature(req, s.site.Host(), s.now())
	if err != nil {
		return nil, err
	}
	k, fetched, err := s.key(ctx, p.KeyID, false)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", p.KeyID, err)
	}
	if err := verifyCandidates(k.pub, candidates, p.Signature); err == nil {
		return k, nil
	} else if fetched {
		return nil, fmt.Errorf("signature does not verify with key %s", p.KeyID)
	}
	if k, _, err = s.key(ctx, p.KeyID, true); err != nil {
		return nil, fmt.Errorf("signature does not verify with the cached key %s, and refetching it failed: %w", p.KeyID, err)
	}
	if err := verifyCandidates(k.pub, candidates, p.Signature); err != nil {
		return nil, fmt.Errorf("signature does not verify with key %s", p.KeyID)
	}
	return k, nil
}

// knownRemoteActor reports whether iri follows anyone here or signed an
// accepted request before.
func (s *Service) knownRemoteActor(ctx context.Context, iri string) (known bool, err error) {
	err = s.store.View(ctx, func(tx *store.Tx) error {
		known, err = tx.IsKnownRemote(iri)
		return err
	})
	return known, err
}

// handleFollow stores the follower and queues an Accept embedding their
// Follow to their personal inbox, in one transaction (docs/FEDERATION.md, "Incoming activities").
func (s *Service) handleFollow(ctx context.Context, act *activity, signer *remoteKey, log *slog.Logger) error {
	username, ok := s.site.ParseLocalActor(act.Object.ID)
	if !ok {
		log.Debug("ignored Follow of a non-local object", "object", act.Object.ID)
		return nil
	}
	a, err := s.Actor(ctx, username)
	if errors.Is(err, ErrNotFound) {
		log.Debug("ignored Follow of an unknown actor", "object", act.Object.ID)
		return nil
	}
	if err != nil {
		return err
	}
	if !sameHost(act.ID, act.Actor) {
		return fmt.Errorf("%w: Follow id %s is not on the actor's host", ErrInvalid, act.ID)
	}
	if signer.inbox == "" {
		if signer, err = s.withInboxes(ctx, signer); err != nil {
			// Shown, not wrapped: the kind (503, retry later) must stay one.
			return fmt.Errorf("%w: cannot read the follower's actor: %v", ErrUnavailable, err)
		}
	}
	err = s.update(ctx, func(tx *store.Tx) error {
		if err := tx.SaveRemoteActor(signer.record()); err != nil {
			return err
		}
		f := store.Follower{ActorID: a.ID, IRI: act.Actor, Inbox: signer.inbox, SharedInbox: signer.sharedInbox, FollowID: act.ID}
		if err := tx.SaveFollower(f); err != nil {
			return err
		}
		acceptID := s.site.Actor(a.Username) + "#accepts/follows/" + randomID()
		body := marshal(acceptDocument(s.site, a.Username, acceptID, followRef{ID: act.ID, Actor: act.Actor, Object: s.site.Actor(a.Username)}))
		accept := &store.Activity{IRI: acceptID, ActorID: a.ID, Type: "Accept", Body: body}
		if err := tx.InsertActivity(accept); err != nil {
			return err
		}
		tx.AfterCommit(s.kick)
		return tx.QueueDelivery(accept.ID, signer.inbox, act.Actor)
	})
	if err != nil {
		return err
	}
	log.Info("new follower", "username", a.Username, "inbox", signer.inbox, "shared_inbox", signer.sharedInbox)
	return nil
}

// handleUndo removes a follower on Undo{Follow}, matching the embedded
// Follow's object, or the stored Follow id when the object is an IRI
// (docs/FEDERATION.md, "Incoming activities"). Undo of anything else is accepted and ignored.
func (s *Service) handleUndo(ctx context.Context, act *activity, signer *remoteKey) error {
	o := act.Object
	if o.Type != "" && o.Type != "Follow" {
		return nil
	}
	if o.Actor != "" && o.Actor != act.Actor {
		return fmt.Errorf("%w: Undo by %s of a Follow by %s", ErrUnauthorized, act.Actor, o.Actor)
	}
	// The Follow is found by its object, a local actor (Misskey's Undo
	// embeds a Follow with another id than the one it sent), else by id.
	var followed *store.Actor
	username, local := s.site.ParseLocalActor(o.Object)
	if local {
		a, err := s.Actor(ctx, username)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		followed = a
	}
	var removed int
	err := s.update(ctx, func(tx *store.Tx) error {
		var err error
		switch {
		case followed != nil:
			removed, err = tx.RemoveFollower(followed.ID, act.Actor)
		case !local && o.ID != "":
			removed, err = tx.RemoveFollowByID(o.ID, act.Actor)
		}
		if err != nil {
			return err
		}
		return tx.SaveRemoteActor(signer.record())
	})
	if err != nil {
		return err
	}
	s.log.Info("unfollowed", "follower", act.Actor, "removed", removed)
	return nil
}

// removeActorEverywhere forgets a deleted remote actor: its follows, its
// pending personal deliveries and its cached key.
func (s *Service) removeActorEverywhere(ctx context.Context, iri string) error {
	err := s.update(ctx, func(tx *store.Tx) error {
		if _, err := tx.RemoveFollowerEverywhere(iri); err != nil {
			return err
		}
		return tx.DeleteRemoteActor(iri)
	})
	if err != nil {
		return err
	}
	s.keys.drop(iri)
	return nil
}
