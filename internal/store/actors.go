package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Actor is a local, followable account with its key pair.
type Actor struct {
	ID            int64
	Username      string // canonical (lower case)
	Kind          string // KindBot, or a feed account's: KindBoard, KindTarget, KindArch
	DisplayName   string
	Summary       string // plain text
	Fields        []Field
	Visibility    string // of its posts: "public" or "unlisted"
	PrivateKeyPEM string // PKCS#8
	PublicKeyPEM  string // PKIX
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// Avatar and Header describe its images (their data is read with
	// Tx.Image); an empty ContentType means none.
	Avatar, Header ImageInfo
}

// ImageInfo is what an actor document says of an image: its type, and its
// time, which versions its URL.
type ImageInfo struct {
	ContentType string
	UpdatedAt   time.Time
}

// Visibilities of posts.
const (
	Public   = "public"
	Unlisted = "unlisted"
)

// Field is a profile link (name and URL).
type Field struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// feedKinds is the SQL list of the feed's account kinds (IsFeedKind).
const feedKinds = `('board', 'target', 'arch')`

// firehoseID selects the row id of the firehose, the actor that
// identity.username names (NULL when no identity is stored).
const firehoseID = `(SELECT f.id FROM actors f JOIN identity i ON f.username = i.username)`

// imageOwner selects whose images (and visibility) an actors row shows: a
// feed account shows the firehose's (falling back to its own without an
// identity), any other actor its own.
const imageOwner = `(CASE WHEN actors.kind IN ` + feedKinds + ` THEN COALESCE(` + firehoseID + `, actors.id) ELSE actors.id END)`

// actorColumns are the columns scanActor reads. A feed account's
// visibility and images are the firehose's, read here so that every
// reader (documents, Publish, the API) agrees.
const actorColumns = `id, username, kind, display_name, summary, fields,
	(SELECT o.visibility FROM actors o WHERE o.id = ` + imageOwner + `),
	private_key_pem, public_key_pem, created_at, updated_at,
	COALESCE((SELECT content_type || ' ' || updated_at FROM actor_images WHERE actor_id = ` + imageOwner + ` AND kind = 'avatar'), ''),
	COALESCE((SELECT content_type || ' ' || updated_at FROM actor_images WHERE actor_id = ` + imageOwner + ` AND kind = 'header'), '')`

func scanActor(row rowScanner) (*Actor, error) {
	a := &Actor{}
	var fields, avatar, header string
	var created, updated int64
	if err := row.Scan(&a.ID, &a.Username, &a.Kind, &a.DisplayName, &a.Summary, &fields, &a.Visibility,
		&a.PrivateKeyPEM, &a.PublicKeyPEM, &created, &updated, &avatar, &header); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(fields), &a.Fields); err != nil {
		return nil, fmt.Errorf("actor %q: fields: %w", a.Username, err)
	}
	a.CreatedAt, a.UpdatedAt = fromMS(created), fromMS(updated)
	a.Avatar, a.Header = imageInfo(avatar), imageInfo(header)
	return a, nil
}

// imageInfo reads "TYPE MILLISECONDS", as actorColumns selects it; "" is
// no image.
func imageInfo(s string) ImageInfo {
	typ, at, ok := strings.Cut(s, " ")
	if !ok {
		return ImageInfo{}
	}
	n, _ := strconv.ParseInt(at, 10, 64)
	return ImageInfo{ContentType: typ, UpdatedAt: fromMS(n)}
}

// Actor returns the local actor with this username (any case).
func (tx *Tx) Actor(username string) (*Actor, error) {
	return tx.actor(`username = ?`, fmt.Sprintf("%q", username), username)
}

// ActorByID returns the local actor with this row id.
func (tx *Tx) ActorByID(id int64) (*Actor, error) {
	return tx.actor(`id = ?`, fmt.Sprintf("#%d", id), id)
}

// actor loads the actor that cond (a fixed condition of this file, on an
// indexed column, with args) selects; name says which one in errors.
func (tx *Tx) actor(cond, name string, args ...any) (*Actor, error) {
	a, err := scanActor(tx.queryRow(`SELECT `+actorColumns+` FROM actors WHERE `+cond, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no actor %s", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("load actor %s: %w", name, err)
	}
	return a, nil
}

// Firehose returns the actor that the stored identity names (the bot the
// feed posts as, whose visibility and images the feed accounts show), or an
// error wrapping ErrNotFound when there is no identity or no such actor.
func (tx *Tx) Firehose() (*Actor, error) {
	return tx.actor(`id = `+firehoseID, "of the identity")
}

// CreateActor inserts a, unless an actor with its username exists already
// (another process may have created it meanwhile: its key wins, as a key
// never changes once stored). It returns whether a was inserted.
func (tx *Tx) CreateActor(a *Actor) (bool, error) {
	fields, err := json.Marshal(nonNil(a.Fields))
	if err != nil {
		return false, err
	}
	kind := a.Kind
	if kind == "" {
		kind = "bot"
	}
	visibility := a.Visibility
	if visibility == "" {
		visibility = Public
	}
	res, err := tx.exec(`INSERT OR IGNORE INTO actors
		(username, kind, display_name, summary, fields, visibility, private_key_pem, public_key_pem, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.Username, kind, a.DisplayName, a.Summary, string(fields), visibility, a.PrivateKeyPEM, a.PublicKeyPEM, ms(tx.Now), ms(tx.Now))
	if err != nil {
		return false, fmt.Errorf("create actor %s: %w", a.Username, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// UpdateProfile saves a's display name, summary, fields and visibility,
// and stamps it updated.
func (tx *Tx) UpdateProfile(a *Actor) error {
	f, err := json.Marshal(nonNil(a.Fields))
	if err != nil {
		return err
	}
	if _, err := tx.exec(`UPDATE actors SET display_name = ?, summary = ?, fields = ?, visibility = ?, updated_at = ? WHERE id = ?`,
		a.DisplayName, a.Summary, string(f), a.Visibility, ms(tx.Now), a.ID); err != nil {
		return fmt.Errorf("update profile: %w", err)
	}
	return nil
}

// ReplaceKey replaces the key pair of an actor: only an import of the
// account from another server does that, as followers' servers then know
// the imported key.
func (tx *Tx) ReplaceKey(actorID int64, privateKeyPEM, publicKeyPEM string) error {
	if _, err := tx.exec(`UPDATE actors SET private_key_pem = ?, public_key_pem = ?, updated_at = ? WHERE id = ?`,
		privateKeyPEM, publicKeyPEM, ms(tx.Now), actorID); err != nil {
		return fmt.Errorf("replace key: %w", err)
	}
	return nil
}

// ActorCount returns how many local actors exist.
func (tx *Tx) ActorCount() (int, error) {
	var n int
	if err := tx.queryRow(`SELECT COUNT(*) FROM actors`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count actors: %w", err)
	}
	return n, nil
}

// Usernames returns the usernames of the local actors of kind bot (the
// operator's; not the feed's accounts), oldest first.
func (tx *Tx) Usernames() ([]string, error) {
	rows, err := tx.query(`SELECT username FROM actors WHERE kind = 'bot' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("usernames: %w", err)
	}
	return scanAll(rows, func(r *sql.Rows) (name string, err error) { return name, r.Scan(&name) })
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
