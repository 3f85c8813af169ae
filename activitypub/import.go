package activitypub

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// Import is an account taken over from another server (Mastodon): the
// same username under the same base URL, so that its followers' servers
// keep following it, with its key, so that they keep trusting what it
// signs.
type Import struct {
	Profile       Profile
	PrivateKeyPEM string // PKCS#8
	PublicKeyPEM  string // PKIX
	Followers     []store.Follower
	Notes         []ImportedNote
}

// ImportedNote is a post of the imported account, kept at its old URL.
type ImportedNote struct {
	ID         string // its id in its URLs: decimal digits for Mastodon
	Text       string // plain text, rendered as nuttx-feed renders its own
	Published  time.Time
	InReplyTo  string // the parent's IRI, or ""
	Visibility string // store.Public or store.Unlisted
	Summary    string // its content warning, "" for none
	Sensitive  bool
}

// ImportResult says what an import did, or would do.
type ImportResult struct {
	ActorCreated, KeyReplaced, ProfileChanged bool
	FollowersAdded, FollowersKept             int
	NotesAdded, NotesKept                     int
	// UpdateQueued counts the inboxes an Update of the actor was queued to:
	// an existing actor's changed key or profile is announced to its
	// followers (the imported ones included, who lose nothing by it).
	UpdateQueued int
}

// importedID is the form of an imported note's id: Mastodon's snowflake
// ids in decimal. nuttx-feed's own ids are 32 hex digits (hexID).
var importedID = regexp.MustCompile(`^[0-9]{1,20}$`)

// errDryRun rolls back an import that only reports what it would do.
var errDryRun = errors.New("dry run")

// ImportAccount writes im into the database in one transaction: the actor
// (created, or given the imported key and profile), the followers and
// notes it does not hold yet. The imported followers' servers know this
// account already: only when an existing actor's key or profile changed
// is an Update queued, so that the servers of its own followers learn them. Without apply it does the same work and rolls it
// back, so the result it reports is exactly what apply would do. Running
// it twice changes nothing the second time.
func (s *Service) ImportAccount(ctx context.Context, im Import, apply bool) (ImportResult, error) {
	var r ImportResult
	if err := im.Profile.validate(); err != nil {
		return r, err
	}
	priv, err := parsePrivateKey(im.PrivateKeyPEM)
	if err != nil {
		return r, fmt.Errorf("%w: imported key: %v", ErrInvalid, err)
	}
	if pub, err := parsePublicKey(im.PublicKeyPEM); err != nil || !pub.Equal(&priv.PublicKey) {
		return r, fmt.Errorf("%w: the imported public key is not the private key's", ErrInvalid)
	}
	for _, n := range im.Notes {
		if !importedID.MatchString(n.ID) {
			return r, fmt.Errorf("%w: imported note id %q is not decimal", ErrInvalid, n.ID)
		}
	}
	err = s.update(ctx, func(tx *store.Tx) error {
		r = ImportResult{}
		a, err := s.importActor(tx, im, &r)
		if err != nil {
			return err
		}
		for _, f := range im.Followers {
			f.ActorID = a.ID
			added, err := tx.ImportFollower(f)
			if err != nil {
				return err
			}
			count(added, &r.FollowersAdded, &r.FollowersKept)
		}
		latest, err := tx.LatestPublished(a.ID)
		if err != nil {
			return err
		}
		for _, in := range im.Notes {
			added, err := tx.ImportNote(s.importedNote(a, in))
			if err != nil {
				return err
			}
			if added && in.Published.Before(latest) {
				return fmt.Errorf("%w: the bot has posts newer than the imported post %s; posts are listed in the order they were stored, "+
					"so import the posts before the bot's first post (or leave them out)", ErrInvalid, in.ID)
			}
			count(added, &r.NotesAdded, &r.NotesKept)
		}
		if !r.ActorCreated && (r.KeyReplaced || r.ProfileChanged) {
			if a, err = tx.Actor(a.Username); err != nil {
				return err
			}
			if r.UpdateQueued, err = s.announceProfile(tx, a); err != nil {
				return err
			}
		}
		tx.AfterCommit(func() { s.actors.forget(a.Username); s.actors.signers.Remove(a.ID) })
		if !apply {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	return r, err
}

// count adds one to added or to kept.
func count(wasAdded bool, added, kept *int) {
	if wasAdded {
		*added++
	} else {
		*kept++
	}
}

// importActor creates the imported actor, or gives the existing one the
// imported key and profile, in tx.
func (s *Service) importActor(tx *store.Tx, im Import, r *ImportResult) (*store.Actor, error) {
	p := im.Profile
	created, err := tx.CreateActor(&store.Actor{Username: p.Username, DisplayName: p.DisplayName, Summary: p.Summary,
		Fields: p.Fields, Visibility: p.Visibility, PrivateKeyPEM: im.PrivateKeyPEM, PublicKeyPEM: im.PublicKeyPEM})
	if err != nil {
		return nil, err
	}
	a, err := tx.Actor(p.Username)
	if err != nil || created {
		r.ActorCreated = created
		return a, err
	}
	if a.PublicKeyPEM != im.PublicKeyPEM {
		if err := tx.ReplaceKey(a.ID, im.PrivateKeyPEM, im.PublicKeyPEM); err != nil {
			return nil, err
		}
		r.KeyReplaced = true
	}
	if p.Visibility == "" {
		p.Visibility = a.Visibility
	}
	if p.Fields == nil {
		p.Fields = []store.Field{}
	}
	if old := profileOf(a); old.DisplayName != p.DisplayName || old.Summary != p.Summary || old.Visibility != p.Visibility || !slices.Equal(old.Fields, p.Fields) {
		a.DisplayName, a.Summary, a.Fields, a.Visibility = p.DisplayName, p.Summary, p.Fields, p.Visibility
		if err := tx.UpdateProfile(a); err != nil {
			return nil, err
		}
		r.ProfileChanged = true
	}
	return a, nil
}

// importedNote is the note of an imported post, rendered as nuttx-feed
// renders its own.
func (s *Service) importedNote(a *store.Actor, in ImportedNote) *store.Note {
	c := richtext.Parse(in.Text)
	return &store.Note{
		PublicID:   in.ID,
		ActorID:    a.ID,
		Username:   a.Username,
		Content:    c.HTML(s.site.Tag),
		Source:     c.PlainText(),
		InReplyTo:  in.InReplyTo,
		Tags:       c.Tags(),
		Published:  in.Published,
		Visibility: in.Visibility,
		Summary:    in.Summary,
		Sensitive:  in.Sensitive,
	}
}
