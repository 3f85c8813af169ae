package store

import (
	"fmt"
)

// Activity is an activity a local actor sends (Create, Accept, Update...),
// with the exact JSON bytes that go on the wire. It never changes once
// stored.
type Activity struct {
	ID      int64
	IRI     string
	ActorID int64
	Type    string
	NoteSeq int64 // the note a Create carries; 0 for none
	Body    []byte
}

// InsertActivity stores a and sets a.ID.
func (tx *Tx) InsertActivity(a *Activity) error {
	var note any
	if a.NoteSeq > 0 {
		note = a.NoteSeq
	}
	res, err := tx.exec(`INSERT INTO activities (iri, actor_id, type, note_id, body, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		a.IRI, a.ActorID, a.Type, note, a.Body, ms(tx.Now))
	if err != nil {
		return fmt.Errorf("store %s activity: %w", a.Type, err)
	}
	if a.ID, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("store %s activity: %w", a.Type, err)
	}
	return nil
}

// ActivityBody returns who sends activity id, and its bytes.
func (tx *Tx) ActivityBody(id int64) (actorID int64, body []byte, err error) {
	if err := tx.queryRow(`SELECT actor_id, body FROM activities WHERE id = ?`, id).Scan(&actorID, &body); err != nil {
		return 0, nil, fmt.Errorf("load activity %d: %w", id, err)
	}
	return actorID, body, nil
}
