package activitypub

import (
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// TestManyLocalActors: every local actor is followable and signs with its
// own key; a follower of one gets only that actor's posts; the shared actor
// values carry no private key.
func TestManyLocalActors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.runDelivery()
	names := []string{"rv-virt", "rv-virt.citest", "arch.risc-v"}
	remotes := map[string]*fedtest.Remote{}
	for _, name := range names {
		if _, _, err := e.s.EnsureActor(e.ctx, Profile{Username: name, DisplayName: name + " builds"}); err != nil {
			t.Fatal(err)
		}
		r := e.remote("f-"+strings.NewReplacer(".", "-").Replace(name), fedtest.Mastodon)
		if err := e.s.HandleInbox(e.ctx, name, inbound(t, r, "/users/"+name+"/inbox", r.FollowActivity(testBase+"/users/"+name))); err != nil {
			t.Fatalf("Follow of %s: %v", name, err)
		}
		remotes[name] = r
	}
	for _, name := range names {
		a, err := e.s.Actor(e.ctx, strings.ToUpper(name))
		if err != nil || a.Username != name {
			t.Fatalf("Actor(%s) = %+v, %v", name, a, err)
		}
		if a.PrivateKeyPEM != "" {
			t.Errorf("the cached actor %s holds its private key", name)
		}
		err = e.db.Update(e.ctx, func(tx *store.Tx) error {
			_, err := e.s.Publish(tx, name, Post{Content: richtext.Parse("news for " + name)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		r := remotes[name]
		got := r.WaitDeliveries(t, 2, 10*time.Second) // the Accept and the note, in either order: the queue may send both at once
		for _, d := range got {
			if d.VerifyErr != nil {
				t.Errorf("%s: delivery failed verification: %v", name, d.VerifyErr)
			}
			if !strings.Contains(d.Header.Get("Signature"), `keyId="`+testBase+"/users/"+name+`#main-key"`) {
				t.Errorf("%s: signed with %s, want its own key", name, d.Header.Get("Signature"))
			}
		}
		note := got[1]
		if note.Activity["type"] != "Create" {
			note = got[0]
		}
		obj, _ := note.Activity["object"].(map[string]any)
		if content, _ := obj["content"].(string); !strings.Contains(content, "news for "+name+"<") {
			t.Errorf("%s's follower got %q", name, content)
		}
	}
	eventually.True(t, 5*time.Second, "everything delivered", func() bool {
		st, _ := e.db.Stats(e.ctx)
		return st.Pending == 0 && st.Delivered == 2*len(names)
	})
	for _, name := range names {
		if n := len(remotes[name].Deliveries()); n != 2 {
			t.Errorf("%s's follower got %d deliveries, want its Accept and its actor's one note", name, n)
		}
	}
}
