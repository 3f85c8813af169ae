package activitypub

// What the operator does to the bot's audience and posts
// (docs/FEDERATION.md, "Removed followers" and "Deleted notes"): remove a
// follower, with a Reject of their Follow, and delete a note, with a
// Delete of it to every follower's server. Both store what goes out and
// queue it in one transaction, as Publish does, so a running server (or
// the next one to start) sends it.

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-fed/activity/streams"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// Handle returns the handle @username@host of the remote actor iri, or ""
// when its username is not known.
func Handle(iri, username string) string {
	u, err := url.Parse(iri)
	if err != nil || username == "" || u.Host == "" {
		return ""
	}
	return "@" + username + "@" + u.Host
}

// queueAnswer queues an Accept or a Reject (typ) of the Follow f from a to
// inbox, and wakes delivery once the transaction commits. follower names
// the follower whose personal inbox it is, or is "" for one no longer
// following.
func (s *Service) queueAnswer(tx *store.Tx, a *store.Actor, typ string, f followRef, inbox, follower string) error {
	doc, path := acceptDocument, "#accepts/follows/"
	if typ == "Reject" {
		doc, path = rejectDocument, "#rejects/follows/"
	}
	id := s.site.Actor(a.Username) + path + randomID()
	answer := &store.Activity{IRI: id, ActorID: a.ID, Type: typ, Body: marshal(doc(s.site, a.Username, id, f))}
	if err := tx.InsertActivity(answer); err != nil {
		return err
	}
	tx.AfterCommit(s.kick)
	return tx.QueueDelivery(answer.ID, inbox, follower)
}

// Removal is what RemoveFollower did.
type Removal struct {
	Actor  string // the follower's actor id
	Handle string // @user@host, "" when not known
	// Accounts are the local actors it followed (a bot, feed accounts),
	// each of which sent a Reject.
	Accounts []string
	// Inboxes are where a Reject went: the follower's personal inbox,
	// once per local actor they followed.
	Inboxes []string
	// Cancelled counts the deliveries given up: queued to inboxes that no
	// other follower uses.
	Cancelled int
}

// RemoveFollower removes the follower ref (an actor id, or a handle
// @user@host of a follower whose username we know) from every local
// actor it follows: a Reject of its Follow (the id as received) goes to
// its personal inbox, and what was queued to its inboxes is given up
// unless another follower uses them. Errors wrap ErrInvalid for a
// malformed ref or ErrNotFound for no such follower.
func (s *Service) RemoveFollower(ctx context.Context, ref string) (Removal, error) {
	var r Removal
	err := s.update(ctx, func(tx *store.Tx) error {
		iri, err := followerIRI(tx, strings.TrimSpace(ref))
		if err != nil {
			return err
		}
		follows, err := tx.FollowsOf(iri)
		if err != nil {
			return err
		}
		if len(follows) == 0 {
			return fmt.Errorf("%w: %s follows no one here", ErrNotFound, iri)
		}
		r = Removal{Actor: iri}
		if known, err := tx.RemoteActor(iri); err == nil {
			r.Handle = Handle(iri, known.Username)
		}
		if _, err := tx.RemoveFollowerEverywhere(iri); err != nil {
			return err
		}
		for _, f := range follows {
			for _, inbox := range []string{f.Inbox, f.SharedInbox} {
				n, err := tx.CancelUnusedInbox(inbox)
				if err != nil {
					return err
				}
				r.Cancelled += n
			}
		}
		for _, f := range follows {
			a, err := tx.ActorByID(f.ActorID)
			if err != nil {
				return err
			}
			follow := followRef{ID: f.FollowID, Actor: iri, Object: s.site.Actor(a.Username)}
			if err := s.queueAnswer(tx, a, "Reject", follow, f.Inbox, ""); err != nil {
				return err
			}
			r.Accounts = append(r.Accounts, a.Username)
			r.Inboxes = append(r.Inboxes, f.Inbox)
		}
		return nil
	})
	if err != nil {
		return Removal{}, err
	}
	s.log.Info("follower removed", "follower", r.Actor, "rejects", len(r.Inboxes), "cancelled", r.Cancelled)
	return r, nil
}

// followerIRI resolves ref, an actor id or a handle, to a follower's actor
// id. A handle is matched against the usernames of the followers' stored
// actors and the hosts of their ids.
func followerIRI(tx *store.Tx, ref string) (string, error) {
	if strings.Contains(ref, "://") {
		if err := checkIRI("actor", ref); err != nil {
			return "", err
		}
		return ref, nil
	}
	user, host, ok := strings.Cut(strings.TrimPrefix(ref, "@"), "@")
	if !ok || user == "" || host == "" || strings.Contains(host, "@") {
		return "", fmt.Errorf("%w: %q is neither an actor id (https://...) nor a handle (@user@host)", ErrInvalid, ref)
	}
	named, err := tx.FollowersNamed(user)
	if err != nil {
		return "", err
	}
	var found []string
	for _, iri := range named {
		if u, err := url.Parse(iri); err == nil && strings.EqualFold(u.Host, host) {
			found = append(found, iri)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w: no follower is @%s@%s (followers list shows the actor id of those whose handle is not known)", ErrNotFound, user, host)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%w: @%s@%s names several followers (%s): give the actor id", ErrInvalid, user, host, strings.Join(found, ", "))
}

// Deletion is what DeleteNote did.
type Deletion struct {
	Note *store.Note
	IRI  string // the note's id
	// Before tells that the note had been deleted already: nothing was
	// sent this time.
	Before bool
	Queued int // deliveries of the Delete, and of its echoes' Deletes
	// Cancelled counts the deliveries of the note's Create (and of its
	// echoes' Creates) given up.
	Cancelled int
	// Echoes counts the notes of feed accounts that repeated the note,
	// deleted with it.
	Echoes int
}

// DeleteNote deletes the local note ref (its hex id, its id or its page
// URL): its text goes, its URL answers 410 Gone from then on, deliveries
// of its Create still queued are given up, and a Delete with a Tombstone
// goes to every follower's server and every mentioned actor, as its Create
// did. The notes of feed accounts that repeat it (its echoes) are deleted
// the same way, each with its Delete to its own account's audience. A
// note deleted before is left alone (Deletion.Before). Errors wrap
// ErrInvalid for a malformed ref or ErrNotFound for no such note.
func (s *Service) DeleteNote(ctx context.Context, ref string) (Deletion, error) {
	ref = strings.TrimSpace(ref)
	publicID, username := ref, ""
	if user, id, ok := s.site.ParseLocalNote(ref); ok {
		publicID, username = id, user
	} else if !hexID.MatchString(ref) && !importedID.MatchString(ref) {
		return Deletion{}, fmt.Errorf("%w: %q is neither a note id nor the URL of a note of %s", ErrInvalid, ref, s.site.Base())
	}
	var d Deletion
	err := s.update(ctx, func(tx *store.Tx) error {
		n, err := tx.NoteByPublicID(publicID)
		if err != nil {
			return err
		}
		if username != "" && !strings.EqualFold(username, n.Username) { // the URL names another actor's note
			return fmt.Errorf("%w: no note %s of %s", ErrNotFound, publicID, username)
		}
		d = Deletion{Note: n, IRI: s.NoteIRI(n), Before: !n.Deleted.IsZero()}
		if d.Before {
			return nil
		}
		echoes, err := tx.EchoesOf(n.Seq)
		if err != nil {
			return err
		}
		for _, e := range append([]*store.Note{n}, echoes...) {
			queued, cancelled, err := s.deleteInTx(tx, e)
			if err != nil {
				return err
			}
			d.Queued, d.Cancelled = d.Queued+queued, d.Cancelled+cancelled
		}
		d.Echoes = len(echoes)
		tx.AfterCommit(s.kick)
		return nil
	})
	if err != nil {
		return Deletion{}, err
	}
	if !d.Before {
		s.log.Info("note deleted", "note", d.IRI, "echoes", d.Echoes, "deliveries", d.Queued, "cancelled", d.Cancelled)
	}
	return d, nil
}

// deleteInTx deletes the stored note n inside tx (DeleteNote) and queues
// its Delete to its audience. It returns how many deliveries it queued and
// how many of its Create it gave up.
func (s *Service) deleteInTx(tx *store.Tx, n *store.Note) (queued, cancelled int, err error) {
	n.Deleted = tx.Now
	tombstone := marshal(deleteDocument(s.site, n))
	cancelled, inFlight, err := tx.DeleteNote(n.Seq, tombstone)
	if err != nil {
		return 0, 0, err
	}
	del := &store.Activity{IRI: s.NoteIRI(n) + "#delete", ActorID: n.ActorID, Type: "Delete", NoteSeq: n.Seq, Body: tombstone}
	if err := tx.InsertActivity(del); err != nil {
		return 0, 0, err
	}
	if queued, err = queueToAudience(tx, del.ID, n); err != nil {
		return 0, 0, err
	}
	if inFlight > 0 { // a Create under way must not arrive after its Delete
		err = tx.DelayDeliveries(del.ID, tx.Now.Add(inFlightGrace))
	}
	return queued, cancelled, err
}

// inFlightGrace is how long a delivery already sent may take to finish:
// the delivery client's timeout (safehttp's 30 s) and some.
const inFlightGrace = 35 * time.Second

// deleteDocument deletes the note n: a Delete addressed as its Create was,
// whose object is the note's Tombstone.
func deleteDocument(u urls.Site, n *store.Note) map[string]any {
	del := streams.NewActivityStreamsDelete()
	del.SetJSONLDId(idProp(u.Note(n.Username, n.PublicID) + "#delete"))
	del.SetActivityStreamsActor(actorProp(u.Actor(n.Username)))
	del.SetActivityStreamsTo(toProp(publicAddress))
	del.SetActivityStreamsCc(ccProp(append([]string{u.Followers(n.Username)}, mentioned(n)...)...))
	del.SetActivityStreamsPublished(publishedProp(n.Deleted))
	m := addressAsArrays(serialize(del))
	m["@context"] = asContext
	m["object"] = tombstone(u.Note(n.Username, n.PublicID), "Note", n.Deleted)
	return m
}

// tombstone is what stands in for a deleted object: its id, its former
// type and when it was deleted, without @context.
func tombstone(id, formerType string, deleted time.Time) map[string]any {
	t := streams.NewActivityStreamsTombstone()
	t.SetJSONLDId(idProp(id))
	when := streams.NewActivityStreamsDeletedProperty()
	when.Set(deleted.UTC().Truncate(time.Second))
	t.SetActivityStreamsDeleted(when)
	m := embedded(serialize(t))
	m["formerType"] = formerType
	return m
}

// TombstoneDocument is what a deleted note's id answers, with 410 Gone:
// its Tombstone; or, with create, the Tombstone of its Create.
func TombstoneDocument(u urls.Site, n *store.Note, create bool) []byte {
	id, formerType := u.Note(n.Username, n.PublicID), "Note"
	if create {
		id, formerType = u.Activity(n.Username, n.PublicID), "Create"
	}
	m := tombstone(id, formerType, n.Deleted)
	m["@context"] = asContext
	return marshal(m)
}
