package server

import (
	"cmp"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// Mastodon's entities, as the API answers with them: ids are strings,
// times ISO 8601 with milliseconds, and the lists clients iterate are
// never null.

// apiAccount is a Mastodon Account.
type apiAccount struct {
	ID             string     `json:"id"`
	Username       string     `json:"username"`
	Acct           string     `json:"acct"`
	DisplayName    string     `json:"display_name"`
	Locked         bool       `json:"locked"`
	Bot            bool       `json:"bot"`
	Discoverable   bool       `json:"discoverable"`
	Group          bool       `json:"group"`
	CreatedAt      string     `json:"created_at"`
	Note           string     `json:"note"`
	URL            string     `json:"url"`
	URI            string     `json:"uri"`
	Avatar         string     `json:"avatar"`
	AvatarStatic   string     `json:"avatar_static"`
	Header         string     `json:"header"`
	HeaderStatic   string     `json:"header_static"`
	FollowersCount int        `json:"followers_count"`
	FollowingCount int        `json:"following_count"`
	StatusesCount  int        `json:"statuses_count"`
	LastStatusAt   *string    `json:"last_status_at"` // a date (2006-01-02), null with no status
	Emojis         []struct{} `json:"emojis"`
	Fields         []apiField `json:"fields"`
}

// apiField is a profile field of an Account.
type apiField struct {
	Name       string  `json:"name"`
	Value      string  `json:"value"`
	VerifiedAt *string `json:"verified_at"`
}

// apiStatus is a Mastodon Status.
type apiStatus struct {
	ID                 string       `json:"id"`
	URI                string       `json:"uri"`
	URL                string       `json:"url"`
	CreatedAt          string       `json:"created_at"`
	Account            apiAccount   `json:"account"`
	Content            string       `json:"content"`
	Visibility         string       `json:"visibility"`
	Sensitive          bool         `json:"sensitive"`
	SpoilerText        string       `json:"spoiler_text"`
	InReplyToID        *string      `json:"in_reply_to_id"`
	InReplyToAccountID *string      `json:"in_reply_to_account_id"`
	Reblog             *apiStatus   `json:"reblog"`
	RepliesCount       int          `json:"replies_count"`
	ReblogsCount       int          `json:"reblogs_count"`
	FavouritesCount    int          `json:"favourites_count"`
	Language           *string      `json:"language"`
	EditedAt           *string      `json:"edited_at"`
	MediaAttachments   []struct{}   `json:"media_attachments"`
	Mentions           []apiMention `json:"mentions"`
	Tags               []apiTag     `json:"tags"`
	Emojis             []struct{}   `json:"emojis"`
	Card               *struct{}    `json:"card"`
	Poll               *struct{}    `json:"poll"`
	// What the viewer did with the status (a bot favourites, boosts,
	// mutes, bookmarks and pins nothing: always false, also without a
	// token) and the app that posted it (not kept: null).
	Favourited  bool      `json:"favourited"`
	Reblogged   bool      `json:"reblogged"`
	Muted       bool      `json:"muted"`
	Bookmarked  bool      `json:"bookmarked"`
	Pinned      bool      `json:"pinned"`
	Application *struct{} `json:"application"`
	// Text is the status's source, sent only in the answer to its
	// deletion (for "delete and redraft"), as on Mastodon.
	Text *string `json:"text,omitempty"`
}

// apiMention is an account a Status mentions: id is its account's id
// (apiMentions).
type apiMention struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	URL      string `json:"url"`
	Acct     string `json:"acct"`
}

// apiTag is a hashtag of a Status.
type apiTag struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// apiTime formats t as Mastodon does: UTC, ISO 8601, milliseconds.
func apiTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// apiAccountOf describes the local actor a as a Mastodon Account.
func (s *Server) apiAccountOf(tx *store.Tx, a *store.Actor) (apiAccount, error) {
	followers, err := tx.FollowerCount(a.ID)
	if err != nil {
		return apiAccount{}, err
	}
	statuses, err := tx.NoteCount(a.ID)
	if err != nil {
		return apiAccount{}, err
	}
	last, posted, err := tx.LastNoteAt(a.ID)
	if err != nil {
		return apiAccount{}, err
	}
	avatar, _ := activitypub.Avatar(s.site, a)
	header, _ := activitypub.Header(s.site, a)
	if header == "" { // as a remote account without one: Mastodon never sends ""
		header = s.site.URL(urls.Static, missingImage)
	}
	fields := make([]apiField, len(a.Fields))
	for i, f := range a.Fields {
		fields[i] = apiField{Name: f.Name, Value: activitypub.FieldHTML(f)}
	}
	return apiAccount{
		ID: strconv.FormatInt(a.ID, 10), Username: a.Username, Acct: a.Username,
		DisplayName: a.DisplayName, Bot: true, Discoverable: true,
		CreatedAt: apiTime(a.CreatedAt), Note: activitypub.SummaryHTML(s.site, a),
		URL: s.site.Profile(a.Username), URI: s.site.Actor(a.Username),
		Avatar: avatar, AvatarStatic: avatar, Header: header, HeaderStatic: header,
		FollowersCount: followers, StatusesCount: statuses,
		LastStatusAt: apiDate(last, posted), Emojis: []struct{}{}, Fields: fields,
	}, nil
}

// apiDate formats t as the date Mastodon gives last_status_at (UTC), or
// null when not ok.
func apiDate(t time.Time, ok bool) *string {
	if !ok {
		return nil
	}
	d := t.UTC().Format(time.DateOnly)
	return &d
}

// apiStatusOf describes the local note n as a Mastodon Status.
func (s *Server) apiStatusOf(tx *store.Tx, n *store.Note) (*apiStatus, error) {
	out, err := s.apiStatusesOf(tx, []*store.Note{n})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// apiStatusesOf describes the local notes ns as Mastodon Statuses. A list
// reads each author's account once and the reply counts of all at once:
// a page of 20 statuses of one account made 20 times the same account.
func (s *Server) apiStatusesOf(tx *store.Tx, ns []*store.Note) ([]*apiStatus, error) {
	views, err := s.noteViews(tx, ns)
	if err != nil {
		return nil, err
	}
	accounts := map[string]apiAccount{}
	out := make([]*apiStatus, len(ns))
	for i, n := range ns {
		account, ok := accounts[n.Username]
		if !ok {
			a, err := tx.Actor(n.Username)
			if err != nil {
				return nil, err
			}
			if account, err = s.apiAccountOf(tx, a); err != nil {
				return nil, err
			}
			accounts[n.Username] = account
		}
		language := activitypub.NoteLanguage(n)
		st := &apiStatus{
			Language: &language, ID: n.PublicID, URI: s.svc.NoteIRI(n), URL: s.site.NoteURL(n.Username, n.PublicID),
			CreatedAt: apiTime(n.Published), Account: account, Content: n.Content,
			Visibility: n.Visibility, Sensitive: n.Sensitive, SpoilerText: n.Summary,
			RepliesCount: views[i].ReplyCount, MediaAttachments: []struct{}{},
			Tags: s.apiTags(n.Tags), Emojis: []struct{}{},
		}
		if st.Mentions, err = s.apiMentions(tx, n.Mentions); err != nil {
			return nil, err
		}
		if !n.Edited.IsZero() {
			edited := apiTime(n.Edited)
			st.EditedAt = &edited
		}
		if err := s.apiParent(tx, st, n.InReplyTo); err != nil {
			return nil, err
		}
		out[i] = st
	}
	return out, nil
}

// apiParent sets the in_reply_to fields of st when its parent, the IRI
// parent, is a local note or a stored reply; another remote parent has no
// id here.
func (s *Server) apiParent(tx *store.Tx, st *apiStatus, parent string) error {
	_, id, ok := s.site.ParseLocalNote(parent)
	if !ok {
		return s.apiRemoteParent(tx, st, parent)
	}
	p, err := tx.NoteByPublicID(id)
	if err != nil {
		return err
	}
	actor := strconv.FormatInt(p.ActorID, 10)
	st.InReplyToID, st.InReplyToAccountID = &p.PublicID, &actor
	return nil
}

// apiMentions describes a note's mentions with their accounts' ids: one
// of our actors by its local id, a remote one by its id in
// remote_account_ids (migration 0018 numbers every mentioned actor), with
// its profile page when known, else its IRI.
func (s *Server) apiMentions(tx *store.Tx, ms []store.Mention) ([]apiMention, error) {
	out := make([]apiMention, len(ms))
	for i, m := range ms {
		acct := strings.TrimPrefix(m.Name, "@")
		user, _, _ := strings.Cut(acct, "@")
		out[i] = apiMention{ID: m.Href, Username: user, URL: m.Href, Acct: acct}
		if username, ours := s.site.ParseLocalActor(m.Href); ours {
			a, err := tx.Actor(username)
			if errors.Is(err, store.ErrNotFound) {
				continue // not (or no longer) one of ours: its IRI
			}
			if err != nil {
				return nil, err
			}
			out[i].ID, out[i].URL, out[i].Acct = strconv.FormatInt(a.ID, 10), s.site.Profile(a.Username), a.Username
			continue
		}
		a, err := tx.RemoteAccountByIRI(m.Href)
		if errors.Is(err, store.ErrNotFound) {
			continue // not numbered (a note stored while 0018 was not applied cannot be): its IRI
		}
		if err != nil {
			return nil, err
		}
		out[i].ID, out[i].URL = apiRemoteID(a.Seq), cmp.Or(a.URL, m.Href)
	}
	return out, nil
}

// apiTags describes a note's hashtags, linked to their pages.
func (s *Server) apiTags(tags []string) []apiTag {
	out := make([]apiTag, len(tags))
	for i, t := range tags {
		out[i] = apiTag{Name: strings.ToLower(t), URL: s.site.Tag(strings.ToLower(t))}
	}
	return out
}
