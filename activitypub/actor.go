package activitypub

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"html"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Actor is a local, followable account.
type Actor struct {
	ID           int64
	Username     string // canonical (lower case)
	Kind         string // "bot" for now; later "board", "target", "arch"
	DisplayName  string
	Summary      string // plain text; see SummaryHTML
	Fields       []Field
	PublicKeyPEM string
	CreatedAt    time.Time
	UpdatedAt    time.Time

	privateKey *rsa.PrivateKey
}

// Field is a profile link, shown as a PropertyValue (name and a link).
type Field struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

func (f Field) valueHTML() string {
	shown := strings.TrimPrefix(strings.TrimPrefix(f.URL, "https://"), "http://")
	return `<a href="` + html.EscapeString(f.URL) + `" rel="me nofollow noopener noreferrer" target="_blank">` +
		html.EscapeString(shown) + `</a>`
}

// SummaryHTML renders the plain-text bio as note-style HTML.
func (a *Actor) SummaryHTML(u URLs) string { return ParseText(a.Summary).HTML(u.Tag) }

// Profile is what the operator configures for an actor.
type Profile struct {
	Username    string
	DisplayName string
	Summary     string
	Fields      []Field
}

// usernameRE is Mastodon's username rule (INTEROP W2), lower case only so
// that every id, handle and WebFinger subject agrees byte for byte.
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
func (s *Service) EnsureActor(ctx context.Context, p Profile) (*Actor, bool, error) {
	return s.ensureActor(ctx, p, true)
}

// CreateActorIfMissing creates the actor of p when it does not exist yet,
// and otherwise returns it untouched (a one-off command must not rewrite
// the profile that the server was configured with).
func (s *Service) CreateActorIfMissing(ctx context.Context, p Profile) (*Actor, error) {
	a, _, err := s.ensureActor(ctx, p, false)
	return a, err
}

func (s *Service) ensureActor(ctx context.Context, p Profile, update bool) (*Actor, bool, error) {
	if err := p.validate(); err != nil {
		return nil, false, err
	}
	if p.Fields == nil {
		p.Fields = []Field{}
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

func (s *Service) createActor(ctx context.Context, p Profile) (*Actor, error) {
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
	privPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	fields, _ := json.Marshal(p.Fields)
	now := s.now().UnixMilli()
	// INSERT OR IGNORE: if another process created the actor meanwhile, its
	// key wins and ours is thrown away; the key never changes once stored.
	_, err = s.db.ExecContext(ctx, `INSERT OR IGNORE INTO actors
		(username, display_name, summary, fields, private_key_pem, public_key_pem, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		p.Username, p.DisplayName, p.Summary, string(fields), privPEM, pubPEM, now, now)
	if err != nil {
		return nil, fmt.Errorf("create actor %s: %w", p.Username, err)
	}
	s.log.Info("created actor", "username", p.Username)
	return s.Actor(ctx, p.Username)
}

func (s *Service) updateProfile(ctx context.Context, old *Actor, p Profile) (*Actor, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	now := s.now()
	fields, _ := json.Marshal(p.Fields)
	if _, err := tx.ExecContext(ctx, `UPDATE actors SET display_name = ?, summary = ?, fields = ?, updated_at = ? WHERE id = ?`,
		p.DisplayName, p.Summary, string(fields), now.UnixMilli(), old.ID); err != nil {
		return nil, err
	}
	a := *old
	a.DisplayName, a.Summary, a.Fields, a.UpdatedAt = p.DisplayName, p.Summary, p.Fields, now
	updateID := s.urls.Actor(a.Username) + "#updates/" + randomID()
	body := marshal(updateActorDocument(s.urls, &a, updateID, now))
	activityID, err := insertActivity(ctx, tx, updateID, a.ID, "Update", 0, body, now)
	if err != nil {
		return nil, err
	}
	n, err := queueToFollowers(ctx, tx, activityID, a.ID, now)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	s.forgetActor(a.Username)
	s.log.Info("profile updated", "username", a.Username, "deliveries", n)
	s.Kick()
	return s.Actor(ctx, a.Username)
}

// Actor returns the local actor with this username (any case), or an error
// wrapping ErrNotFound. The returned value is shared: do not modify it.
func (s *Service) Actor(ctx context.Context, username string) (*Actor, error) {
	key := strings.ToLower(username)
	s.mu.Lock()
	a, ok := s.actors[key]
	s.mu.Unlock()
	if ok {
		return a, nil
	}
	a = &Actor{}
	var fields string
	var created, updated int64
	var privPEM string
	err := s.db.QueryRowContext(ctx, `SELECT id, username, kind, display_name, summary, fields, private_key_pem, public_key_pem, created_at, updated_at
		FROM actors WHERE username = ?`, username).
		Scan(&a.ID, &a.Username, &a.Kind, &a.DisplayName, &a.Summary, &fields, &privPEM, &a.PublicKeyPEM, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no actor %q", ErrNotFound, username)
	}
	if err != nil {
		return nil, fmt.Errorf("load actor %q: %w", username, err)
	}
	if err := json.Unmarshal([]byte(fields), &a.Fields); err != nil {
		return nil, fmt.Errorf("actor %q: fields: %w", username, err)
	}
	a.CreatedAt, a.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	if a.privateKey, err = parsePrivateKey(privPEM); err != nil {
		return nil, fmt.Errorf("actor %q: %w", username, err)
	}
	s.mu.Lock()
	s.actors[key] = a
	s.mu.Unlock()
	return a, nil
}

// actorByID returns the local actor with this row id.
func (s *Service) actorByID(ctx context.Context, id int64) (*Actor, error) {
	s.mu.Lock()
	for _, a := range s.actors {
		if a.ID == id {
			s.mu.Unlock()
			return a, nil
		}
	}
	s.mu.Unlock()
	var username string
	if err := s.db.QueryRowContext(ctx, `SELECT username FROM actors WHERE id = ?`, id).Scan(&username); err != nil {
		return nil, fmt.Errorf("load actor #%d: %w", id, err)
	}
	return s.Actor(ctx, username)
}

func (s *Service) forgetActor(username string) {
	s.mu.Lock()
	delete(s.actors, strings.ToLower(username))
	s.mu.Unlock()
}

// ActorCount returns how many local actors exist.
func (s *Service) ActorCount(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM actors`).Scan(&n)
	return n, err
}

// ActorDocument returns the actor's JSON document (INTEROP A1).
func (s *Service) ActorDocument(ctx context.Context, username string) ([]byte, error) {
	a, err := s.Actor(ctx, username)
	if err != nil {
		return nil, err
	}
	return marshal(actorDocument(s.urls, a)), nil
}

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
