package activitypub

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// Post is a note to publish.
type Post struct {
	Content *richtext.Content
	// InReplyTo is the parent: a local note's id or URL, or any http(s) IRI.
	InReplyTo string
	// Mentions are the actors the note tags and addresses, and whose
	// inboxes get its Create; ResolveMentions fills them.
	Mentions []store.Mention
	// Visibility is store.Public or store.Unlisted; "" is the actor's.
	Visibility string
	// Summary is the content warning (Mastodon's spoiler_text), plain
	// text; "" for none.
	Summary string
	// Sensitive marks the note sensitive (a content warning does too).
	Sensitive bool
	// Language is the note's language, an ISO 639 code (Mastodon's
	// language: en, de, pt-BR); "" is English, as the bot posts.
	Language string
	// EchoOf is the firehose note that this note of a feed account
	// repeats: deleting that note deletes this one too. nil for none.
	EchoOf *store.Note
}

// maxActivityBytes keeps every Create under Misskey's 64 KiB inbox limit.
const maxActivityBytes = 60 << 10

// hexID is the form of the public id of a note posted here (noteID):
// 32 lower-case hex digits.
var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// noteID returns the public id of a note published at now: 32 lower-case
// hex digits, the Unix milliseconds of now in the first 12 and 20 random
// ones after (a ULID in hex). Clients sort statuses by id (a longer id is
// newer, ids of one length compare as text), so new notes sort by time
// among themselves and after the shorter ids of imported Mastodon posts.
// Notes posted before ids were time-ordered keep their random ids.
func noteID(now time.Time) string {
	return fmt.Sprintf("%012x", uint64(now.UnixMilli())&(1<<48-1)) + randomID()[:20]
}

// Publish stores a note of the actor username inside tx, with its Create
// activity and one delivery per distinct inbox of its followers and of the
// actors it mentions (shared where there is one), and wakes the delivery
// queue once tx commits: a caller's own state change commits together with
// the note, or neither does. It returns
// ErrNotFound for an unknown actor or local parent, ErrInvalid for an empty
// or oversized note or a bad parent.
func (s *Service) Publish(tx *store.Tx, username string, p Post) (*store.Note, error) {
	a, ok := s.actors.byName.Get(lower(username))
	if !ok { // read in tx: no second connection while tx holds the write lock
		var err error
		if a, err = tx.Actor(username); err != nil {
			return nil, err
		}
	}
	parent, err := s.resolveParent(tx, p.InReplyTo)
	if err != nil {
		return nil, err
	}
	n := &store.Note{
		PublicID:  noteID(tx.Now),
		ActorID:   a.ID,
		Username:  a.Username,
		InReplyTo: parent,
		Published: tx.Now,
		// An actor cached by a server shows another process's change of
		// visibility within actorCacheTTL.
		Visibility: a.Visibility,
	}
	if p.Visibility != "" {
		n.Visibility = p.Visibility
	}
	if p.EchoOf != nil {
		n.EchoOf = p.EchoOf.Seq
	}
	if err := s.setText(n, p); err != nil {
		return nil, err
	}
	body, err := boundedBody(createDocument(s.site, n))
	if err != nil {
		return nil, err
	}
	if err := tx.InsertNote(n); err != nil {
		return nil, err
	}
	create := &store.Activity{IRI: s.site.Activity(a.Username, n.PublicID), ActorID: a.ID, Type: "Create", NoteSeq: n.Seq, Body: body}
	return n, s.send(tx, create, n, "published note")
}

// EditNote edits the note publicID of the actor username inside tx: its
// text, content warning, sensitivity and mentions become p's (the parent
// and the visibility stay), it is marked edited at tx.Now, and an
// Update{Note} goes to its audience as its Create did (its followers and
// the actors it now mentions). It returns ErrNotFound for a note that is
// not the actor's or was deleted, ErrInvalid for an empty or oversized
// text.
func (s *Service) EditNote(tx *store.Tx, username, publicID string, p Post) (*store.Note, error) {
	n, err := tx.NoteByPublicID(publicID)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(n.Username, username) || !n.Deleted.IsZero() {
		return nil, fmt.Errorf("%w: no note %s of %s", ErrNotFound, publicID, username)
	}
	if err := s.setText(n, p); err != nil {
		return nil, err
	}
	n.Edited = tx.Now
	id := s.NoteIRI(n) + "#updates/" + randomID() // as the actor's Updates: never two alike
	body, err := boundedBody(updateNoteDocument(s.site, n, id))
	if err != nil {
		return nil, err
	}
	if err := tx.EditNote(n); err != nil {
		return nil, err
	}
	update := &store.Activity{IRI: id, ActorID: n.ActorID, Type: "Update", NoteSeq: n.Seq, Body: body}
	return n, s.send(tx, update, n, "edited note")
}

// setText sets what n says from p: its content (HTML and plain text), tags,
// mentions, content warning and sensitivity. An empty content is
// ErrInvalid.
func (s *Service) setText(n *store.Note, p Post) error {
	if p.Content == nil || p.Content.IsEmpty() {
		return fmt.Errorf("%w: the note is empty", ErrInvalid)
	}
	n.Content, n.Source, n.Tags = p.Content.HTML(s.site.Tag), p.Content.PlainText(), p.Content.Tags()
	n.Mentions, n.Summary, n.Sensitive = p.Mentions, strings.TrimSpace(p.Summary), p.Sensitive
	if p.Language != "" && !ValidLanguage(p.Language) {
		return fmt.Errorf("%w: %q is not a language code (ISO 639, as en or pt-BR)", ErrInvalid, p.Language)
	}
	n.Language = p.Language
	return nil
}

// languageCode is an ISO 639 code with an optional region or script, as
// Mastodon takes a status's language (en, de, pt-BR, zh-Hant).
var languageCode = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$`)

// ValidLanguage reports whether code is a language code a note may have.
func ValidLanguage(code string) bool { return languageCode.MatchString(code) }

// NoteLanguage is the language of n: its own, or English ("en") for a note
// posted before languages were kept.
func NoteLanguage(n *store.Note) string {
	if n.Language == "" {
		return "en"
	}
	return n.Language
}

// boundedBody is the JSON of the activity doc, or ErrInvalid when it is
// over maxActivityBytes.
func boundedBody(doc map[string]any) ([]byte, error) {
	body := marshal(doc)
	if len(body) > maxActivityBytes {
		return nil, fmt.Errorf("%w: the note is too long (%d bytes of JSON, at most %d)", ErrInvalid, len(body), maxActivityBytes)
	}
	return body, nil
}

// send stores the activity act of the stored note n inside tx, queues it
// to the note's audience, and once tx commits wakes the delivery queue
// and logs what (the event) with the number of deliveries.
func (s *Service) send(tx *store.Tx, act *store.Activity, n *store.Note, what string) error {
	if err := tx.InsertActivity(act); err != nil {
		return err
	}
	queued, err := queueToAudience(tx, act.ID, n)
	if err != nil {
		return err
	}
	tx.AfterCommit(func() {
		s.kick()
		s.log.Info(what, "username", n.Username, "note", s.NoteIRI(n), "in_reply_to", n.InReplyTo, "deliveries", queued)
	})
	return nil
}

// queueToAudience queues the activity activityID of the note n to every
// inbox of its audience: its author's followers and the actors it
// mentions, once per inbox. It returns how many deliveries were queued.
func queueToAudience(tx *store.Tx, activityID int64, n *store.Note) (int, error) {
	followers, err := tx.QueueToFollowers(activityID, n.ActorID)
	if err != nil {
		return 0, err
	}
	mentioned, err := tx.QueueToMentioned(activityID, n.Seq)
	return followers + mentioned, err
}

// resolveParent turns a Post.InReplyTo into the parent's IRI. Local forms
// (bare id, note id, note HTML URL) must name an existing note.
func (s *Service) resolveParent(tx *store.Tx, ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return "", nil
	}
	publicID := ""
	if hexID.MatchString(ref) || importedID.MatchString(ref) {
		publicID = ref
	} else if _, id, ok := s.site.ParseLocalNote(ref); ok {
		publicID = id
	}
	if publicID != "" {
		n, err := tx.NoteByPublicID(publicID)
		if err != nil {
			return "", fmt.Errorf("in-reply-to: %w", err)
		}
		return s.site.Note(n.Username, n.PublicID), nil
	}
	u, err := url.Parse(ref)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: in-reply-to %q is neither a local note nor an http(s) URL", ErrInvalid, ref)
	}
	return ref, nil
}

// NoteIRI returns the id of n.
func (s *Service) NoteIRI(n *store.Note) string { return s.site.Note(n.Username, n.PublicID) }

// NoteStands tells whether iri is a local note that exists and is not
// deleted.
func (s *Service) NoteStands(tx *store.Tx, iri string) (bool, error) {
	_, id, ok := s.site.ParseLocalNote(iri)
	if !ok {
		return false, nil
	}
	n, err := tx.NoteByPublicID(id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return n.Deleted.IsZero(), nil
}
