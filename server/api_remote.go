package server

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// Remote accounts (followers, authors of stored replies) and remote
// statuses (stored replies) in the API.
//
// Their ids are 21 decimal digits: "1", then their row number (the
// account's in remote_account_ids, the reply's in remote_replies) padded
// to 20 digits. Local ids never have that form: a local account's id is
// its actors row id (19 digits at most, an int64), and a local status's
// id is its note's public id, 32 hex digits or an imported Mastodon id
// (1 to 20 digits). So the two never collide, an id alone tells which
// table to read, and clients that key their caches by id never mix a
// follower up with one of our actors. The ids are numbers, as Mastodon's
// are, and those of one kind sort by their row, the order they came in.

// remoteIDDigits is the length of a remote id.
const remoteIDDigits = 21

// missingImage is the static file (web/static) shown as the avatar and
// header of a remote account without one: a neutral grey square, as
// Mastodon serves /avatars/original/missing.png, never the bot's avatar.
const missingImage = "missing.png"

// apiRemoteID is the API id of the remote row seq.
func apiRemoteID(seq int64) string { return fmt.Sprintf("1%020d", seq) }

// parseRemoteID returns the row of the remote id id, and whether id is
// one.
func parseRemoteID(id string) (int64, bool) {
	if len(id) != remoteIDDigits || id[0] != '1' {
		return 0, false
	}
	n, err := strconv.ParseInt(id[1:], 10, 64)
	return n, err == nil && n > 0
}

// apiRemoteAccount describes a remote actor as a Mastodon Account, from
// what is stored of it.
func (s *Server) apiRemoteAccount(a *store.RemoteAccount) apiAccount {
	username, host := remoteHandle(a)
	avatar, missing := a.Avatar, s.site.URL(urls.Static, missingImage)
	if avatar == "" {
		avatar = missing
	}
	profile := a.URL
	if profile == "" {
		profile = a.IRI
	}
	return apiAccount{
		ID: apiRemoteID(a.Seq), Username: username, Acct: username + "@" + host, DisplayName: a.Name,
		CreatedAt: apiTime(a.FirstSeen), URL: profile, URI: a.IRI, Avatar: avatar, AvatarStatic: avatar,
		Header: missing, HeaderStatic: missing, Emojis: []struct{}{}, Fields: []apiField{},
	}
}

// remoteHandle returns the user and host of a remote actor's handle: as a
// reply of it showed it, else its preferredUsername (or the last segment
// of its IRI) at the host of its IRI.
func remoteHandle(a *store.RemoteAccount) (user, host string) {
	if u, h, ok := strings.Cut(strings.TrimPrefix(a.Handle, "@"), "@"); ok && u != "" && h != "" {
		return u, h
	}
	iri, err := url.Parse(a.IRI)
	if err != nil {
		return a.Username, ""
	}
	user = a.Username
	if user == "" {
		user = path.Base(iri.Path)
	}
	return user, iri.Host
}

// apiRemoteStatus describes the stored reply r as a Mastodon Status: its
// author as a remote account, its content sanitized as stored.
func (s *Server) apiRemoteStatus(tx *store.Tx, r *store.RemoteReply) (*apiStatus, error) {
	author, err := tx.RemoteAccountByIRI(r.Author)
	if err != nil {
		return nil, err
	}
	link := r.URL
	if link == "" {
		link = r.NoteID
	}
	st := &apiStatus{
		ID: apiRemoteID(r.Seq), URI: r.NoteID, URL: link, CreatedAt: apiTime(r.Published),
		Account: s.apiRemoteAccount(author), Content: r.Content, Visibility: store.Public,
		MediaAttachments: []struct{}{}, Mentions: []apiMention{}, Tags: []apiTag{}, Emojis: []struct{}{},
	}
	if err := s.apiParent(tx, st, r.InReplyTo); err != nil {
		return nil, err
	}
	return st, nil
}

// apiRemoteParent sets the in_reply_to fields of st when its parent, the
// IRI parent, is a stored reply; any other parent has no id here.
func (s *Server) apiRemoteParent(tx *store.Tx, st *apiStatus, parent string) error {
	p, err := tx.RemoteReply(parent)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	author, err := tx.RemoteAccountByIRI(p.Author)
	if err != nil {
		return err
	}
	id, account := apiRemoteID(p.Seq), apiRemoteID(author.Seq)
	st.InReplyToID, st.InReplyToAccountID = &id, &account
	return nil
}
