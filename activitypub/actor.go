package activitypub

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"html"
	"regexp"
	"slices"
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// SummaryHTML renders an actor's plain-text bio as note-style HTML.
func SummaryHTML(u urls.Site, a *store.Actor) string { return richtext.Parse(a.Summary).HTML(u.Tag) }

func fieldHTML(f store.Field) string {
	shown := strings.TrimPrefix(strings.TrimPrefix(f.URL, "https://"), "http://")
	return `<a href="` + html.EscapeString(f.URL) + `" rel="me nofollow noopener noreferrer" target="_blank">` +
		html.EscapeString(shown) + `</a>`
}

// Profile is what the operator configures for an actor.
type Profile struct {
	Username    string
	DisplayName string
	Summary     string
	Fields      []store.Field
}

// usernameRE is Mastodon's username rule (docs/FEDERATION.md, "WebFinger"),
// lower case only so that every id, handle and WebFinger subject agrees
// byte for byte.
var usernameRE = regexp.MustCompile(`^[a-z0-9_]+([.-]+[a-z0-9_]+)*$`)

// ValidUsername reports whether name is usable as a local username.
func ValidUsername(name string) bool {
	return len(name) <= 64 && usernameRE.MatchString(name)
}

func (p Profile) validate() error {
	if !ValidUsername(p.Username) {
		return fmt.Errorf("%w: username %q: use lower-case letters, digits and _ (with . or - between them)", ErrInvalid, p.Username)
	}
	if strings.TrimSpace(p.DisplayName) == "" {
		return fmt.Errorf("%w: display name is empty", ErrInvalid)
	}
	for _, f := range p.Fields {
		if f.Name == "" || !strings.HasPrefix(f.URL, "https://") && !strings.HasPrefix(f.URL, "http://") {
			return fmt.Errorf("%w: profile field %q needs a name and an http(s) URL", ErrInvalid, f.Name)
		}
	}
	return nil
}

// EnsureActor makes sure the actor of p exists and carries p's profile. A
// new actor gets a fresh RSA-2048 key, kept for ever. When an existing
// actor's profile changed, the change is saved and an Update is queued to
// every follower's inbox so remote servers refresh it. It returns the actor
// and whether anything changed.
func (s *Service) EnsureActor(ctx context.Context, p Profile) (*store.Actor, bool, error) {
	return s.ensureActor(ctx, p, true)
}

// CreateActorIfMissing creates the actor of p when it does not exist yet,
// and otherwise returns it untouched (a one-off command must not rewrite
// the profile that the server was configured with).
func (s *Service) CreateActorIfMissing(ctx context.Context, p Profile) (*store.Actor, error) {
	a, _, err := s.ensureActor(ctx, p, false)
	return a, err
}

func (s *Service) ensureActor(ctx context.Context, p Profile, update bool) (*store.Actor, bool, error) {
	if err := p.validate(); err != nil {
		return nil, false, err
	}
	if p.Fields == nil {
		p.Fields = []store.Field{}
	}
	existing, err := s.Actor(ctx, p.Username)
	switch {
	case errors.Is(err, ErrNotFound):
		a, err := s.createActor(ctx, p)
		return a, err == nil, err
	case err != nil:
		return nil, false, err
	case !update || (existing.DisplayName == p.DisplayName && existing.Summary == p.Summary && slices.Equal(existing.Fields, p.Fields)):
		return existing, false, nil
	}
	a, err := s.updateProfile(ctx, existing, p)
	return a, err == nil, err
}

func (s *Service) createActor(ctx context.Context, p Profile) (*store.Actor, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	a := &store.Actor{
		Username:      p.Username,
		DisplayName:   p.DisplayName,
		Summary:       p.Summary,
		Fields:        p.Fields,
		PrivateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})),
		PublicKeyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})),
	}
	var created bool
	err = s.update(ctx, func(tx *store.Tx) error {
		created, err = tx.CreateActor(a)
		return err
	})
	if err != nil {
		return nil, err
	}
	if created {
		s.log.Info("created actor", "username", p.Username)
	}
	return s.Actor(ctx, p.Username)
}

func (s *Service) updateProfile(ctx context.Context, old *store.Actor, p Profile) (*store.Actor, error) {
	a := *old
	var queued int
	err := s.update(ctx, func(tx *store.Tx) error {
		if err := tx.UpdateProfile(a.ID, p.DisplayName, p.Summary, p.Fields); err != nil {
			return err
		}
		a.DisplayName, a.Summary, a.Fields, a.UpdatedAt = p.DisplayName, p.Summary, p.Fields, tx.Now
		updateID := s.site.Actor(a.Username) + "#updates/" + randomID()
		act := &store.Activity{IRI: updateID, ActorID: a.ID, Type: "Update", Body: marshal(updateActorDocument(s.site, &a, updateID, tx.Now))}
		if err := tx.InsertActivity(act); err != nil {
			return err
		}
		var err error
		queued, err = tx.QueueToFollowers(act.ID, a.ID)
		tx.AfterCommit(func() { s.actors.forget(a.Username); s.kick() })
		return err
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("profile updated", "username", a.Username, "deliveries", queued)
	return s.Actor(ctx, a.Username)
}

// Actor returns the local actor with this username (any case), or an error
// wrapping ErrNotFound. The value is shared and carries no private key: do
// not modify it.
func (s *Service) Actor(ctx context.Context, username string) (*store.Actor, error) {
	if a, ok := s.actors.byName.Get(lower(username)); ok {
		return a, nil
	}
	var a *store.Actor
	err := s.store.View(ctx, func(tx *store.Tx) (err error) {
		a, err = tx.Actor(username)
		return err
	})
	if err != nil {
		return nil, err
	}
	a.PrivateKeyPEM = "" // signers load it when they need it
	s.actors.byName.Add(lower(a.Username), a)
	return a, nil
}

// signer is a local actor's key, ready to sign.
type signer struct {
	keyID string
	key   *rsa.PrivateKey
}

// signerOf returns the key of the local actor with this row id.
func (s *Service) signerOf(ctx context.Context, actorID int64) (*signer, error) {
	if sg, ok := s.actors.signers.Get(actorID); ok {
		return sg, nil
	}
	var a *store.Actor
	err := s.store.View(ctx, func(tx *store.Tx) (err error) {
		a, err = tx.ActorByID(actorID)
		return err
	})
	if err != nil {
		return nil, err
	}
	key, err := parsePrivateKey(a.PrivateKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("actor %q: %w", a.Username, err)
	}
	sg := &signer{keyID: s.site.KeyID(a.Username), key: key}
	s.actors.signers.Add(actorID, sg)
	return sg, nil
}

// actorCache keeps the actors in use: their public data by username, and
// the parsed keys of those that signed something lately. Both are bounded,
// so a thousand per-target actors cost memory only while they are busy.
type actorCache struct {
	byName  *lru.Cache[string, *store.Actor]
	signers *lru.Cache[int64, *signer]
}

const (
	actorCacheSize  = 1024
	signerCacheSize = 64
)

func newActorCache() *actorCache {
	byName, _ := lru.New[string, *store.Actor](actorCacheSize) // errors only for a size <= 0
	signers, _ := lru.New[int64, *signer](signerCacheSize)
	return &actorCache{byName: byName, signers: signers}
}

func (c *actorCache) forget(username string) { c.byName.Remove(lower(username)) }

func parsePrivateKey(s string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("private key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("private key is not RSA")
	}
	return rk, nil
}

// parsePublicKey accepts PKIX ("PUBLIC KEY") and PKCS#1 ("RSA PUBLIC KEY")
// PEM, as peers publish either.
func parsePublicKey(s string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(s)))
	if block == nil {
		return nil, errors.New("public key is not PEM")
	}
	if k, err := x509.ParsePKIXPublicKey(block.Bytes); err == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("public key is not RSA")
		}
		return rk, nil
	}
	k, err := x509.ParsePKCS1PublicKey(block.Bytes)
	if err != nil {
		return nil, errors.New("public key is neither PKIX nor PKCS#1")
	}
	return k, nil
}
