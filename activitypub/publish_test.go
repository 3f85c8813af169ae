package activitypub

import (
	"errors"
	"strings"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

func TestPublishValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, p := range []Post{
		{},
		{Content: richtext.Parse("   \n\n ")},
		{Content: richtext.Parse(strings.Repeat("long text ", 8000))},
		{Content: richtext.Parse("x"), InReplyTo: "mailto:a@b"},
	} {
		if _, err := publishNow(e.ctx, e.s, "nuttx_build", p); err == nil {
			t.Errorf("Publish(%.40v) succeeded, want an error", p)
		}
	}
	if _, err := publishNow(e.ctx, e.s, "nobody", Post{Content: richtext.Parse("x")}); err == nil {
		t.Error("Publish for an unknown actor succeeded")
	}
	if n := e.snapshot()["notes"]; n != 0 {
		t.Errorf("%d notes stored by failed publishes", n)
	}
	remote, err := publishNow(e.ctx, e.s, "nuttx_build", Post{Content: richtext.Parse("x"), InReplyTo: "https://mastodon.example/users/a/statuses/1"})
	if err != nil || remote.InReplyTo != "https://mastodon.example/users/a/statuses/1" {
		t.Errorf("reply to a remote note: %v %+v", err, remote)
	}
}

func TestProfileUpdateIsAnnounced(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addFollowers(2, func(i int) string { return []string{"https://a.example/inbox", "https://b.example/inbox"}[i] })
	a, changed, err := e.s.EnsureActor(e.ctx, Profile{Username: "nuttx_build", DisplayName: "NuttX Build", Summary: "Failed builds of #NuttX"})
	if err != nil || changed {
		t.Fatalf("unchanged profile: changed=%v err=%v", changed, err)
	}
	key := a.PublicKeyPEM
	a, changed, err = e.s.EnsureActor(e.ctx, Profile{Username: "nuttx_build", DisplayName: "NuttX CI", Summary: "New bio"})
	if err != nil || !changed || a.DisplayName != "NuttX CI" {
		t.Fatalf("changed profile: %+v changed=%v err=%v", a, changed, err)
	}
	if a.PublicKeyPEM != key {
		t.Error("the key changed with the profile")
	}
	var updates, deliveries int
	e.db.SQL.QueryRow(`SELECT COUNT(*) FROM activities WHERE type = 'Update'`).Scan(&updates)
	e.db.SQL.QueryRow(`SELECT COUNT(*) FROM deliveries`).Scan(&deliveries)
	if updates != 1 || deliveries != 2 {
		t.Errorf("%d Update activities, %d deliveries; want 1 and 2", updates, deliveries)
	}
	var body string
	e.db.SQL.QueryRow(`SELECT body FROM activities WHERE type = 'Update'`).Scan(&body)
	if !strings.Contains(body, `"name":"NuttX CI"`) || !strings.Contains(body, `"actor":"`+testBase+`/users/nuttx_build"`) {
		t.Errorf("Update body %s", body)
	}
}

// TestEditNoteValidation: EditNote refuses an empty or oversized text, a
// note of another actor, an unknown and a deleted one, and stores nothing
// then; an edit it takes changes the note and queues one Update per
// follower's inbox, with the new content and updated.
func TestEditNoteValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addFollowers(2, func(i int) string { return []string{"https://a.example/inbox", "https://b.example/inbox"}[i] })
	n0 := e.publish("first text")
	gone := e.publish("to delete")
	if _, err := e.s.DeleteNote(e.ctx, gone.PublicID); err != nil {
		t.Fatal(err)
	}
	edit := func(username, id string, p Post) (n *store.Note, err error) {
		err = e.s.store.Update(e.ctx, func(tx *store.Tx) error {
			n, err = e.s.EditNote(tx, username, id, p)
			return err
		})
		return n, err
	}
	before := e.snapshot()
	for _, c := range []struct {
		name, username, id string
		p                  Post
		want               error
	}{
		{"no content", "nuttx_build", n0.PublicID, Post{}, ErrInvalid},
		{"blank", "nuttx_build", n0.PublicID, Post{Content: richtext.Parse(" \n ")}, ErrInvalid},
		{"oversized", "nuttx_build", n0.PublicID, Post{Content: richtext.Parse(strings.Repeat("long text ", 8000))}, ErrInvalid},
		{"another actor's", "alerts", n0.PublicID, Post{Content: richtext.Parse("x")}, ErrNotFound},
		{"unknown", "nuttx_build", "00000000000000000000000000000000", Post{Content: richtext.Parse("x")}, ErrNotFound},
		{"deleted", "nuttx_build", gone.PublicID, Post{Content: richtext.Parse("x")}, ErrNotFound},
	} {
		if _, err := edit(c.username, c.id, c.p); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	e.sameSnapshot(before, "refused edits")
	stored := func() (n *store.Note) {
		e.s.store.View(e.ctx, func(tx *store.Tx) (err error) { n, err = tx.NoteByPublicID(n0.PublicID); return err })
		return n
	}
	if got := stored(); got.Source != "first text" || !got.Edited.IsZero() {
		t.Errorf("a refused edit changed the note: %+v", got)
	}

	edited, err := edit("nuttx_build", n0.PublicID, Post{Content: richtext.Parse("second text #NuttX"), Summary: "cw", Sensitive: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := stored(); got.Source != "second text #NuttX" || got.Summary != "cw" || !got.Sensitive ||
		!got.Edited.Equal(edited.Edited) || got.Edited.IsZero() || len(got.Tags) != 1 || !got.Published.Equal(n0.Published) {
		t.Errorf("stored after the edit: %+v", got)
	}
	var body string
	var deliveries int
	e.db.SQL.QueryRow(`SELECT body FROM activities WHERE type = 'Update'`).Scan(&body)
	e.db.SQL.QueryRow(`SELECT COUNT(*) FROM deliveries d JOIN activities a ON a.id = d.activity_id WHERE a.type = 'Update'`).Scan(&deliveries)
	if !strings.Contains(body, `"content":"<p>second text`) || !strings.Contains(body, `"updated":"`) || !strings.Contains(body, `"summary":"cw"`) || deliveries != 2 {
		t.Errorf("%d deliveries of the Update %s", deliveries, body)
	}

	// Deleting the note erases its text from the Update too, and gives up
	// the Update's deliveries still queued.
	d, err := e.s.DeleteNote(e.ctx, n0.PublicID)
	if err != nil || d.Cancelled != 4 {
		t.Errorf("delete: %+v, %v; want the Create's and the Update's 4 deliveries given up", d, err)
	}
	e.db.SQL.QueryRow(`SELECT body FROM activities WHERE type = 'Update'`).Scan(&body)
	var pending int
	e.db.SQL.QueryRow(`SELECT COUNT(*) FROM deliveries d JOIN activities a ON a.id = d.activity_id WHERE a.type = 'Update' AND d.state = 'pending'`).Scan(&pending)
	if strings.Contains(body, "second text") || !strings.Contains(body, "Tombstone") || pending != 0 {
		t.Errorf("after the delete: %d Update deliveries pending, body %s", pending, body)
	}
}
