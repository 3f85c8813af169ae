package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// remoteReply is a reply by author in thread, published at the minute
// minute of an arbitrary day.
func remoteReply(noteID, author, thread string, minute int) *store.RemoteReply {
	return &store.RemoteReply{NoteID: noteID, InReplyTo: thread, Thread: thread, Author: author, AuthorName: "Alice",
		AuthorHandle: "@alice@remote.example", AuthorURL: author, Content: "<p>hi</p>", URL: noteID,
		Published: time.Date(2026, 11, 29, 10, minute, 0, 0, time.UTC)}
}

// TestRemoteReplies: replies are listed by thread in the order published,
// counted by thread, replaced by note id (keeping their place), deleted
// only by their author, and all at once for a deleted author.
func TestRemoteReplies(t *testing.T) {
	db := storetest.Open(t)
	const alice, bob = "https://remote.example/users/alice", "https://remote.example/users/bob"
	const root, other = "https://bot.example/users/bot/statuses/root", "https://bot.example/users/bot/statuses/other"
	update(t, db, func(tx *store.Tx) error {
		for _, r := range []*store.RemoteReply{
			remoteReply("https://remote.example/n/2", alice, root, 2),
			remoteReply("https://remote.example/n/1", bob, root, 1),
			remoteReply("https://remote.example/n/3", alice, other, 3),
		} {
			if err := tx.SaveRemoteReply(r); err != nil {
				return err
			}
		}
		// An Update: new content, the same row; its place cannot change.
		edited := remoteReply("https://remote.example/n/2", alice, other, 2)
		edited.Content = "<p>edited</p>"
		return tx.SaveRemoteReply(edited)
	})
	err := db.View(context.Background(), func(tx *store.Tx) error {
		replies, err := tx.ThreadReplies(root)
		if err != nil {
			return err
		}
		if len(replies) != 2 || replies[0].NoteID != "https://remote.example/n/1" || replies[1].NoteID != "https://remote.example/n/2" {
			t.Fatalf("thread replies %+v, want n/1 then n/2", replies)
		}
		if r := replies[1]; r.Content != "<p>edited</p>" || r.Thread != root || r.InReplyTo != root || r.Author != alice {
			t.Errorf("replaced reply %+v, want the new content in its old place", r)
		}
		counts, err := tx.RemoteReplyCounts([]string{root, other, "https://bot.example/none"})
		if err != nil {
			return err
		}
		if counts[root] != 2 || counts[other] != 1 || len(counts) != 2 {
			t.Errorf("counts %v, want root 2, other 1", counts)
		}
		if _, err := tx.RemoteReply("https://remote.example/none"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a missing reply: %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	update(t, db, func(tx *store.Tx) error {
		if gone, err := tx.DeleteRemoteReply("https://remote.example/n/1", alice); err != nil || gone {
			t.Errorf("Delete of bob's reply by alice: %v, %v; want nothing removed", gone, err)
		}
		if gone, err := tx.DeleteRemoteReply("https://remote.example/n/1", bob); err != nil || !gone {
			t.Errorf("Delete of bob's reply by bob: %v, %v; want it removed", gone, err)
		}
		if n, err := tx.DeleteRemoteRepliesBy(alice); err != nil || n != 2 {
			t.Errorf("alice's replies removed: %d, %v; want 2", n, err)
		}
		return nil
	})
	if n := storetest.Count(t, db.SQL, "remote_replies"); n != 0 {
		t.Errorf("%d replies left, want none", n)
	}
}

// TestRemoteActorProfile: a signer's profile is stored with its key and
// kept when a later record brings none (a key stub).
func TestRemoteActorProfile(t *testing.T) {
	db := storetest.Open(t)
	const iri = "https://remote.example/users/alice"
	full := &store.RemoteActor{IRI: iri, KeyID: iri + "#main-key", PublicKeyPEM: "p", Username: "alice",
		Name: "Alice", Avatar: "https://remote.example/a.png", ProfileURL: "https://remote.example/@alice"}
	update(t, db, func(tx *store.Tx) error { return tx.SaveRemoteActor(full) })
	update(t, db, func(tx *store.Tx) error {
		return tx.SaveRemoteActor(&store.RemoteActor{IRI: iri, KeyID: iri + "#main-key", PublicKeyPEM: "p2"})
	})
	err := db.View(context.Background(), func(tx *store.Tx) error {
		r, err := tx.RemoteActor(iri)
		if err != nil {
			return err
		}
		if r.Name != full.Name || r.Avatar != full.Avatar || r.ProfileURL != full.ProfileURL || r.PublicKeyPEM != "p2" {
			t.Errorf("stored %+v, want the new key and the old profile", r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
