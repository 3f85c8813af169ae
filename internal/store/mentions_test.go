package store_test

import (
	"slices"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// TestNoteMentions: a note's mentions come back in order, once per actor;
// QueueToMentioned queues once per inbox, leaves out actors without one
// and inboxes the activity is queued to already (a follower's), and
// queues nothing the second time.
func TestNoteMentions(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	a := actor(t, db, "bot")
	follow(t, db, a, "https://a.example/users/fan", "fan", "https://a.example/users/fan/inbox", "https://a.example/inbox")
	mentions := []store.Mention{
		{Href: "https://b.example/users/zed", Name: "@zed@b.example", Inbox: "https://b.example/users/zed/inbox"},
		{Href: "https://a.example/users/amy", Name: "@amy@a.example", Inbox: "https://a.example/inbox"}, // the follower's shared inbox
		{Href: "https://c.example/users/cy", Name: "@cy@c.example", Inbox: "https://c.example/inbox"},
		{Href: "https://c.example/users/di", Name: "@di@c.example", Inbox: "https://c.example/inbox"}, // cy's server
		{Href: "https://bot.example/users/bot", Name: "@bot@bot.example"},                             // one of ours: no inbox
	}
	n := store.Note{PublicID: "n", ActorID: a.ID, Content: "<p>hi</p>", Mentions: append(mentions, mentions[0])}
	var queued [2]int
	update(t, db, func(tx *store.Tx) error {
		n.Published = tx.Now
		if err := tx.InsertNote(&n); err != nil {
			return err
		}
		create := &store.Activity{IRI: "https://bot.example/n/activity", ActorID: a.ID, Type: "Create", NoteSeq: n.Seq, Body: []byte("{}")}
		if err := tx.InsertActivity(create); err != nil {
			return err
		}
		if _, err := tx.QueueToFollowers(create.ID, a.ID); err != nil {
			return err
		}
		var err error
		if queued[0], err = tx.QueueToMentioned(create.ID, n.Seq); err != nil {
			return err
		}
		queued[1], err = tx.QueueToMentioned(create.ID, n.Seq)
		return err
	})
	if queued != [2]int{2, 0} {
		t.Errorf("queued %v to the mentioned, want 2 (zed, c.example) then 0", queued)
	}
	var inboxes []string
	rows, err := db.SQL.Query(`SELECT inbox FROM deliveries ORDER BY inbox`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		inboxes = append(inboxes, s)
	}
	rows.Close()
	if want := []string{"https://a.example/inbox", "https://b.example/users/zed/inbox", "https://c.example/inbox"}; !slices.Equal(inboxes, want) {
		t.Errorf("deliveries to %v, want %v", inboxes, want)
	}
	var got *store.Note
	db.View(t.Context(), func(tx *store.Tx) (err error) { got, err = tx.NoteByPublicID("n"); return err })
	if got == nil || !slices.Equal(got.Mentions, mentions) {
		t.Errorf("mentions read back %+v, want %+v", got, mentions)
	}
	var plain *store.Note
	update(t, db, func(tx *store.Tx) error {
		plain = &store.Note{PublicID: "plain", ActorID: a.ID, Content: "<p>x</p>", Published: tx.Now}
		return tx.InsertNote(plain)
	})
	db.View(t.Context(), func(tx *store.Tx) (err error) { got, err = tx.NoteByPublicID("plain"); return err })
	if got == nil || got.Mentions != nil {
		t.Errorf("a note without mentions read back %+v", got)
	}
}
