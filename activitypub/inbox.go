package activitypub

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"time"
)

// MaxInboxBody is the largest inbox body accepted (Mastodon's limit too).
const MaxInboxBody = 1 << 20

// ErrUnavailable: the request is fine but cannot be processed now (a peer
// we must ask is unreachable); the sender should retry (503).
var ErrUnavailable = errors.New("temporarily unavailable")

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
	// fetching it would only cost us and them (INTEROP F6).
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
		log.Info("inbox: signature rejected", "err", err)
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

// checkInboxContentType accepts the JSON types peers send (INTEROP C3) and
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
	p, candidates, err := precheckSignature(req, s.urls.Host(), s.now())
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
func (s *Service) knownRemoteActor(ctx context.Context, iri string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM followers WHERE follower = ?) + (SELECT COUNT(*) FROM remote_actors WHERE iri = ?)`,
		iri, iri).Scan(&n)
	return n > 0, err
}

// handleFollow stores the follower and queues an Accept embedding their
// Follow to their personal inbox, in one transaction (INTEROP F1, F2).
func (s *Service) handleFollow(ctx context.Context, act *activity, signer *remoteKey, log *slog.Logger) error {
	username, ok := s.urls.ParseLocalActor(act.Object.ID)
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
		if err := s.fetchActorInboxes(ctx, signer); err != nil {
			return fmt.Errorf("%w: cannot read the follower's actor: %v", ErrUnavailable, err)
		}
	}
	now := s.now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := saveRemoteActor(ctx, tx, signer); err != nil {
		return err
	}
	if err := saveFollower(ctx, tx, a.ID, Follower{IRI: act.Actor, Inbox: signer.inbox, SharedInbox: signer.sharedInbox, FollowID: act.ID}, now); err != nil {
		return err
	}
	acceptID := s.urls.Actor(a.Username) + "#accepts/follows/" + randomID()
	body := marshal(acceptDocument(s.urls, a.Username, acceptID, followRef{ID: act.ID, Actor: act.Actor, Object: s.urls.Actor(a.Username)}))
	activityID, err := insertActivity(ctx, tx, acceptID, a.ID, "Accept", 0, body, now)
	if err != nil {
		return err
	}
	if err := queueDelivery(ctx, tx, activityID, signer.inbox, act.Actor, now); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	log.Info("new follower", "username", a.Username, "inbox", signer.inbox, "shared_inbox", signer.sharedInbox)
	s.Kick()
	return nil
}

// handleUndo removes a follower on Undo{Follow}, matching the embedded
// Follow's object, or the stored Follow id when the object is an IRI
// (INTEROP F4). Undo of anything else is accepted and ignored.
func (s *Service) handleUndo(ctx context.Context, act *activity, signer *remoteKey) error {
	o := act.Object
	if o.Type != "" && o.Type != "Follow" {
		return nil
	}
	if o.Actor != "" && o.Actor != act.Actor {
		return fmt.Errorf("%w: Undo by %s of a Follow by %s", ErrUnauthorized, act.Actor, o.Actor)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var removed int64
	if username, ok := s.urls.ParseLocalActor(o.Object); ok {
		removed, err = removeFollower(ctx, tx, s.now(), `actor_id = (SELECT id FROM actors WHERE username = ?) AND follower = ?`, username, act.Actor)
	} else if o.ID != "" {
		removed, err = removeFollower(ctx, tx, s.now(), `follow_id = ? AND follower = ?`, o.ID, act.Actor)
	}
	if err != nil {
		return err
	}
	if err := saveRemoteActor(ctx, tx, signer); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.log.Info("unfollowed", "follower", act.Actor, "removed", removed)
	return nil
}

// removeActorEverywhere forgets a deleted remote actor: its follows, its
// pending personal deliveries and its cached key.
func (s *Service) removeActorEverywhere(ctx context.Context, iri string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := removeFollower(ctx, tx, s.now(), `follower = ?`, iri); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM remote_actors WHERE iri = ?`, iri); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.keys.drop(iri)
	return nil
}

// removeFollower deletes the followers rows matching where (a condition on
// the followers table) and cancels queued deliveries of that actor to their
// personal inboxes, which no longer want them.
func removeFollower(ctx context.Context, tx *sql.Tx, now time.Time, where string, args ...any) (int64, error) {
	rows, err := tx.QueryContext(ctx, `DELETE FROM followers WHERE `+where+` RETURNING follower, actor_id`, args...)
	if err != nil {
		return 0, fmt.Errorf("remove follower: %w", err)
	}
	type gone struct {
		follower string
		actorID  int64
	}
	var removed []gone
	for rows.Next() {
		var g gone
		if err := rows.Scan(&g.follower, &g.actorID); err != nil {
			rows.Close()
			return 0, err
		}
		removed = append(removed, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, g := range removed {
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET state = 'failed', last_error = 'follower removed', finished_at = ?
			WHERE follower = ? AND state = 'pending' AND claimed = 0
			AND activity_id IN (SELECT id FROM activities WHERE actor_id = ?)`, now.UnixMilli(), g.follower, g.actorID); err != nil {
			return 0, err
		}
	}
	return int64(len(removed)), nil
}
