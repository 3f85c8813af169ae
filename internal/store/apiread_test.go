package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// TestNotificationsAndRemoteAccounts: a follow and a reply to one of the
// actor's notes or a mention of it each make one notification, numbered
// in the order they came; a repeated Follow or an edited reply makes
// none; an unfollow or a deleted reply takes its notification away;
// replies to another actor, or answering a reply in its thread, are not
// its notifications. Remote actors keep
// their account number after they left, and show their profile.
func TestNotificationsAndRemoteAccounts(t *testing.T) {
	db := storetest.Open(t)
	bot, other := actor(t, db, "bot"), actor(t, db, "other")
	const botIRI, alice, bob = "https://bot.example/users/bot", "https://remote.example/users/alice", "https://remote.example/users/bob"
	nested := remoteReply("https://remote.example/n/5", bob, botIRI+"/statuses/1", 5)
	nested.InReplyTo = "https://remote.example/n/1"
	filter := store.NotificationFilter{ActorID: bot.ID, ActorIRI: botIRI, NotePrefix: botIRI + "/statuses/"}
	update(t, db, func(tx *store.Tx) error {
		for _, err := range []error{
			tx.SaveFollower(store.Follower{ActorID: bot.ID, IRI: alice, Inbox: alice + "/inbox", FollowID: "f1"}),
			tx.SaveRemoteReply(remoteReply("https://remote.example/n/1", bob, botIRI+"/statuses/1", 1)),
			tx.SaveRemoteReply(remoteReply("https://remote.example/n/2", alice, botIRI, 2)), // a mention
			tx.SaveFollower(store.Follower{ActorID: bot.ID, IRI: alice, Inbox: alice + "/inbox", FollowID: "f2"}),
			tx.SaveRemoteReply(remoteReply("https://remote.example/n/1", bob, botIRI+"/statuses/1", 3)), // an edit
			tx.SaveFollower(store.Follower{ActorID: other.ID, IRI: bob, Inbox: bob + "/inbox", FollowID: "f3"}),
			tx.SaveRemoteReply(remoteReply("https://remote.example/n/3", bob, "https://bot.example/users/other/statuses/9", 4)),
			tx.SaveRemoteReply(remoteReply("https://remote.example/n/4", bob, "https://bot.example/users/bot2/statuses/9", 4)),
			tx.SaveRemoteReply(nested), // answers alice in the bot's thread: not the bot's
		} {
			if err != nil {
				return err
			}
		}
		return nil
	})
	var aliceSeq int64
	view := func(fn func(tx *store.Tx) error) {
		t.Helper()
		if err := db.View(context.Background(), fn); err != nil {
			t.Fatal(err)
		}
	}
	view(func(tx *store.Tx) error {
		all, err := tx.Notifications(filter, store.Page{})
		if err != nil {
			return err
		}
		if len(all) != 3 || all[0].Type != "mention" || all[0].Reply.NoteID != "https://remote.example/n/2" ||
			all[1].Reply.NoteID != "https://remote.example/n/1" || all[1].Reply.Content != "<p>hi</p>" ||
			all[2].Type != "follow" || all[2].Follower != alice || !(all[0].Seq > all[1].Seq && all[1].Seq > all[2].Seq) {
			t.Fatalf("notifications %+v", all)
		}
		older, err := tx.Notifications(filter, store.Page{MaxID: all[0].Seq, Limit: 1})
		if err != nil || len(older) != 1 || older[0].Seq != all[1].Seq {
			t.Errorf("max_id page %+v %v", older, err)
		}
		oldest, err := tx.Notifications(filter, store.Page{MinID: all[2].Seq, Limit: 1})
		if err != nil || len(oldest) != 1 || oldest[0].Seq != all[1].Seq {
			t.Errorf("min_id page %+v %v", oldest, err)
		}
		newest, err := tx.Notifications(filter, store.Page{SinceID: all[2].Seq, Limit: 1})
		if err != nil || len(newest) != 1 || newest[0].Seq != all[0].Seq {
			t.Errorf("since_id page %+v %v", newest, err)
		}
		follows, err := tx.Notifications(store.NotificationFilter{ActorID: bot.ID, ActorIRI: botIRI, NotePrefix: botIRI + "/statuses/",
			Types: []string{"follow"}}, store.Page{})
		if err != nil || len(follows) != 1 || follows[0].Follower != alice {
			t.Errorf("follows %+v %v", follows, err)
		}
		if one, err := tx.Notification(filter, all[1].Seq); err != nil || one.Reply.Author != bob {
			t.Errorf("one notification %+v %v", one, err)
		}
		ofOther, err := tx.Notifications(store.NotificationFilter{ActorID: other.ID, ActorIRI: "https://bot.example/users/other",
			NotePrefix: "https://bot.example/users/other/statuses/"}, store.Page{})
		if err != nil || len(ofOther) != 2 {
			t.Errorf("the other actor's notifications %+v %v", ofOther, err)
		}
		if _, err := tx.Notification(filter, ofOther[0].Seq); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another actor's notification: %v, want ErrNotFound", err)
		}
		a, err := tx.RemoteAccountByIRI(alice)
		if err != nil || a.Handle != "@alice@remote.example" || a.Name != "Alice" || a.URL != alice {
			t.Errorf("alice %+v %v", a, err)
		}
		aliceSeq = a.Seq
		return nil
	})
	update(t, db, func(tx *store.Tx) error {
		if _, err := tx.RemoveFollower(bot.ID, alice); err != nil {
			return err
		}
		if _, err := tx.DeleteRemoteReply("https://remote.example/n/1", bob); err != nil {
			return err
		}
		_, err := tx.DeleteRemoteRepliesBy(alice)
		return err
	})
	view(func(tx *store.Tx) error {
		if all, err := tx.Notifications(filter, store.Page{}); err != nil || len(all) != 0 {
			t.Errorf("after the unfollow and deletes: %+v %v", all, err)
		}
		a, err := tx.RemoteAccount(aliceSeq)
		if err != nil || a.IRI != alice {
			t.Errorf("alice after she left: %+v %v", a, err)
		}
		if _, err := tx.RemoteAccount(aliceSeq + 100); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an unknown account: %v", err)
		}
		return nil
	})
}

// TestFollowersPage: the followers by page, latest first, with the
// cursors of Mastodon.
func TestFollowersPage(t *testing.T) {
	db := storetest.Open(t)
	bot := actor(t, db, "bot")
	update(t, db, func(tx *store.Tx) error {
		for _, name := range []string{"a", "b", "c"} {
			iri := "https://remote.example/users/" + name
			if err := tx.SaveFollower(store.Follower{ActorID: bot.ID, IRI: iri, Inbox: iri + "/inbox", FollowID: name}); err != nil {
				return err
			}
		}
		return nil
	})
	err := db.View(context.Background(), func(tx *store.Tx) error {
		first, err := tx.FollowersPage(bot.ID, store.Page{Limit: 2})
		if err != nil || len(first) != 2 || first[0].IRI != "https://remote.example/users/c" || first[1].IRI != "https://remote.example/users/b" {
			t.Fatalf("first page %+v %v", first, err)
		}
		next, err := tx.FollowersPage(bot.ID, store.Page{MaxID: first[1].Seq, Limit: 2})
		if err != nil || len(next) != 1 || next[0].IRI != "https://remote.example/users/a" {
			t.Errorf("next page %+v %v", next, err)
		}
		prev, err := tx.FollowersPage(bot.ID, store.Page{MinID: next[0].Seq, Limit: 1})
		if err != nil || len(prev) != 1 || prev[0].Seq != first[1].Seq {
			t.Errorf("previous page %+v %v", prev, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestNoteFiltersOfTheAPI: public only (no unlisted note), replies left
// out but those to the actor's own notes, and since_id (the newest notes
// after a cursor).
func TestNoteFiltersOfTheAPI(t *testing.T) {
	db := storetest.Open(t)
	a := actor(t, db, "bot")
	const own = "https://bot.example/users/bot/"
	var seqs []int64
	update(t, db, func(tx *store.Tx) error {
		for i, n := range []*store.Note{
			{PublicID: "root"},
			{PublicID: "self", InReplyTo: own + "statuses/root"},
			{PublicID: "remote", InReplyTo: "https://remote.example/n/1"},
			{PublicID: "quiet", Visibility: store.Unlisted},
			{PublicID: "other", InReplyTo: "https://bot.example/users/bot2/statuses/x"},
		} {
			n.ActorID, n.Content, n.Published = a.ID, "x", tx.Now.Add(time.Duration(i))
			if err := tx.InsertNote(n); err != nil {
				return err
			}
			seqs = append(seqs, n.Seq)
		}
		return nil
	})
	err := db.View(context.Background(), func(tx *store.Tx) error {
		for _, c := range []struct {
			f    store.NoteFilter
			p    store.Page
			want string
		}{
			{store.NoteFilter{ActorID: a.ID, PublicOnly: true}, store.Page{}, "other remote self root"},
			{store.NoteFilter{ActorID: a.ID, SelfReplies: own}, store.Page{}, "quiet self root"},
			{store.NoteFilter{ActorID: a.ID}, store.Page{SinceID: seqs[1], Limit: 2}, "other quiet"},
			{store.NoteFilter{ActorID: a.ID}, store.Page{MinID: seqs[1], Limit: 2}, "quiet remote"},
		} {
			page, err := tx.Notes(c.f, c.p)
			if err != nil {
				return err
			}
			var got []string
			for _, n := range page.Notes {
				got = append(got, n.PublicID)
			}
			if strings.Join(got, " ") != c.want {
				t.Errorf("%+v %+v: %v, want %s", c.f, c.p, got, c.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
