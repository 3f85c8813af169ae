package store

import (
	"encoding/json"
	"fmt"
)

// Mention is a remote actor a note mentions (migration 0010): tagged in
// the note's documents, addressed in their cc, and sent its Create and
// Delete.
type Mention struct {
	Href string `json:"href"` // the actor id
	Name string `json:"name"` // its handle, @user@host
	// Inbox is where the note's activities go: the actor's shared inbox
	// where it has one, else its personal inbox; "" for none (one of our
	// own actors).
	Inbox string `json:"inbox"`
}

// insertMentions stores the mentions of n, in order, once per actor.
func (tx *Tx) insertMentions(n *Note) error {
	for i, m := range n.Mentions {
		if _, err := tx.exec(`INSERT OR IGNORE INTO note_mentions (note_id, position, href, name, inbox) VALUES (?, ?, ?, ?, ?)`,
			n.Seq, i, m.Href, m.Name, m.Inbox); err != nil {
			return fmt.Errorf("store mention: %w", err)
		}
	}
	return nil
}

// mentionsColumn selects a note's mentions (alias n) as a JSON array, in
// order; scanMentions reads it.
const mentionsColumn = `(SELECT json_group_array(json_object('href', href, 'name', name, 'inbox', inbox))
	FROM (SELECT href, name, inbox FROM note_mentions WHERE note_id = n.id ORDER BY position))`

// scanMentions decodes mentionsColumn; none is nil.
func scanMentions(raw string) ([]Mention, error) {
	var ms []Mention
	if err := json.Unmarshal([]byte(raw), &ms); err != nil {
		return nil, fmt.Errorf("note mentions: %w", err)
	}
	if len(ms) == 0 {
		return nil, nil
	}
	return ms, nil
}

// QueueToMentioned queues activity activityID to the inboxes of the actors
// the note noteSeq mentions, once per inbox, leaving out those the
// activity is queued to already (a mentioned follower's server). Rows to a
// domain the breaker holds are queued set aside, as QueueToFollowers does.
// It returns how many deliveries were queued.
func (tx *Tx) QueueToMentioned(activityID, noteSeq int64) (int, error) {
	res, err := tx.exec(`INSERT INTO deliveries (activity_id, inbox, follower, next_attempt_at, created_at, domain, claimed)
		SELECT ?1, inbox, '', ?2, ?2, dom, `+heldDomain+`
		FROM (SELECT DISTINCT inbox, registrable_domain(inbox) AS dom FROM note_mentions m
		      WHERE note_id = ?3 AND inbox <> ''
		        AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.activity_id = ?1 AND d.inbox = m.inbox))
		ORDER BY inbox`,
		activityID, ms(tx.Now), noteSeq)
	if err != nil {
		return 0, fmt.Errorf("queue deliveries to mentioned actors: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
