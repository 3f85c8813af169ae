package store

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Note is a published note of a local actor.
type Note struct {
	Seq       int64 // row id: increases with time, the paging cursor
	PublicID  string
	ActorID   int64
	Username  string
	Content   string // HTML as federated
	Source    string // plain-text form
	InReplyTo string // IRI of the parent note, "" for a thread root
	Tags      []string
	Published time.Time
	// Visibility is Public or Unlisted ("" is stored as Public).
	Visibility string
	Summary    string // content warning, plain text; "" for none
	Sensitive  bool
	Language   string    // ISO 639 code; "" for English (posted before languages were kept)
	Deleted    time.Time // when the note was deleted (DeleteNote); zero while it stands
	Edited     time.Time // when the note was last edited (EditNote); zero when never
	Mentions   []Mention // remote actors tagged and addressed, in order
	// EchoOf is the row (Seq) of the firehose note that this note of a
	// feed account repeats, 0 for none.
	EchoOf int64
}

// InsertNote stores n, its tags (names as shown; they are matched in
// lower case), its mentions and the note it echoes, and sets n.Seq.
func (tx *Tx) InsertNote(n *Note) error {
	if n.Visibility == "" {
		n.Visibility = Public
	}
	var echoOf sql.NullInt64
	if n.EchoOf != 0 {
		echoOf = sql.NullInt64{Int64: n.EchoOf, Valid: true}
	}
	res, err := tx.exec(`INSERT INTO notes (public_id, actor_id, content, source, in_reply_to, published_at, visibility, summary, sensitive, language, echo_of)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, n.PublicID, n.ActorID, n.Content, n.Source, n.InReplyTo, ms(n.Published), n.Visibility, n.Summary, n.Sensitive, n.Language, echoOf)
	if err != nil {
		return fmt.Errorf("store note: %w", err)
	}
	if n.Seq, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("store note: %w", err)
	}
	return tx.insertTagsAndMentions(n)
}

// insertTagsAndMentions stores the tags and the mentions of the stored
// note n.
func (tx *Tx) insertTagsAndMentions(n *Note) error {
	for _, t := range n.Tags {
		if _, err := tx.exec(`INSERT OR IGNORE INTO note_tags (note_id, name, display) VALUES (?, ?, ?)`,
			n.Seq, strings.ToLower(t), t); err != nil {
			return fmt.Errorf("store tag: %w", err)
		}
	}
	return tx.insertMentions(n)
}

// EditNote stores the edited note n (its row is n.Seq): its content,
// source, summary, sensitive, language, tags and mentions replace the stored ones,
// and its edited_at becomes n.Edited. A deleted note is not changed: an
// error wrapping ErrNotFound.
func (tx *Tx) EditNote(n *Note) error {
	res, err := tx.exec(`UPDATE notes SET content = ?, source = ?, summary = ?, sensitive = ?, language = ?, edited_at = ?
		WHERE id = ? AND deleted_at IS NULL`, n.Content, n.Source, n.Summary, n.Sensitive, n.Language, ms(n.Edited), n.Seq)
	if err != nil {
		return fmt.Errorf("edit note: %w", err)
	}
	if changed, err := res.RowsAffected(); err != nil || changed == 0 {
		return fmt.Errorf("%w: edit note %s: not found or deleted (%v)", ErrNotFound, n.PublicID, err)
	}
	for _, table := range []string{"note_tags", "note_mentions"} {
		if _, err := tx.exec(`DELETE FROM `+table+` WHERE note_id = ?`, n.Seq); err != nil {
			return fmt.Errorf("edit note: %w", err)
		}
	}
	return tx.insertTagsAndMentions(n)
}

// noteColumns selects a Note; scanNote reads them.
const noteColumns = `n.id, n.public_id, n.actor_id, a.username, n.content, n.source, n.in_reply_to, n.published_at, n.visibility, n.summary, n.sensitive, n.language,
	COALESCE((SELECT group_concat(display, ' ') FROM note_tags WHERE note_id = n.id), ''), n.deleted_at, n.edited_at, COALESCE(n.echo_of, 0), ` + mentionsColumn

func scanNote(row rowScanner) (*Note, error) {
	n := &Note{}
	var published int64
	var tags, mentions string
	var deleted, edited sql.NullInt64
	if err := row.Scan(&n.Seq, &n.PublicID, &n.ActorID, &n.Username, &n.Content, &n.Source, &n.InReplyTo, &published, &n.Visibility, &n.Summary, &n.Sensitive, &n.Language, &tags, &deleted, &edited, &n.EchoOf, &mentions); err != nil {
		return nil, err
	}
	var err error
	if n.Mentions, err = scanMentions(mentions); err != nil {
		return nil, err
	}
	n.Published = fromMS(published)
	if deleted.Valid {
		n.Deleted = fromMS(deleted.Int64)
	}
	if edited.Valid {
		n.Edited = fromMS(edited.Int64)
	}
	n.Tags = strings.Fields(tags)
	return n, nil
}

// Note returns the note publicID of the actor username, deleted or not
// (Note.Deleted tells).
func (tx *Tx) Note(username, publicID string) (*Note, error) {
	n, err := scanNote(tx.queryRow(`SELECT `+noteColumns+` FROM notes n JOIN actors a ON a.id = n.actor_id
		WHERE a.username = ? AND n.public_id = ?`, username, publicID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no note %s/%s", ErrNotFound, username, publicID)
	}
	if err != nil {
		return nil, fmt.Errorf("load note: %w", err)
	}
	return n, nil
}

// NoteByPublicID returns the note publicID, whoever wrote it, deleted or
// not.
func (tx *Tx) NoteByPublicID(publicID string) (*Note, error) {
	n, err := scanNote(tx.queryRow(`SELECT `+noteColumns+` FROM notes n JOIN actors a ON a.id = n.actor_id
		WHERE n.public_id = ?`, publicID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no local note %q", ErrNotFound, publicID)
	}
	if err != nil {
		return nil, fmt.Errorf("load note: %w", err)
	}
	return n, nil
}

// NoteCount returns how many notes the actor published and did not
// delete; all actors' notes when actorID is 0. It reads the count that
// triggers keep in actors.note_count (migrations/0011_page_indexes.sql):
// every page shows it.
func (tx *Tx) NoteCount(actorID int64) (int, error) {
	var n int
	var err error
	if actorID == 0 {
		err = tx.queryRow(`SELECT COALESCE(SUM(note_count), 0) FROM actors`).Scan(&n)
	} else {
		err = tx.queryRow(`SELECT COALESCE((SELECT note_count FROM actors WHERE id = ?), 0)`, actorID).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("count notes: %w", err)
	}
	return n, nil
}

// Page asks for one page of a list shown newest first, with Mastodon's
// cursors: the one paging helper of the outbox, the web pages and the API.
type Page struct {
	MaxID int64 // only items older than this (0: no bound)
	MinID int64 // only items newer than this, the oldest of them (0: no bound)
	// SinceID: only items newer than this, the newest of them (0: no
	// bound; Mastodon's since_id).
	SinceID int64
	// FromOldest takes the oldest items first even without MinID (the
	// outbox's "last" page is min_id=0).
	FromOldest bool
	Limit      int // 20 when 0; at most 100
}

// PageSize is the number of items on a page unless asked otherwise
// (Mastodon's too).
const PageSize = 20

func (p Page) limit() int {
	if p.Limit <= 0 {
		return PageSize
	}
	return min(p.Limit, 100)
}

// clause is the SQL that bounds a query's rows by the column id (AND ...),
// orders and limits them (ORDER BY id ... LIMIT ?), with its arguments,
// and whether it lists them oldest first: the caller hands them out newest
// first.
func (p Page) clause(id string) (sql string, ascending bool, args []any) {
	for _, b := range []struct {
		v  int64
		op string
	}{{p.MaxID, " < ?"}, {p.MinID, " > ?"}, {p.SinceID, " > ?"}} {
		if b.v > 0 {
			sql += ` AND ` + id + b.op
			args = append(args, b.v)
		}
	}
	ascending = p.FromOldest || p.MinID > 0
	if ascending {
		sql += ` ORDER BY ` + id + ` ASC LIMIT ?`
	} else {
		sql += ` ORDER BY ` + id + ` DESC LIMIT ?`
	}
	return sql, ascending, append(args, p.limit())
}

// NotePage is one page of notes, newest first, and whether pages exist on
// either side of it.
type NotePage struct {
	Notes []*Note
	Older bool // notes older than the last one exist: next page max_id = Notes[len-1].Seq
	Newer bool // notes newer than the first one exist: previous page min_id = Notes[0].Seq
}

// NoteFilter selects whose notes a page lists. Zero fields do not filter;
// deleted notes are never listed, nor, in lists of every actor's notes
// (no ActorID: hashtags, timelines), the echoes of feed accounts, which
// repeat a note listed there already.
type NoteFilter struct {
	ActorID int64
	Tag     string // a hashtag, any case, without '#'
	// PublicOnly leaves out unlisted notes.
	PublicOnly bool
	// SelfReplies, when set, leaves out replies except those to a note
	// whose IRI starts with it (the actor's own threads: Mastodon's
	// exclude_replies).
	SelfReplies string
}

func (f NoteFilter) where() (string, []any) {
	conds := []string{`n.deleted_at IS NULL`}
	var args []any
	if f.ActorID != 0 {
		conds, args = append(conds, `n.actor_id = ?`), append(args, f.ActorID)
	} else {
		conds = append(conds, `n.echo_of IS NULL`)
	}
	if f.Tag != "" {
		conds, args = append(conds, `n.id IN (SELECT note_id FROM note_tags WHERE name = ?)`), append(args, strings.ToLower(f.Tag))
	}
	if f.PublicOnly {
		conds, args = append(conds, `n.visibility = ?`), append(args, Public)
	}
	if f.SelfReplies != "" {
		conds = append(conds, `(n.in_reply_to = '' OR substr(n.in_reply_to, 1, length(?)) = ?)`)
		args = append(args, f.SelfReplies, f.SelfReplies)
	}
	return strings.Join(conds, ` AND `), args
}

// Notes returns a page of the notes f selects.
func (tx *Tx) Notes(f NoteFilter, p Page) (NotePage, error) {
	where, args := f.where()
	bounds, ascending, more := p.clause("n.id")
	q := `SELECT ` + noteColumns + ` FROM notes n JOIN actors a ON a.id = n.actor_id WHERE ` + where + bounds
	args = append(args, more...)
	notes, err := queryList(tx, func(rows *sql.Rows) (*Note, error) { return scanNote(rows) }, q, args...)
	if err != nil {
		return NotePage{}, fmt.Errorf("list notes: %w", err)
	}
	if ascending { // always hand out newest first
		slices.Reverse(notes)
	}
	page := NotePage{Notes: notes}
	if len(notes) > 0 {
		if page.Older, err = tx.notesBeyond(f, older, notes[len(notes)-1].Seq); err != nil {
			return NotePage{}, err
		}
		if page.Newer, err = tx.notesBeyond(f, newer, notes[0].Seq); err != nil {
			return NotePage{}, err
		}
	}
	return page, nil
}

// direction is a side of a page.
type direction bool

const (
	older direction = false
	newer direction = true
)

// notesBeyond reports whether f selects a note older or newer than seq.
func (tx *Tx) notesBeyond(f NoteFilter, d direction, seq int64) (bool, error) {
	where, args := f.where()
	cond := ` AND n.id < ?`
	if d == newer {
		cond = ` AND n.id > ?`
	}
	var found bool
	err := tx.queryRow(`SELECT EXISTS (SELECT 1 FROM notes n WHERE `+where+cond+`)`, append(args, seq)...).Scan(&found)
	if err != nil {
		return false, fmt.Errorf("list notes: %w", err)
	}
	return found, nil
}

// Replies returns the local notes that reply to iri, oldest first (at most
// 100), deleted ones left out.
func (tx *Tx) Replies(iri string) ([]*Note, error) {
	notes, err := queryList(tx, func(rows *sql.Rows) (*Note, error) { return scanNote(rows) },
		`SELECT `+noteColumns+` FROM notes n JOIN actors a ON a.id = n.actor_id WHERE n.in_reply_to = ? AND n.deleted_at IS NULL ORDER BY n.id LIMIT 100`, iri)
	if err != nil {
		return nil, fmt.Errorf("list replies: %w", err)
	}
	return notes, nil
}

// ReplyCounts returns how many local replies (deleted ones left out) each
// of the given IRIs has.
func (tx *Tx) ReplyCounts(iris []string) (map[string]int, error) {
	return countByKey(tx, "replies", `SELECT in_reply_to, COUNT(*) FROM notes WHERE in_reply_to IN (%s) AND deleted_at IS NULL GROUP BY in_reply_to`, iris)
}

// countByKey runs query, which selects (key, count) rows for the keys in
// its IN (%s) list, and returns the counts by key (absent keys count 0);
// what names the count in errors.
func countByKey(tx *Tx, what, query string, keys []string) (map[string]int, error) {
	counts := map[string]int{}
	if len(keys) == 0 {
		return counts, nil
	}
	args := make([]any, len(keys))
	for i, s := range keys {
		args[i] = s
	}
	rows, err := tx.query(fmt.Sprintf(query, "?"+strings.Repeat(",?", len(keys)-1)), args...)
	if err != nil {
		return nil, fmt.Errorf("count %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var n int
		if err := rows.Scan(&key, &n); err != nil {
			return nil, fmt.Errorf("count %s: %w", what, err)
		}
		counts[key] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count %s: %w", what, err)
	}
	return counts, nil
}
