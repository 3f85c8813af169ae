package activitypub

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Note is a published note of a local actor.
type Note struct {
	Seq       int64  // row id: increases with time, used as the paging cursor
	PublicID  string // the hex id in its URLs
	Username  string
	Content   string // HTML as federated
	Source    string // plain-text form
	InReplyTo string // IRI of the parent note, "" for a thread root
	Tags      []string
	Published time.Time
}

// Post is a note to publish.
type Post struct {
	Content *Content
	// InReplyTo is the parent: a local note's id or URL, or any http(s) IRI.
	InReplyTo string
}

// maxActivityBytes keeps every Create under Misskey's 64 KiB inbox limit.
const maxActivityBytes = 60 << 10

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Publish stores a note of the actor username with its Create activity and
// queues one delivery per distinct follower inbox (shared where there is
// one), all in one transaction, then wakes the delivery queue. It returns
// ErrNotFound for an unknown actor or local parent, ErrInvalid for an empty
// or oversized note or a bad parent.
func (s *Service) Publish(ctx context.Context, username string, p Post) (*Note, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	n, err := s.PublishTx(ctx, tx, username, p)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("publish: commit: %w", err)
	}
	s.Kick()
	return n, nil
}

// PublishTx is Publish inside the caller's transaction, so that a caller's
// own state change commits together with the note (or not at all). The
// caller commits and then calls Kick.
func (s *Service) PublishTx(ctx context.Context, tx *sql.Tx, username string, p Post) (*Note, error) {
	a, err := s.Actor(ctx, username)
	if err != nil {
		return nil, err
	}
	if p.Content == nil || p.Content.IsEmpty() {
		return nil, fmt.Errorf("%w: the note is empty", ErrInvalid)
	}
	parent, err := s.resolveParent(ctx, tx, p.InReplyTo)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	n := &Note{
		PublicID:  randomID(),
		Username:  a.Username,
		Content:   p.Content.HTML(s.urls.Tag),
		Source:    p.Content.PlainText(),
		InReplyTo: parent,
		Tags:      p.Content.Tags(),
		Published: now,
	}
	body := marshal(createDocument(s.urls, n))
	if len(body) > maxActivityBytes {
		return nil, fmt.Errorf("%w: the note is too long (%d bytes of JSON, at most %d)", ErrInvalid, len(body), maxActivityBytes)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO notes (public_id, actor_id, content, source, in_reply_to, published_at)
		VALUES (?, ?, ?, ?, ?, ?)`, n.PublicID, a.ID, n.Content, n.Source, n.InReplyTo, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("store note: %w", err)
	}
	if n.Seq, err = res.LastInsertId(); err != nil {
		return nil, err
	}
	for _, t := range n.Tags {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO note_tags (note_id, name, display) VALUES (?, ?, ?)`,
			n.Seq, lower(t), t); err != nil {
			return nil, fmt.Errorf("store tag: %w", err)
		}
	}
	activityID, err := insertActivity(ctx, tx, s.urls.Activity(s.urls.Note(a.Username, n.PublicID)), a.ID, "Create", n.Seq, body, now)
	if err != nil {
		return nil, err
	}
	queued, err := queueToFollowers(ctx, tx, activityID, a.ID, now)
	if err != nil {
		return nil, err
	}
	s.log.Info("published note", "username", a.Username, "note", s.urls.Note(a.Username, n.PublicID),
		"in_reply_to", n.InReplyTo, "deliveries", queued)
	return n, nil
}

// resolveParent turns a Post.InReplyTo into the parent's IRI. Local forms
// (bare id, note id, note HTML URL) must name an existing note.
func (s *Service) resolveParent(ctx context.Context, tx *sql.Tx, ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return "", nil
	}
	publicID := ""
	if hexID.MatchString(ref) {
		publicID = ref
	} else if _, id, ok := s.urls.ParseLocalNote(ref); ok {
		publicID = id
	}
	if publicID != "" {
		var username string
		err := tx.QueryRowContext(ctx, `SELECT a.username FROM notes n JOIN actors a ON a.id = n.actor_id WHERE n.public_id = ?`,
			publicID).Scan(&username)
		if errors.Is(err, sql.ErrNoRows) {
			return "", fmt.Errorf("%w: in-reply-to: no local note %q", ErrNotFound, ref)
		}
		if err != nil {
			return "", err
		}
		return s.urls.Note(username, publicID), nil
	}
	u, err := url.Parse(ref)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: in-reply-to %q is neither a local note nor an http(s) URL", ErrInvalid, ref)
	}
	return ref, nil
}

func insertActivity(ctx context.Context, tx *sql.Tx, iri string, actorID int64, typ string, noteSeq int64, body []byte, now time.Time) (int64, error) {
	var note any
	if noteSeq > 0 {
		note = noteSeq
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO activities (iri, actor_id, type, note_id, body, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		iri, actorID, typ, note, body, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("store %s activity: %w", typ, err)
	}
	return res.LastInsertId()
}

// noteColumns selects a Note; scanNote reads them.
const noteColumns = `n.id, n.public_id, a.username, n.content, n.source, n.in_reply_to, n.published_at,
	COALESCE((SELECT group_concat(display, ' ') FROM note_tags WHERE note_id = n.id), '')`

func scanNote(row interface{ Scan(...any) error }) (*Note, error) {
	n := &Note{}
	var published int64
	var tags string
	if err := row.Scan(&n.Seq, &n.PublicID, &n.Username, &n.Content, &n.Source, &n.InReplyTo, &published, &tags); err != nil {
		return nil, err
	}
	n.Published = time.UnixMilli(published).UTC()
	n.Tags = strings.Fields(tags)
	return n, nil
}

// Note returns the note publicID of the actor username, or ErrNotFound.
func (s *Service) Note(ctx context.Context, username, publicID string) (*Note, error) {
	n, err := scanNote(s.db.QueryRowContext(ctx, `SELECT `+noteColumns+` FROM notes n JOIN actors a ON a.id = n.actor_id
		WHERE a.username = ? AND n.public_id = ?`, username, publicID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no note %s/%s", ErrNotFound, username, publicID)
	}
	if err != nil {
		return nil, fmt.Errorf("load note: %w", err)
	}
	return n, nil
}

// NoteIRI returns the id of n.
func (s *Service) NoteIRI(n *Note) string { return s.urls.Note(n.Username, n.PublicID) }

// NoteDocument returns the JSON of a note.
func (s *Service) NoteDocument(ctx context.Context, username, publicID string) ([]byte, error) {
	n, err := s.Note(ctx, username, publicID)
	if err != nil {
		return nil, err
	}
	return marshal(noteDocument(s.urls, n)), nil
}

// CreateDocument returns the JSON of a note's Create activity.
func (s *Service) CreateDocument(ctx context.Context, username, publicID string) ([]byte, error) {
	n, err := s.Note(ctx, username, publicID)
	if err != nil {
		return nil, err
	}
	return marshal(createDocument(s.urls, n)), nil
}

// Page selects a page of notes. Pages are always returned newest first.
type Page struct {
	Before int64 // only notes with Seq < Before (0: no bound)
	After  int64 // only notes with Seq > After (0: no bound)
	// Oldest takes the oldest matching notes instead of the newest; it is
	// implied by After (Mastodon's min_id paging).
	Oldest bool
	Limit  int // default 20, at most 100
}

func (p Page) limit() int {
	if p.Limit <= 0 || p.Limit > 100 {
		return 20
	}
	return p.Limit
}

// Notes returns a page of the actor's notes, newest first.
func (s *Service) Notes(ctx context.Context, username string, p Page) ([]*Note, error) {
	return s.queryNotes(ctx, `a.username = ?`, []any{username}, p)
}

// NotesTagged returns a page of notes carrying the hashtag (any case).
func (s *Service) NotesTagged(ctx context.Context, tag string, p Page) ([]*Note, error) {
	return s.queryNotes(ctx, `n.id IN (SELECT note_id FROM note_tags WHERE name = ?)`, []any{lower(tag)}, p)
}

// Replies returns the local notes that reply to iri, oldest first.
func (s *Service) Replies(ctx context.Context, iri string) ([]*Note, error) {
	notes, err := s.queryNotes(ctx, `n.in_reply_to = ?`, []any{iri}, Page{Oldest: true, Limit: 100})
	slices.Reverse(notes)
	return notes, err
}

// ReplyCounts returns how many local replies each of the given notes has.
func (s *Service) ReplyCounts(ctx context.Context, notes []*Note) (map[string]int, error) {
	counts := map[string]int{}
	if len(notes) == 0 {
		return counts, nil
	}
	iris := make([]any, len(notes))
	for i, n := range notes {
		iris[i] = s.NoteIRI(n)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT in_reply_to, COUNT(*) FROM notes WHERE in_reply_to IN (?`+
		strings.Repeat(",?", len(iris)-1)+`) GROUP BY in_reply_to`, iris...)
	if err != nil {
		return nil, fmt.Errorf("count replies: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var iri string
		var n int
		if err := rows.Scan(&iri, &n); err != nil {
			return nil, err
		}
		counts[iri] = n
	}
	return counts, rows.Err()
}

func (s *Service) queryNotes(ctx context.Context, where string, args []any, p Page) ([]*Note, error) {
	q := `SELECT ` + noteColumns + ` FROM notes n JOIN actors a ON a.id = n.actor_id WHERE ` + where
	if p.Before > 0 {
		q += ` AND n.id < ?`
		args = append(args, p.Before)
	}
	if p.After > 0 {
		q += ` AND n.id > ?`
		args = append(args, p.After)
	}
	ascending := p.Oldest || p.After > 0
	order := ` ORDER BY n.id DESC`
	if ascending {
		order = ` ORDER BY n.id ASC`
	}
	q += order + ` LIMIT ?`
	args = append(args, p.limit())
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list notes: %w", err)
	}
	defer rows.Close()
	var notes []*Note
	for rows.Next() {
		n, err := scanNote(rows)
		if err != nil {
			return nil, err
		}
		notes = append(notes, n)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if ascending { // always hand out newest first
		slices.Reverse(notes)
	}
	return notes, nil
}

// NoteCount returns how many notes the actor published (all actors when
// username is empty).
func (s *Service) NoteCount(ctx context.Context, username string) (int, error) {
	var n int
	var err error
	if username == "" {
		err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notes`).Scan(&n)
	} else {
		err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notes n JOIN actors a ON a.id = n.actor_id WHERE a.username = ?`, username).Scan(&n)
	}
	return n, err
}
