package activitypub

import (
	"strings"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
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
