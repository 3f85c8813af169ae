package activitypub

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// importedKey is a new key pair as an import hands it over: PKCS#8 and PKIX.
func importedKey(t *testing.T) (priv, pub string, key *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p8, _ := x509.MarshalPKCS8PrivateKey(key)
	spki, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})), key
}

// TestImportAccount: a dry run reports what an import would do and
// changes nothing; the import takes the key, profile, followers and notes;
// a second import changes nothing; the next post reaches the imported
// followers signed with the imported key.
func TestImportAccount(t *testing.T) {
	e := newEnv(t) // the bot exists already, with a key of its own
	priv, pub, key := importedKey(t)
	r := fedtest.New(t, "alice", fedtest.Mastodon, func(string) (*rsa.PublicKey, error) { return &key.PublicKey, nil })
	published := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	im := Import{
		Profile:       Profile{Username: "nuttx_build", DisplayName: "NuttX Build (Mastodon)", Summary: "From Mastodon #NuttX", Visibility: store.Unlisted},
		PrivateKeyPEM: priv, PublicKeyPEM: pub,
		Followers: []store.Follower{
			{IRI: r.ActorID(), Inbox: r.Inbox(), SharedInbox: r.SharedInboxURL(), FollowID: r.ActorID() + "#follows/1", CreatedAt: published},
			{IRI: "https://gts.example/users/bob", Inbox: "https://gts.example/users/bob/inbox", FollowID: "https://gts.example/users/bob/follow/01", CreatedAt: published},
		},
		Notes: []ImportedNote{
			{ID: "113180000000000001", Text: "rv-virt:citest failed #NuttX", Published: published, Visibility: store.Public},
			{ID: "113180000000000002", Text: "fixed", Published: published.Add(time.Hour), InReplyTo: testBase + "/users/nuttx_build/statuses/113180000000000001", Visibility: store.Unlisted},
		},
	}
	// The bot existed: its new key and profile are announced to every
	// follower's inbox (alice's shared one, bob's personal one).
	want := ImportResult{KeyReplaced: true, ProfileChanged: true, FollowersAdded: 2, NotesAdded: 2, UpdateQueued: 2}
	got, err := e.s.ImportAccount(e.ctx, im, false)
	if err != nil || got != want {
		t.Fatalf("dry run: %+v %v; want %+v", got, err, want)
	}
	var n int
	e.db.SQL.QueryRow(`SELECT COUNT(*) FROM followers`).Scan(&n)
	if n != 0 {
		t.Fatalf("the dry run left %d followers", n)
	}
	if got, err = e.s.ImportAccount(e.ctx, im, true); err != nil || got != want {
		t.Fatalf("import: %+v %v; want %+v", got, err, want)
	}
	again, err := e.s.ImportAccount(e.ctx, im, true)
	if want := (ImportResult{FollowersKept: 2, NotesKept: 2}); err != nil || again != want {
		t.Errorf("second import: %+v %v; want %+v", again, err, want)
	}
	a, err := e.s.Actor(e.ctx, "nuttx_build")
	if err != nil || a.PublicKeyPEM != pub || a.DisplayName != "NuttX Build (Mastodon)" || a.Visibility != store.Unlisted {
		t.Fatalf("actor after the import: %+v %v", a, err)
	}
	var note *store.Note
	e.db.View(e.ctx, func(tx *store.Tx) (err error) { note, err = tx.Note("nuttx_build", "113180000000000002"); return err })
	if note == nil || !note.Published.Equal(published.Add(time.Hour)) || note.Visibility != store.Unlisted || note.InReplyTo != im.Notes[1].InReplyTo {
		t.Errorf("imported note: %+v", note)
	}

	// The next post goes to alice, signed with the imported key (her
	// server checks it with that key only).
	e.runDelivery()
	if err := e.db.Update(e.ctx, func(tx *store.Tx) error {
		_, err := e.s.Publish(tx, "nuttx_build", Post{Content: richtext.Parse("after the switch-over"), InReplyTo: "113180000000000001"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	byType := map[any]fedtest.Delivery{} // the Update and the Create go out side by side
	for _, d := range r.WaitDeliveries(t, 2, 10*time.Second) {
		byType[d.Activity["type"]] = d
	}
	for _, typ := range []string{"Update", "Create"} {
		if d, ok := byType[typ]; !ok || d.VerifyErr != nil {
			t.Fatalf("%s to an imported follower: got %v, verified: %v", typ, ok, d.VerifyErr)
		}
	}
	d := byType["Create"]
	if obj, _ := d.Activity["object"].(map[string]any); obj["inReplyTo"] != testBase+"/users/nuttx_build/statuses/113180000000000001" {
		t.Errorf("a reply to an imported note by its id: inReplyTo %v", obj["inReplyTo"])
	}
}

// TestImportKeepsOrder: posts older than the bot's own are refused, as
// they would be listed among the newest.
func TestImportKeepsOrder(t *testing.T) {
	e := newEnv(t)
	if err := e.db.Update(e.ctx, func(tx *store.Tx) error {
		_, err := e.s.Publish(tx, "nuttx_build", Post{Content: richtext.Parse("a post of nuttx-feed")})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	priv, pub, _ := importedKey(t)
	im := Import{Profile: Profile{Username: "nuttx_build", DisplayName: "x"}, PrivateKeyPEM: priv, PublicKeyPEM: pub,
		Notes: []ImportedNote{{ID: "1", Text: "older", Published: time.Now().Add(-time.Hour)}}}
	if _, err := e.s.ImportAccount(e.ctx, im, true); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "posts newer than the imported post 1") {
		t.Fatalf("import of an older post after a post: %v", err)
	}
	var notes int
	e.db.SQL.QueryRow(`SELECT COUNT(*) FROM notes`).Scan(&notes)
	if notes != 1 {
		t.Errorf("%d notes after a refused import, want 1", notes)
	}
	im.Notes = nil // without posts it goes through
	if _, err := e.s.ImportAccount(e.ctx, im, true); err != nil {
		t.Errorf("import without posts: %v", err)
	}
}

// TestImportAccountRefusals: a key pair that does not match, or a note id
// that is not Mastodon's, is refused before anything is written.
func TestImportAccountRefusals(t *testing.T) {
	e := newEnv(t)
	priv, _, _ := importedKey(t)
	_, otherPub, _ := importedKey(t)
	for name, im := range map[string]Import{
		"keys of two pairs": {Profile: Profile{Username: "nuttx_build", DisplayName: "x"}, PrivateKeyPEM: priv, PublicKeyPEM: otherPub},
		"not a key":         {Profile: Profile{Username: "nuttx_build", DisplayName: "x"}, PrivateKeyPEM: "junk", PublicKeyPEM: otherPub},
		"hex note id": {Profile: Profile{Username: "nuttx_build", DisplayName: "x"}, PrivateKeyPEM: priv, PublicKeyPEM: otherPub,
			Notes: []ImportedNote{{ID: "0123456789abcdef0123456789abcdef", Text: "x"}}},
		"blank name": {Profile: Profile{Username: "nuttx_build", DisplayName: " "}, PrivateKeyPEM: priv, PublicKeyPEM: otherPub},
	} {
		if _, err := e.s.ImportAccount(e.ctx, im, true); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v; want ErrInvalid", name, err)
		}
	}
}
