package activitypub

// Replies from the Fediverse (docs/FEDERATION.md, "Incoming activities"):
// a signed Create{Note} answering one of our notes, or a reply already
// stored in one of our threads, is kept with its author's name, handle,
// avatar and profile, read from the actor document fetched for the key
// (no fetch of its own). Its content is sanitized on the way in. Update
// replaces it and Delete removes it, both only from its author. Anything
// else is acknowledged and dropped. A reply forwarded by another server
// (signed by the forwarder) is refused by the inbox's signer check: its
// origin is not asked.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

const (
	maxReplyContent = 16 << 10 // bytes of sanitized HTML a reply keeps; a longer one keeps its text, cut
	maxReplyText    = 2000     // characters of text kept of a reply over maxReplyContent
	maxAuthorName   = 100      // characters of an author's name
	maxLinkLength   = 2048     // longest avatar, profile or reply URL kept
	linkRel         = "nofollow noopener ugc"
)

// replyPolicy keeps about what Mastodon keeps of a remote note: paragraphs,
// line breaks, links (http and https only), spans, code, quotes, lists and
// emphasis. Scripts and styles go with their content; every attribute but
// a link's href goes, and with it every event handler.
var replyPolicy = func() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "span", "pre", "code", "blockquote", "ul", "ol", "li", "strong", "em", "b", "i", "del")
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("http", "https")
	p.RequireParseableURLs(true)
	return p
}()

// textPolicy keeps only the text, escaped.
var textPolicy = bluemonday.StrictPolicy()

// sanitizeReply returns content as a reply keeps it: sanitized with
// replyPolicy, every link with rel="nofollow noopener ugc"; over
// maxReplyContent bytes, its text alone, cut to maxReplyText characters.
func sanitizeReply(content string) string {
	out := replyPolicy.Sanitize(content)
	// The policy writes every kept link as <a href="..."> (and escapes any
	// "<" of the text), so this finds the links and nothing else.
	out = strings.ReplaceAll(out, "<a href=", `<a rel="`+linkRel+`" href=`)
	if len(out) <= maxReplyContent {
		return out
	}
	text := html.UnescapeString(textPolicy.Sanitize(content))
	return "<p>" + html.EscapeString(truncate(strings.TrimSpace(text), maxReplyText)) + "</p>"
}

// authorProfile is what a reply shows of its author, read from its actor
// document; url is "" until known.
type authorProfile struct {
	name   string // plain text, "" when the actor has none
	avatar string // an http(s) URL, "" for none
	url    string // its profile page: its url, else its id
}

// profile reads the actor's name, avatar and profile page.
func (d *remoteDocument) profile() authorProfile {
	p := authorProfile{name: plainName(stringOf(first(d.Name))), avatar: httpURL(linkOf(d.Icon, 3)), url: httpURL(linkOf(d.URL, 3))}
	if p.url == "" {
		p.url = d.ID
	}
	return p
}

// plainName returns s without control characters, trimmed and cut to
// maxAuthorName characters.
func plainName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	return truncate(strings.TrimSpace(s), maxAuthorName)
}

// linkOf returns the URL of a link property: a string, a Link's href, an
// object's url (looked into depth levels deep), or the first of an array.
func linkOf(raw json.RawMessage, depth int) string {
	raw = first(raw)
	if len(raw) == 0 || depth == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Href json.RawMessage `json:"href"`
		URL  json.RawMessage `json:"url"`
	}
	if json.Unmarshal(raw, &o) != nil {
		return ""
	}
	if h := stringOf(o.Href); h != "" {
		return h
	}
	return linkOf(o.URL, depth-1)
}

// httpURL returns s when it is an absolute http(s) URL without user
// information, at most maxLinkLength long; else "".
func httpURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || len(s) > maxLinkLength || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return ""
	}
	return s
}

// remoteNote is what we read of an embedded Note.
type remoteNote struct {
	ID, Type, AttributedTo, InReplyTo, Content, URL string
	Published                                       time.Time
}

// decodeNote reads the embedded object of a Create or Update; ok is false
// when the object is an IRI or not a JSON object.
func decodeNote(raw json.RawMessage) (n *remoteNote, ok bool) {
	var fields map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &fields) != nil {
		return nil, false
	}
	n = &remoteNote{
		ID:           idOf(fields["id"]),
		Type:         typeOf(fields["type"]),
		AttributedTo: idOf(fields["attributedTo"]),
		InReplyTo:    idOf(fields["inReplyTo"]),
		Content:      stringOf(fields["content"]),
		URL:          httpURL(linkOf(fields["url"], 3)),
	}
	if n.Content == "" { // some send contentMap alone
		var byLang map[string]string
		if json.Unmarshal(fields["contentMap"], &byLang) == nil {
			for _, c := range byLang {
				n.Content = c
				break
			}
		}
	}
	n.Published, _ = time.Parse(time.RFC3339Nano, stringOf(fields["published"]))
	return n, true
}

// handleCreate stores a reply to one of our threads; see the top of the
// file. A Create of anything else, or of a note answering something we do
// not hold, is acknowledged and dropped. A reply whose author is not the
// signer, or whose id is not on the signer's host, is refused.
func (s *Service) handleCreate(ctx context.Context, act *activity, signer *remoteKey, log *slog.Logger) error {
	n, ok := decodeNote(act.rawObject)
	if !ok || n.Type != "Note" || n.InReplyTo == "" {
		log.Debug("ignored Create: not an embedded Note answering something")
		return nil
	}
	thread, err := s.threadOf(ctx, n.InReplyTo)
	if err != nil || thread == "" {
		if err == nil {
			log.Debug("ignored Create: a reply to nothing of ours", "in_reply_to", n.InReplyTo)
		}
		return err
	}
	if err := checkAuthor(act, n); err != nil {
		return err
	}
	return s.saveReply(ctx, act, signer, n, thread, log)
}

// checkAuthor refuses a note that the activity's actor (the signer) did
// not write, or whose id is not on its host.
func checkAuthor(act *activity, n *remoteNote) error {
	if n.AttributedTo != act.Actor {
		return fmt.Errorf("%w: %s sent a note attributed to %s", ErrUnauthorized, act.Actor, truncate(n.AttributedTo, 80))
	}
	if !sameHost(n.ID, act.Actor) {
		return fmt.Errorf("%w: note id %s is not on the host of its author %s", ErrUnauthorized, truncate(n.ID, 80), act.Actor)
	}
	return nil
}

// threadOf returns the IRI of the local note whose page shows a reply to
// inReplyTo: that note itself, or the thread of the stored reply it is;
// "" when it is neither.
func (s *Service) threadOf(ctx context.Context, inReplyTo string) (thread string, err error) {
	err = s.store.View(ctx, func(tx *store.Tx) error {
		if username, id, ok := s.site.ParseLocalNote(inReplyTo); ok {
			n, err := tx.Note(username, id)
			if err == nil {
				thread = s.NoteIRI(n)
			}
			return ignoreNotFound(err)
		}
		r, err := tx.RemoteReply(inReplyTo)
		if err == nil {
			thread = r.Thread
		}
		return ignoreNotFound(err)
	})
	return thread, err
}

// ignoreNotFound is err, or nil when it says that something was not found.
func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// handleUpdate replaces a stored reply with the Note an Update embeds,
// when the signer wrote both. An Update of anything else, or by anyone
// else, is acknowledged and changes nothing.
func (s *Service) handleUpdate(ctx context.Context, act *activity, signer *remoteKey, log *slog.Logger) error {
	n, ok := decodeNote(act.rawObject)
	if !ok || n.Type != "Note" {
		log.Debug("ignored Update: not an embedded Note")
		return nil
	}
	var stored *store.RemoteReply
	err := s.store.View(ctx, func(tx *store.Tx) (err error) {
		stored, err = tx.RemoteReply(n.ID)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		log.Debug("ignored Update of a note we do not hold", "note", n.ID)
		return nil
	case err != nil:
		return err
	case stored.Author != act.Actor || n.AttributedTo != act.Actor:
		log.Info("ignored Update of a reply by someone other than its author", "note", n.ID, "author", stored.Author)
		return nil
	}
	n.InReplyTo = stored.InReplyTo // a reply stays where it was
	return s.saveReply(ctx, act, signer, n, stored.Thread, log)
}

// handleDelete removes the stored reply an activity's object names (by IRI
// or as a Tombstone) when the signer wrote it. Any other Delete is
// acknowledged and changes nothing.
func (s *Service) handleDelete(ctx context.Context, act *activity, log *slog.Logger) error {
	var removed bool
	err := s.update(ctx, func(tx *store.Tx) (err error) {
		removed, err = tx.DeleteRemoteReply(act.Object.ID, act.Actor)
		return err
	})
	if err != nil {
		return err
	}
	if removed {
		log.Info("reply deleted", "note", act.Object.ID)
	} else {
		log.Debug("ignored Delete: no reply of the actor's with that id", "object", act.Object.ID)
	}
	return nil
}

// saveReply stores n, a reply in thread, with its author as the signer's
// actor document shows it, and the signer's key with its profile.
func (s *Service) saveReply(ctx context.Context, act *activity, signer *remoteKey, n *remoteNote, thread string, log *slog.Logger) error {
	if signer.profile.url == "" { // a key stored before replies: read its owner once
		if k, err := s.withInboxes(ctx, signer); err == nil {
			signer = k
		} else {
			log.Info("reply: cannot read the author's actor; the reply shows its id", "err", err)
		}
	}
	r := s.replyOf(act.Actor, signer, n, thread)
	var existing *store.RemoteReply
	err := s.update(ctx, func(tx *store.Tx) error {
		var err error
		if existing, err = tx.RemoteReply(n.ID); ignoreNotFound(err) != nil {
			return err
		}
		if existing != nil && existing.Author != act.Actor {
			return fmt.Errorf("%w: note %s belongs to %s", ErrUnauthorized, truncate(n.ID, 80), existing.Author)
		}
		if err := tx.SaveRemoteReply(r); err != nil {
			return err
		}
		return tx.SaveRemoteActor(s.signerRecord(act.Actor, signer))
	})
	if err != nil {
		return err
	}
	log.Info("reply stored", "note", n.ID, "thread", thread, "replaced", existing != nil)
	return nil
}

// replyOf is the stored form of n, a reply by author in thread.
func (s *Service) replyOf(author string, signer *remoteKey, n *remoteNote, thread string) *store.RemoteReply {
	p := signer.profile
	if p.url == "" {
		p.url = author
	}
	handle := author
	if signer.username != "" {
		if u, err := url.Parse(author); err == nil {
			handle = "@" + signer.username + "@" + u.Host
		}
	}
	if p.name == "" {
		p.name = handle
	}
	r := &store.RemoteReply{NoteID: n.ID, InReplyTo: n.InReplyTo, Thread: thread, Author: author,
		AuthorName: p.name, AuthorHandle: handle, AuthorAvatar: p.avatar, AuthorURL: p.url,
		Content: sanitizeReply(n.Content), URL: n.URL, Published: n.Published}
	if r.URL == "" {
		r.URL = n.ID
	}
	if r.Published.IsZero() {
		r.Published = s.now()
	}
	return r
}

// signerRecord is the signer's key as stored, its inboxes left out when
// they break the rules for inboxes (checkInboxes): never kept.
func (s *Service) signerRecord(actor string, k *remoteKey) *store.RemoteActor {
	r := k.record()
	if s.checkInboxes(actor, r.Inbox, r.SharedInbox) != nil {
		r.Inbox, r.SharedInbox = "", ""
	}
	return r
}
