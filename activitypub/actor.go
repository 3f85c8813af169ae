package activitypub

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"html"
	"image"
	_ "image/gif"  // avatars and headers
	_ "image/jpeg" // avatars and headers
	_ "image/png"  // avatars and headers
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
	_ "golang.org/x/image/webp" // avatars and headers

	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// SummaryHTML renders an actor's plain-text bio as note-style HTML.
func SummaryHTML(u urls.Site, a *store.Actor) string { return richtext.Parse(a.Summary).HTML(u.Tag) }

// Avatar returns the URL and media type of a's avatar: its own image, or
// the bot's default one.
func Avatar(u urls.Site, a *store.Actor) (url, mediaType string) {
	if a.Avatar.ContentType == "" {
		return u.Avatar(), "image/png"
	}
	return u.ImageURL(a.Username, store.Avatar, a.Avatar.UpdatedAt.UnixMilli()), a.Avatar.ContentType
}

// Header returns the URL and media type of a's header image ("" for none).
func Header(u urls.Site, a *store.Actor) (url, mediaType string) {
	if a.Header.ContentType == "" {
		return "", ""
	}
	return u.ImageURL(a.Username, store.Header, a.Header.UpdatedAt.UnixMilli()), a.Header.ContentType
}

// FieldHTML renders a profile field's value: a link to its URL.
func FieldHTML(f store.Field) string {
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
	// Visibility of its posts: store.Public ("" too) or store.Unlisted.
	Visibility string
}

// usernameRE is Mastodon's username rule (docs/FEDERATION.md, "WebFinger"),
// lower case only so that every id, handle and WebFinger subject agrees
// byte for byte.
var usernameRE = regexp.MustCompile(`^[a-z0-9_]+([.-]+[a-z0-9_]+)*$`)

// ValidUsername reports whether name is usable as a local username.
func ValidUsername(name string) bool {
	return len(name) <= 64 && usernameRE.MatchString(name)
}

// Limits of a profile, Mastodon's: remote servers cut or refuse beyond them.
const (
	MaxDisplayName = 30
	MaxSummary     = 500
	MaxFields      = 4
)

func (p Profile) validate() error {
	if !ValidUsername(p.Username) {
		return fmt.Errorf("%w: username %q: use lower-case letters, digits and _ (with . or - between them)", ErrInvalid, p.Username)
	}
	if strings.TrimSpace(p.DisplayName) == "" {
		return fmt.Errorf("%w: display name is empty", ErrInvalid)
	}
	if n := utf8.RuneCountInString(p.DisplayName); n > MaxDisplayName {
		return fmt.Errorf("%w: display name has %d characters, at most %d", ErrInvalid, n, MaxDisplayName)
	}
	if n := utf8.RuneCountInString(p.Summary); n > MaxSummary {
		return fmt.Errorf("%w: bio has %d characters, at most %d", ErrInvalid, n, MaxSummary)
	}
	if len(p.Fields) > MaxFields {
		return fmt.Errorf("%w: %d profile fields, at most %d", ErrInvalid, len(p.Fields), MaxFields)
	}
	for _, f := range p.Fields {
		if f.Name == "" || !strings.HasPrefix(f.URL, "https://") && !strings.HasPrefix(f.URL, "http://") {
			return fmt.Errorf("%w: profile field %q needs a name and an http(s) URL", ErrInvalid, f.Name)
		}
	}
	if p.Visibility != "" && p.Visibility != store.Public && p.Visibility != store.Unlisted {
		return fmt.Errorf("%w: visibility %q: want public or unlisted", ErrInvalid, p.Visibility)
	}
	return nil
}

// profileOf is the profile a stored actor carries.
func profileOf(a *store.Actor) Profile {
	return Profile{Username: a.Username, DisplayName: a.DisplayName, Summary: a.Summary, Fields: a.Fields, Visibility: a.Visibility}
}

// ProfileEdit is a change to an actor's profile: what is nil stays as it is.
type ProfileEdit struct {
	DisplayName, Summary, Visibility *string
	Fields                           *[]store.Field
	Avatar, Header                   *ImageEdit
}

// ImageEdit sets an image (Data is its content) or removes it (Data nil).
type ImageEdit struct{ Data []byte }

// MaxImageBytes is the largest avatar or header accepted (Mastodon's
// limit for remote avatars is 2 MB).
const MaxImageBytes = 2 << 20

// imageTypes are the image types every Fediverse server shows, by the
// name of their Go decoder.
var imageTypes = map[string]string{"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}

// Bounds of an avatar's or header's size: Mastodon's own limit on the
// pixels of an image it processes, and a side that every server scales.
const (
	maxImageSide   = 8192
	maxImagePixels = 33_177_600
)

// imageType returns the media type of an avatar or header, or why it is
// refused: it must decode whole as one of imageTypes, within the bounds,
// so that every follower's server can show it.
func imageType(data []byte) (string, error) {
	if len(data) > MaxImageBytes {
		return "", fmt.Errorf("%w: the image has more than %d bytes", ErrInvalid, MaxImageBytes)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	typ, known := imageTypes[format]
	switch {
	case err != nil || !known:
		return "", fmt.Errorf("%w: the image is %s; want PNG, JPEG, GIF or WebP", ErrInvalid, http.DetectContentType(data))
	case cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxImageSide || cfg.Height > maxImageSide || cfg.Width*cfg.Height > maxImagePixels:
		return "", fmt.Errorf("%w: the image is %dx%d pixels; at most %d on a side and %d in all", ErrInvalid, cfg.Width, cfg.Height, maxImageSide, maxImagePixels)
	}
	if _, _, err := image.Decode(bytes.NewReader(data)); err != nil {
		return "", fmt.Errorf("%w: the %s image does not decode: %v", ErrInvalid, format, err)
	}
	return typ, nil
}

// EnsureActor makes sure the actor of p exists and carries p's profile
// (Avatar and header stay as they are). A new actor gets a fresh RSA-2048
// key, kept for ever; an existing one changed is saved and announced (see
// EditProfile). It returns the actor and whether anything changed.
func (s *Service) EnsureActor(ctx context.Context, p Profile) (*store.Actor, bool, error) {
	a, created, err := s.createActorIfMissing(ctx, p)
	if err != nil || created {
		return a, created, err
	}
	changed, err := s.EditProfile(ctx, p.Username, ProfileEdit{DisplayName: &p.DisplayName, Summary: &p.Summary, Fields: &p.Fields, Visibility: &p.Visibility})
	if err != nil || !changed {
		return a, false, err
	}
	a, err = s.Actor(ctx, p.Username)
	return a, true, err
}

// CreateActorIfMissing creates the actor of p when it does not exist yet,
// and otherwise returns it untouched: p only seeds a new actor's profile,
// which EditProfile changes later.
func (s *Service) CreateActorIfMissing(ctx context.Context, p Profile) (*store.Actor, error) {
	a, _, err := s.createActorIfMissing(ctx, p)
	return a, err
}

func (s *Service) createActorIfMissing(ctx context.Context, p Profile) (*store.Actor, bool, error) {
	if err := p.validate(); err != nil {
		return nil, false, err
	}
	if p.Fields == nil {
		p.Fields = []store.Field{}
	}
	existing, err := s.Actor(ctx, p.Username)
	if errors.Is(err, ErrNotFound) || err == nil && existing.ID == 0 { // a feed account's template is no row
		a, err := s.createActor(ctx, p)
		return a, err == nil, err
	}
	return existing, false, err
}

func (s *Service) createActor(ctx context.Context, p Profile) (*store.Actor, error) {
	priv, pub, err := s.generateKey(ctx)
	if err != nil {
		return nil, err
	}
	a := &store.Actor{
		Username:      p.Username,
		DisplayName:   p.DisplayName,
		Summary:       p.Summary,
		Fields:        p.Fields,
		Visibility:    p.Visibility,
		PrivateKeyPEM: priv,
		PublicKeyPEM:  pub,
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

// newKeyPair makes an RSA-2048 key pair, as PKCS#8 and PKIX PEM. It takes
// a core for about a tenth of a second: callers go through generateKey.
func newKeyPair() (privatePEM, publicPEM string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", fmt.Errorf("generate key: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})), nil
}

// EditProfile applies e to the profile of the actor username and, when
// anything changed, saves it and queues one Update with the whole actor to
// every follower's inbox, so that remote servers refresh it. Nothing is
// saved or sent when e changes nothing, or when the result is invalid
// (ErrInvalid says why).
func (s *Service) EditProfile(ctx context.Context, username string, e ProfileEdit) (changed bool, err error) {
	var queued int
	err = s.update(ctx, func(tx *store.Tx) error {
		a, err := tx.Actor(username)
		if err != nil {
			return err
		}
		p := profileOf(a)
		setIf(&p.DisplayName, e.DisplayName)
		setIf(&p.Summary, e.Summary)
		setIf(&p.Visibility, e.Visibility)
		setIf(&p.Fields, e.Fields)
		if p.Fields == nil {
			p.Fields = []store.Field{}
		}
		if p.Visibility == "" {
			p.Visibility = store.Public
		}
		if err := p.validate(); err != nil {
			return err
		}
		changed = p.DisplayName != a.DisplayName || p.Summary != a.Summary || p.Visibility != a.Visibility || !slices.Equal(p.Fields, a.Fields)
		images := false
		for _, im := range []struct {
			kind string
			edit *ImageEdit
		}{{store.Avatar, e.Avatar}, {store.Header, e.Header}} {
			c, err := editImage(tx, a, im.kind, im.edit)
			if err != nil {
				return err
			}
			images = images || c
		}
		if changed = changed || images; !changed {
			return nil
		}
		a.DisplayName, a.Summary, a.Fields, a.Visibility = p.DisplayName, p.Summary, p.Fields, p.Visibility
		if err := tx.UpdateProfile(a); err != nil {
			return err
		}
		if a, err = tx.Actor(username); err != nil { // with its images' new versions
			return err
		}
		if queued, err = s.announceProfile(tx, a); err != nil || !images {
			return err
		}
		feedQueued, err := s.announceFeedImages(tx, a)
		queued += feedQueued
		return err
	})
	if err == nil && changed {
		s.log.Info("profile updated", "username", username, "deliveries", queued)
	}
	return changed, err
}

// setIf sets *dst to *v when v is not nil.
func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// editImage applies one image edit (nil: none) in tx and reports whether
// the image changed.
func editImage(tx *store.Tx, a *store.Actor, kind string, e *ImageEdit) (bool, error) {
	if e == nil {
		return false, nil
	}
	old, err := tx.Image(a.Username, kind)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	if e.Data == nil {
		return old != nil, tx.RemoveImage(a.ID, kind)
	}
	typ, err := imageType(e.Data)
	if err != nil {
		return false, fmt.Errorf("%s: %w", kind, err)
	}
	if old != nil && bytes.Equal(old.Data, e.Data) {
		return false, nil
	}
	return true, tx.SetImage(a.ID, kind, store.Image{ContentType: typ, Data: e.Data})
}

// announceProfile queues an Update of a's profile to its followers, in tx.
func (s *Service) announceProfile(tx *store.Tx, a *store.Actor) (int, error) {
	updateID := s.site.Actor(a.Username) + "#updates/" + randomID()
	act := &store.Activity{IRI: updateID, ActorID: a.ID, Type: "Update", Body: marshal(updateActorDocument(s.site, a, updateID, tx.Now))}
	if err := tx.InsertActivity(act); err != nil {
		return 0, err
	}
	tx.AfterCommit(func() { s.actors.forget(a.Username); s.kick() })
	return tx.QueueToFollowers(act.ID, a.ID)
}

// Actor returns the local actor with this username (any case), or an error
// wrapping ErrNotFound. A feed account (Options.FeedProfile) is returned
// whether or not its row exists: without one, it is a template with ID 0
// and no key, and nothing is created (MaterializeActor creates it). The
// value is shared and carries no private key: do not modify it.
func (s *Service) Actor(ctx context.Context, username string) (*store.Actor, error) {
	if a, ok := s.actors.byName.Get(lower(username)); ok {
		return a, nil
	}
	var a *store.Actor
	err := s.store.View(ctx, func(tx *store.Tx) (err error) {
		a, err = s.feedActor(tx, username)
		return err
	})
	if err != nil {
		return nil, err
	}
	a.PrivateKeyPEM = "" // signers load it when they need it
	// A template is read afresh each time: a Follow may create its row.
	if a.ID != 0 {
		s.actors.byName.Add(lower(a.Username), a)
	}
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
// Public data expires after actorCacheTTL: a profile changed by another
// process (nuttx-feed profile set) shows within that time.
type actorCache struct {
	byName  *expirable.LRU[string, *store.Actor]
	signers *lru.Cache[int64, *signer]
}

const (
	actorCacheSize  = 1024
	actorCacheTTL   = 5 * time.Second
	signerCacheSize = 64
)

func newActorCache() *actorCache {
	byName := expirable.NewLRU[string, *store.Actor](actorCacheSize, nil, actorCacheTTL)
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
