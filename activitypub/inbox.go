package activitypub

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/url"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// MaxInboxBody is the largest inbox body accepted (Mastodon's limit too).
const MaxInboxBody = 1 << 20

// HandleInbox verifies and processes one POST to an inbox: username's
// personal inbox, or the shared inbox when username is "". It returns nil
// when the activity was accepted, including well-formed activities that we
// ignore; otherwise an error wrapping ErrNotFound (no such inbox),
// ErrUnsupportedMediaType, ErrTooLarge, ErrInvalid (malformed JSON or
// missing fields), ErrUnauthorized (signature), ErrTooManyRequests (the
// sender's server is over its rate) or ErrUnavailable (we cannot check it
// now); the last two carry a RetryAfter. Nothing is stored for a rejected
// request.
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
	actorDeleted := act.Type == "Delete" && act.Object.ID == act.Actor

	// A Delete of an actor we never knew: its key is most likely gone, and
	// fetching it would only cost us and them. It costs no rate either: a
	// large server deleting accounts sends many (docs/FEDERATION.md, "Incoming activities").
	if actorDeleted {
		known, err := s.knownRemoteActor(ctx, act.Actor)
		if err != nil {
			return err
		}
		if !known {
			if err := s.refuseBlocked(ctx, act.Actor); err != nil { // a blocked server gets 401, whatever it sends
				return s.rejected(ctx, err, log)
			}
			log.Debug("ignored Delete of an unknown actor")
			return nil
		}
	}

	p, candidates, err := precheckSignature(req, s.site.Host(), s.now())
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	// Before anything is verified, the request counts against the client
	// that sent it; a server is charged only for what it verifiably sent
	// (below), so that nobody can spend another server's allowance.
	ctx = withClient(ctx, req.ClientAddr)
	if client := clientOf(ctx); client != "" {
		if wait, ok := s.inboxRate.allow("client "+client, s.now()); !ok {
			log.Debug("inbox: over the rate of its client", "client", client)
			return retryLater(ErrTooManyRequests, wait, "%s sends more than we take; slow down", client)
		}
	}
	// A blocked server gets 401 before anything is fetched or stored.
	if err := s.refuseBlocked(ctx, p.KeyID); err != nil {
		return s.rejected(ctx, err, log)
	}
	if actorDeleted {
		return s.handleActorDelete(ctx, act, p, candidates, log)
	}

	signer, err := s.verifyInbound(ctx, p, candidates)
	if err != nil {
		return s.rejected(ctx, err, log)
	}
	// The signer must be the actor, except for a reply forwarded by
	// another server, which is taken from its origin only (replies.go).
	forwarded := signer.owner != act.Actor
	if forwarded {
		if ok, err := s.forwardable(ctx, act); err != nil || !ok {
			return cmp.Or(err, fmt.Errorf("%w: signed by %s but the activity's actor is %s", ErrUnauthorized, signer.owner, act.Actor))
		}
	}
	domain := urls.DomainOf(signer.owner) // a forwarder pays for what it forwards
	if wait, ok := s.inboxRate.allow("server "+domain, s.now()); !ok {
		log.Debug("inbox: over the rate of its server", "domain", domain)
		return retryLater(ErrTooManyRequests, wait, "%s sends more than we take; slow down", domain)
	}
	// A server that signs requests to us is up: deliveries held by its
	// breaker go out again (free when none are held).
	if err := s.reviveHost(ctx, domain); err != nil {
		log.Warn("inbox: cannot release the deliveries held for the sender's server", "err", err)
	}

	if forwarded {
		return s.handleForwarded(ctx, act, signer.owner, log)
	}
	switch act.Type {
	case "Follow":
		return s.handleFollow(ctx, act, signer, log)
	case "Undo":
		return s.handleUndo(ctx, act, signer)
	case "Create":
		return s.handleCreate(ctx, act, signer, log)
	case "Update":
		return s.handleUpdate(ctx, act, signer, log)
	case "Delete":
		return s.handleDelete(ctx, act, log)
	default:
		log.Debug("ignored activity")
		return nil
	}
}

// rejected turns a failed verification into the sender's answer: 401 with
// what it must fix, 503 when we could not check (our database, or no
// fetch slot, or the request itself ended); the details go to the log.
func (s *Service) rejected(ctx context.Context, err error, log *slog.Logger) error {
	if ctx.Err() != nil { // the sender hung up: not worth more than a debug line
		log.Debug("inbox: the request ended while its key was fetched", "err", err)
		return fmt.Errorf("%w: the request ended before its key was fetched", ErrUnavailable)
	}
	if errors.Is(err, errInternal) || errors.Is(err, ErrUnavailable) {
		log.Info("inbox: cannot check the signature now", "err", err)
		return err
	}
	log.Info("inbox: signature rejected", "err", err)
	var ke *keyError
	if errors.As(err, &ke) {
		return fmt.Errorf("%w: key %s: %s", ErrUnauthorized, ke.keyID, shownError(ke.err))
	}
	return fmt.Errorf("%w: %s", ErrUnauthorized, shownError(err))
}

// handleActorDelete honours a Delete of an actor only when it is proven
// (docs/FEDERATION.md, "Incoming activities"): signed with the key we hold
// for that actor, or the actor's own id answers 404 or 410 to our signed
// GET. A key the sender names is never fetched for it: anyone can make a
// URL answer 410. Every other Delete is acknowledged and changes nothing.
func (s *Service) handleActorDelete(ctx context.Context, act *activity, p *signatureParams, candidates [][]byte, log *slog.Logger) error {
	var stored *store.RemoteActor
	err := s.store.View(ctx, func(tx *store.Tx) (err error) {
		stored, err = tx.RemoteActor(act.Actor)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	how := ""
	if stored != nil && stored.KeyID == p.KeyID {
		if pub, err := parsePublicKey(stored.PublicKeyPEM); err == nil && verifyCandidates(pub, candidates, p.Signature) == nil {
			how = "signed with its stored key"
		}
	}
	if how == "" {
		// One GET per actor a minute at most, however many Deletes claim it.
		if !s.deleteChecks.allow(act.Actor, s.now()) {
			log.Info("ignored Delete of an actor: checked less than a minute ago")
			return nil
		}
		_, err := s.fetchDocument(ctx, act.Actor)
		switch {
		case isMissing(err):
			how = "its id answers " + shownError(err)
		case errors.Is(err, errInternal):
			return err
		default:
			log.Info("ignored Delete of an actor: not signed with its stored key, and its id still answers", "err", err)
			return nil
		}
	}
	log.Info("actor deleted", "proof", how)
	return s.removeActorEverywhere(ctx, act.Actor)
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

// keyError is a failure to obtain the key keyID.
type keyError struct {
	keyID string
	err   error
}

func (e *keyError) Error() string { return "key " + e.keyID + ": " + e.err.Error() }
func (e *keyError) Unwrap() error { return e.err }

// verifyInbound checks a prechecked signature and returns the signer's key.
// A failure with a cached key is retried once with a freshly fetched key
// (the peer may have rotated it).
func (s *Service) verifyInbound(ctx context.Context, p *signatureParams, candidates [][]byte) (*remoteKey, error) {
	k, fetched, err := s.key(ctx, p.KeyID, false)
	if err != nil {
		return nil, &keyError{p.KeyID, err}
	}
	if err := verifyCandidates(k.pub, candidates, p.Signature); err == nil {
		return k, nil
	} else if fetched {
		return nil, docErrorf("signature does not verify with key %s", p.KeyID)
	}
	if k, _, err = s.key(ctx, p.KeyID, true); err != nil {
		return nil, &keyError{p.KeyID, fmt.Errorf("the signature does not verify with the key we hold, and fetching it again failed: %w", err)}
	}
	if err := verifyCandidates(k.pub, candidates, p.Signature); err != nil {
		return nil, docErrorf("signature does not verify with key %s", p.KeyID)
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

// acceptResendAfter is how long a replayed Follow waits for a new Accept:
// its server may have lost the first one, but a replay must not make us
// send Accepts over and over.
const acceptResendAfter = time.Hour

// handleFollow stores the follower and queues an Accept embedding their
// Follow to their personal inbox, in one transaction (docs/FEDERATION.md,
// "Incoming activities"). A Follow whose inboxes break the rules
// (checkInboxes) is acknowledged and stores nothing. A repetition of the
// follow in force (the follower's stored Follow id) changes nothing, except
// that it gets its Accept again when none was queued or delivered in the
// last hour. Ids alone cannot tell a repetition from a new request: Misskey
// reuses them for every follow cycle (docs/FEDERATION.md, "Incoming
// activities").
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
			if errors.Is(err, errInternal) {
				return err
			}
			// Shown, not wrapped: the kind (503, retry later) must stay one.
			return fmt.Errorf("%w: cannot read the follower's actor: %s", ErrUnavailable, shownError(err))
		}
	}
	if err := s.checkInboxes(act.Actor, signer.inbox, signer.sharedInbox); err != nil {
		log.Info("ignored Follow: its inboxes break the rules", "err", err)
		return nil
	}
	if a.ID == 0 { // a feed account's first follower: its Accept needs the account's key
		if a, err = s.MaterializeActor(ctx, username); err != nil {
			return err
		}
	}
	var outcome string
	err = s.update(ctx, func(tx *store.Tx) error {
		f, err := tx.Follower(a.ID, act.Actor)
		switch {
		case err == nil && f.FollowID == act.ID: // a repetition of the follow in force
			sent, err := tx.AcceptSentSince(a.ID, act.Actor, tx.Now.Add(-acceptResendAfter))
			if err != nil || sent {
				outcome = "repeated Follow: its Accept went out lately"
				return err
			}
			outcome = "repeated Follow: Accept sent again"
			return s.queueAccept(tx, a, act, f.Inbox)
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
		if err := tx.SaveRemoteActor(signer.record()); err != nil {
			return err
		}
		follow := store.Follower{ActorID: a.ID, IRI: act.Actor, Inbox: signer.inbox, SharedInbox: signer.sharedInbox, FollowID: act.ID}
		if err := tx.SaveFollower(follow); err != nil {
			return err
		}
		outcome = "new follower"
		return s.queueAccept(tx, a, act, signer.inbox)
	})
	if err != nil {
		return err
	}
	log.Info(outcome, "username", a.Username, "inbox", signer.inbox, "shared_inbox", signer.sharedInbox)
	return nil
}

// queueAccept queues an Accept of act from a to inbox, the follower's
// personal inbox, and wakes delivery once the transaction commits.
func (s *Service) queueAccept(tx *store.Tx, a *store.Actor, act *activity, inbox string) error {
	f := followRef{ID: act.ID, Actor: act.Actor, Object: s.site.Actor(a.Username)}
	return s.queueAnswer(tx, a, "Accept", f, inbox, act.Actor)
}

// checkInboxes applies the rules for a follower's inboxes (docs/FEDERATION.md,
// "Incoming activities"): an inbox is required, and it and the shared inbox
// (if any) are https URLs (http only when private networks are allowed) on
// the actor's own host, so that nobody can make us post to a third party.
func (s *Service) checkInboxes(actor, inbox, sharedInbox string) error {
	if inbox == "" {
		return errors.New("the actor has no inbox")
	}
	au, err := url.Parse(actor)
	if err != nil {
		return err
	}
	for _, in := range []struct{ name, url string }{{"inbox", inbox}, {"sharedInbox", sharedInbox}} {
		if in.url == "" {
			continue
		}
		u, err := url.Parse(in.url)
		switch {
		case err != nil || u.Host == "" || u.User != nil || u.Opaque != "":
			return fmt.Errorf("%s %q is not a usable URL", in.name, truncate(in.url, 80))
		case u.Scheme != "https" && !(u.Scheme == "http" && s.httpInbox):
			return fmt.Errorf("%s %q is not https", in.name, truncate(in.url, 80))
		case authority(u) != authority(au):
			return fmt.Errorf("%s %q is not on the actor's host %s", in.name, truncate(in.url, 80), au.Host)
		}
	}
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
	// A feed account not created yet (ID 0) has no follower to remove.
	var followed *store.Actor
	username, local := s.site.ParseLocalActor(o.Object)
	if local {
		a, err := s.Actor(ctx, username)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		followed = a
	}
	signed := s.signerRecord(act.Actor, signer)
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
		return tx.SaveRemoteActor(signed)
	})
	if err != nil {
		return err
	}
	s.log.Info("unfollowed", "follower", act.Actor, "removed", removed)
	return nil
}

// removeActorEverywhere forgets a deleted remote actor: its follows, its
// pending personal deliveries, its replies and its cached key.
func (s *Service) removeActorEverywhere(ctx context.Context, iri string) error {
	err := s.update(ctx, func(tx *store.Tx) error {
		if _, err := tx.RemoveFollowerEverywhere(iri); err != nil {
			return err
		}
		if _, err := tx.DeleteRemoteRepliesBy(iri); err != nil {
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
