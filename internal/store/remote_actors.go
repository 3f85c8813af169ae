package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// RemoteActor is a remote actor whose signed request we accepted, with the
// key it signed with: the persistent key cache.
type RemoteActor struct {
	IRI          string
	KeyID        string
	PublicKeyPEM string
	Inbox        string // "" until known
	SharedInbox  string
	Username     string // its preferredUsername; "" until known
	// Profile: what a reply shows of its author ("" until known; Avatar
	// may stay "" for an actor without one).
	Name       string
	Avatar     string
	ProfileURL string
	FetchedAt  time.Time
}

// RemoteActorByKeyID returns the remote actor whose key is keyID.
func (tx *Tx) RemoteActorByKeyID(keyID string) (*RemoteActor, error) {
	return tx.remoteActor("key_id", keyID)
}

// RemoteActor returns the stored record of the remote actor iri.
func (tx *Tx) RemoteActor(iri string) (*RemoteActor, error) {
	return tx.remoteActor("iri", iri)
}

// remoteActor loads the remote actor whose column (iri or key_id) is value.
func (tx *Tx) remoteActor(column, value string) (*RemoteActor, error) {
	r := &RemoteActor{}
	var fetched int64
	err := tx.queryRow(`SELECT iri, key_id, public_key_pem, inbox, shared_inbox, username, name, avatar, profile_url, fetched_at
		FROM remote_actors WHERE `+column+` = ?`, value).Scan(&r.IRI, &r.KeyID, &r.PublicKeyPEM, &r.Inbox, &r.SharedInbox,
		&r.Username, &r.Name, &r.Avatar, &r.ProfileURL, &fetched)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no remote actor with %s %s", ErrNotFound, column, value)
	}
	if err != nil {
		return nil, fmt.Errorf("load remote actor: %w", err)
	}
	r.FetchedAt = fromMS(fetched)
	return r, nil
}

// SaveRemoteActor records an accepted signer. Known inboxes, username and
// profile are kept when r brings none (a key stub names no inbox).
func (tx *Tx) SaveRemoteActor(r *RemoteActor) error {
	_, err := tx.exec(`INSERT INTO remote_actors (iri, key_id, public_key_pem, inbox, shared_inbox, username, name, avatar, profile_url, fetched_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (iri) DO UPDATE SET key_id = excluded.key_id, public_key_pem = excluded.public_key_pem,
			inbox = CASE WHEN excluded.inbox <> '' THEN excluded.inbox ELSE remote_actors.inbox END,
			shared_inbox = CASE WHEN excluded.inbox <> '' THEN excluded.shared_inbox ELSE remote_actors.shared_inbox END,
			username = CASE WHEN excluded.username <> '' THEN excluded.username ELSE remote_actors.username END,
			name = CASE WHEN excluded.profile_url <> '' THEN excluded.name ELSE remote_actors.name END,
			avatar = CASE WHEN excluded.profile_url <> '' THEN excluded.avatar ELSE remote_actors.avatar END,
			profile_url = CASE WHEN excluded.profile_url <> '' THEN excluded.profile_url ELSE remote_actors.profile_url END,
			fetched_at = excluded.fetched_at`,
		r.IRI, r.KeyID, r.PublicKeyPEM, r.Inbox, r.SharedInbox, r.Username, r.Name, r.Avatar, r.ProfileURL, ms(r.FetchedAt))
	if err != nil {
		return fmt.Errorf("save remote actor: %w", err)
	}
	return nil
}

// DeleteRemoteActor forgets iri and its key.
func (tx *Tx) DeleteRemoteActor(iri string) error {
	if _, err := tx.exec(`DELETE FROM remote_actors WHERE iri = ?`, iri); err != nil {
		return fmt.Errorf("delete remote actor: %w", err)
	}
	return nil
}
