package activitypub

// Replies from the Fediverse (docs/FEDERATION.md, "Incoming activities"):
// a signed Create{Note} answering one of our notes, or a reply already
// stored in one of our threads, is kept with its author's name, handle,
// avatar and profile, read from the actor document fetched for the key
// (no fetch of its own). A public note that mentions one of our actors
// gets the same treatment, stored under that actor (its thread is the
// actor id) for its profile page. Content is sanitized on the way in.
// Update replaces it and Delete removes it, both only from its author.
// Anything else is acknowledged and dropped.
//
// A reply forwarded by another server (signed by the forwarder, not its
// author: inbox forwarding) is taken from its origin only
// (handleForwarded): fetched by id with our signed GET, checked, and
// stored as the origin serves it; its forwarded Delete counts only when
// the origin says the note is gone.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/microcosm-cc/bluemonday"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
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

// remoteNote is what we read of an embedded or fetched Note.
type remoteNote struct {
	ID, Type, AttributedTo, InReplyTo, Content, URL string
	Published                                       time.Time
	// Audience is its to and cc; Mentions the hrefs of its Mention tags.
	Audience, Mentions []string
}

// decodeNote reads the embedded object of a Create or Update, or a note
// fetched from its origin; ok is false when the object is an IRI or not a
// JSON object.
func decodeNote(raw json.RawMessage) (n *remoteNote, ok bool) {
	var fields map[string]json.RawMessage
	raw = bytes.TrimSpace(raw)
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
		Audience:     append(idsOf(fields["to"]), idsOf(fields["cc"])...),
		Mentions:     mentionsOf(fields["tag"]),
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

// elementsOf returns the values of a property that holds one or an
// array of them.
func elementsOf(raw json.RawMessage) []json.RawMessage {
	raw = bytes.TrimSpace(raw)
	var arr []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' {
		return []json.RawMessage{raw}
	}
	if json.Unmarshal(raw, &arr) != nil {
		return nil
	}
	return arr
}

// idsOf returns the IRIs of a property that holds one or an array.
func idsOf(raw json.RawMessage) []string {
	var out []string
	for _, a := range elementsOf(raw) {
		if id := idOf(a); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// mentionsOf returns the hrefs of the Mention entries of a tag property.
func mentionsOf(raw json.RawMessage) []string {
	var out []string
	for _, a := range elementsOf(raw) {
		var tag struct {
			Type json.RawMessage `json:"type"`
			Href json.RawMessage `json:"href"`
		}
		if json.Unmarshal(a, &tag) == nil && typeOf(tag.Type) == "Mention" {
			if href := stringOf(tag.Href); href != "" {
				out = append(out, href)
			}
		}
	}
	return out
}

// isPublic reports whether a note is addressed to everyone (in to or cc:
// public or unlisted), in any of the forms peers write it.
func (n *remoteNote) isPublic() bool {
	for _, a := range n.Audience {
		if a == publicAddress || a == "as:Public" || a == "Public" {
			return true
		}
	}
	return false
}

// handleCreate stores a reply to one of our threads, or a mention of one
// of our actors; see the top of the file. A Create of anything else, or of
// a note answering something we do not hold, is acknowledged and dropped.
// A reply whose author is not the signer, or whose id is not on the
// signer's host, is refused.
func (s *Service) handleCreate(ctx context.Context, act *activity, signer *remoteKey, log *slog.Logger) error {
	n, ok := decodeNote(act.rawObject)
	if !ok || n.Type != "Note" {
		log.Debug("ignored Create: not an embedded Note")
		return nil
	}
	thread, err := s.placeOf(ctx, n)
	if err != nil || thread == "" {
		if err == nil {
			log.Debug("ignored Create: neither a reply to anything of ours nor a public mention", "in_reply_to", n.InReplyTo)
		}
		return err
	}
	if err := checkAuthor(act, n); err != nil {
		return err
	}
	return s.saveReply(ctx, act.Actor, signer, n, thread, log)
}

// placeOf returns where a new note is stored: for a note addressed to the
// public (public or unlisted), the thread of ours it answers (threadOf),
// else, when it mentions one of our actors, that actor's id (its profile
// lists its mentions); "" for a note that is not public or concerns us in
// neither way. A reply that also mentions us is thus stored once, in its
// thread. The pages are public: a followers-only or direct reply is not
// kept.
func (s *Service) placeOf(ctx context.Context, n *remoteNote) (string, error) {
	if !n.isPublic() { // followers-only or direct: never shown on a public page
		return "", nil
	}
	if n.InReplyTo != "" {
		thread, err := s.threadOf(ctx, n.InReplyTo)
		if err != nil || thread != "" {
			return thread, err
		}
	}
	return s.mentionedActor(ctx, append(append([]string(nil), n.Mentions...), n.Audience...))
}

// maxLocalMentions bounds the distinct usernames of ours a note's mentions
// and audience are checked for: a note naming thousands of IRIs under our
// base URL costs no more than one naming twenty.
const maxLocalMentions = 20

// mentionedActor returns the id of the first actor of ours that iris
// name, "" for none. Only actor IRIs under our base URL count, each username
// once, the first maxLocalMentions of them, in order: from the actor
// cache, else the database, in one read transaction.
func (s *Service) mentionedActor(ctx context.Context, iris []string) (string, error) {
	var names []string // distinct, lower-cased
	for _, iri := range iris {
		username, ok := s.site.ParseLocalActor(iri)
		if !ok || slices.Contains(names, lower(username)) {
			continue
		}
		if len(names) == maxLocalMentions {
			break
		}
		names = append(names, lower(username))
	}
	if len(names) == 0 {
		return "", nil
	}
	found := ""
	err := s.store.View(ctx, func(tx *store.Tx) error {
		for _, username := range names {
			a, cached := s.actors.byName.Get(username)
			if !cached {
				var err error
				if a, err = tx.Actor(username); errors.Is(err, store.ErrNotFound) {
					continue
				} else if err != nil {
					return err
				}
			}
			found = s.site.Actor(a.Username)
			return nil
		}
		return nil
	})
	return found, err
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
// "" when it is neither. A stored mention starts no thread: an answer to
// it is kept only if it mentions us too.
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
		if err == nil && !s.isMention(r) {
			thread = r.Thread
		}
		return ignoreNotFound(err)
	})
	return thread, err
}

// isMention reports whether a stored note is a mention: its thread is one
// of our actors, not a note.
func (s *Service) isMention(r *store.RemoteReply) bool {
	_, ok := s.site.ParseLocalActor(r.Thread)
	return ok
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
	stored, err := s.storedReply(ctx, n.ID)
	switch {
	case err != nil:
		return err
	case stored == nil:
		log.Debug("ignored Update of a note we do not hold", "note", n.ID)
		return nil
	case stored.Author != act.Actor || n.AttributedTo != act.Actor:
		log.Info("ignored Update of a reply by someone other than its author", "note", n.ID, "author", stored.Author)
		return nil
	}
	n.InReplyTo = stored.InReplyTo // a reply stays where it was
	return s.saveReply(ctx, act.Actor, signer, n, stored.Thread, log)
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

// saveReply stores n, a reply by author in thread, with its author as the
// actor document of signer (author's key) shows it, and the key with its
// profile. A stored note of another author is not replaced
// (ErrUnauthorized); one no longer addressed to the public (an Update) is
// removed.
func (s *Service) saveReply(ctx context.Context, author string, signer *remoteKey, n *remoteNote, thread string, log *slog.Logger) error {
	if signer.profile.url == "" { // a key stored before replies: read its owner once
		if k, err := s.withInboxes(ctx, signer); err == nil {
			signer = k
		} else {
			log.Info("reply: cannot read the author's actor; the reply shows its id", "err", err)
		}
	}
	r := s.replyOf(author, signer, n, thread)
	var existing *store.RemoteReply
	err := s.update(ctx, func(tx *store.Tx) error {
		var err error
		if existing, err = tx.RemoteReply(n.ID); ignoreNotFound(err) != nil {
			return err
		}
		if existing != nil && existing.Author != author {
			return fmt.Errorf("%w: note %s belongs to %s", ErrUnauthorized, truncate(n.ID, 80), existing.Author)
		}
		if !n.isPublic() { // an edit that narrowed its audience takes it off the public pages
			_, err := tx.DeleteRemoteReply(n.ID, author)
			return err
		}
		if err := tx.SaveRemoteReply(r); err != nil {
			return err
		}
		return tx.SaveRemoteActor(s.signerRecord(author, signer))
	})
	if err != nil {
		return err
	}
	if !n.isPublic() {
		log.Info("reply removed: no longer addressed to the public", "note", n.ID, "stored", existing != nil)
		return nil
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

// forwardable reports whether an activity signed by someone other than its
// actor may be a forwarded reply (inbox forwarding): a Create or an Update
// embedding a Note that is not ours, or a Delete of a note we hold. Only
// these are taken from a forwarder, and then only from their origin
// (handleForwarded); anything else is refused as before.
func (s *Service) forwardable(ctx context.Context, act *activity) (bool, error) {
	switch act.Type {
	case "Create", "Update":
		n, ok := decodeNote(act.rawObject)
		return ok && n.Type == "Note" && n.ID != "" && !s.onOurServer(n.ID), nil
	case "Delete":
		r, err := s.storedReply(ctx, act.Object.ID)
		return r != nil, internal(err)
	}
	return false, nil
}

// onOurServer reports whether iri names our server, whatever its scheme
// (http://OURHOST/... on an https site is still us): its host is ours, and
// so is its port, a port left out or its scheme's default (80, 443)
// counting as the default one. An IRI without a host counts as ours: it is
// never fetched.
func (s *Service) onOurServer(iri string) bool {
	u, err := url.Parse(iri)
	base, _ := url.Parse(s.site.Base()) // checked by New
	return err != nil || u.Host == "" || serverOf(u) == serverOf(base)
}

// serverOf is u's host and port, the port "" when it is its scheme's
// default.
func serverOf(u *url.URL) string {
	port := u.Port()
	if port == map[string]string{"https": "443", "http": "80"}[u.Scheme] {
		port = ""
	}
	return urls.CanonicalHost(u.Hostname()) + ":" + port
}

// handleForwarded takes a forwarded Create, Update or Delete of a note
// from the note's origin, never from the forwarder: the note is fetched by
// its id with a signed GET, and what the origin serves is stored, or, for a
// Delete, a 404, 410 or Tombstone there removes it. Only a note that
// concerns us is fetched, within the fetch limits, and at most once a
// minute per note for each forwarding server (originNote): signer is the
// forwarder's actor. A failed fetch, a note the origin serves otherwise,
// or a note id over maxLinkLength (checkID) is acknowledged and dropped
// with a log line: nothing unverified is stored.
func (s *Service) handleForwarded(ctx context.Context, act *activity, signer string, log *slog.Logger) error {
	log = log.With("forwarded", true)
	forwarder := signer
	if u, err := url.Parse(signer); err == nil {
		forwarder = lower(u.Host)
	}
	var err error
	if act.Type == "Delete" {
		err = s.forwardedDelete(ctx, act, forwarder, log)
	} else {
		err = s.forwardedNote(ctx, act, forwarder, log)
	}
	if errors.Is(err, errInternal) { // ours (the database): 503, try again
		return err
	}
	if err != nil {
		log.Info("forwarded note dropped", "err", err)
	}
	return nil
}

// checkID refuses an id longer than maxLinkLength, what naming it (note,
// author) in the error: such an id is neither fetched nor kept as a cache
// key.
func checkID(what, id string) error {
	if len(id) > maxLinkLength {
		return fmt.Errorf("the %s id %s is %d bytes long, over the limit of %d", what, truncate(id, 80), len(id), maxLinkLength)
	}
	return nil
}

// internal marks a failure of ours (the database) as errInternal; nil
// stays nil.
func internal(err error) error {
	if err == nil || errors.Is(err, errInternal) {
		return err
	}
	return fmt.Errorf("%w: %w", errInternal, err)
}

// forwardedNote stores the note a forwarded Create or Update names, as its
// origin serves it.
func (s *Service) forwardedNote(ctx context.Context, act *activity, forwarder string, log *slog.Logger) error {
	claimed, _ := decodeNote(act.rawObject)
	if err := checkID("note", claimed.ID); err != nil {
		return err
	}
	stored, err := s.storedReply(ctx, claimed.ID)
	if err != nil {
		return internal(err)
	}
	if stored == nil { // fetch nothing for a note that says it concerns nobody here
		if thread, err := s.placeOf(ctx, claimed); err != nil || thread == "" {
			if err == nil {
				log.Debug("ignored forwarded note: it concerns nothing of ours", "note", claimed.ID)
			}
			return internal(err)
		}
	}
	want := noteSum(claimed)
	n, _, err := s.originNote(ctx, "note", forwarder, claimed.ID, func(r originResult) bool { return r.sum == want })
	switch {
	case err != nil:
		return err
	case n == nil: // the origin served the very note embedded, under a minute ago
		n = claimed
	}
	if n.Type != "Note" || !sameHost(n.AttributedTo, n.ID) {
		return fmt.Errorf("the origin of %s serves a %s attributed to %s, not a Note by an actor of its host", truncate(n.ID, 80), truncate(n.Type, 40), truncate(n.AttributedTo, 80))
	}
	if err := checkID("author", n.AttributedTo); err != nil { // fetched by authorKey
		return err
	}
	thread, err := s.placeOf(ctx, n)
	switch {
	case stored != nil: // a stored reply stays where it was
		thread, n.InReplyTo = stored.Thread, stored.InReplyTo
	case err != nil:
		return internal(err)
	case thread == "":
		return fmt.Errorf("as its origin serves it, %s concerns nothing of ours", truncate(n.ID, 80))
	}
	author, err := s.authorKey(ctx, n.AttributedTo)
	if err != nil {
		return fmt.Errorf("the author %s: %w", truncate(n.AttributedTo, 80), err)
	}
	err = s.saveReply(ctx, n.AttributedTo, author, n, thread, log)
	if errors.Is(err, ErrUnauthorized) { // the id is another author's
		return err
	}
	return internal(err)
}

// forwardedDelete removes the stored note a forwarded Delete names when
// its origin says it is gone: 404, 410, or a Tombstone. Anything else
// keeps it.
func (s *Service) forwardedDelete(ctx context.Context, act *activity, forwarder string, log *slog.Logger) error {
	id := act.Object.ID
	if err := checkID("note", id); err != nil {
		return err
	}
	stored, err := s.storedReply(ctx, id)
	if err != nil || stored == nil {
		if err == nil {
			log.Debug("ignored forwarded Delete of a note we do not hold", "object", id)
		}
		return internal(err)
	}
	_, r, err := s.originNote(ctx, "delete", forwarder, id, func(r originResult) bool { return r.gone })
	switch {
	case r.gone:
	case err != nil:
		return fmt.Errorf("the Delete of %s is unproven, the reply kept: %w", truncate(id, 80), err)
	default:
		return fmt.Errorf("the Delete of %s is unproven, the reply kept: its origin still serves a %s", truncate(id, 80), r.typ)
	}
	err = s.update(ctx, func(tx *store.Tx) error {
		_, err := tx.DeleteRemoteReply(id, stored.Author)
		return err
	})
	if err == nil {
		log.Info("reply deleted: its origin says it is gone", "note", id)
	}
	return internal(err)
}

// originResult is what originResults keeps of the answer of a forwarded
// note's origin to a GET of its id (fetchNote), and when: only what tells
// whether it settles a forwarded activity, never the note itself, so an
// entry is a few hundred bytes whatever the origin served.
type originResult struct {
	typ  string            // the type it served, cut to maxResultType bytes; "" for a failed GET
	sum  [sha256.Size]byte // noteSum of the note it served; zero for a failed GET
	gone bool              // 404, 410, or a Tombstone
	at   time.Time         // when it answered
}

// maxResultType is the most of a served type an originResult keeps.
const maxResultType = 40

// resultOf is what originResults keeps of fetchNote's answer, n or err,
// at now.
func resultOf(n *remoteNote, err error, now time.Time) originResult {
	r := originResult{gone: isMissing(err), at: now}
	if err == nil {
		// Clone: a cut of a long type would keep all of it.
		r.typ, r.sum, r.gone = strings.Clone(truncate(n.Type, maxResultType)), noteSum(n), n.Type == "Tombstone"
	}
	return r
}

// noteSum is a SHA-256 of every field of n, each with its length (and the
// audience with its count) so that no two notes share their input: two
// notes with the same sum are the same note as we read it.
func noteSum(n *remoteNote) [sha256.Size]byte {
	fields := []string{n.ID, n.Type, n.AttributedTo, n.InReplyTo, n.Content, n.URL,
		n.Published.Format(time.RFC3339Nano), strconv.Itoa(len(n.Audience))}
	fields = append(append(fields, n.Audience...), n.Mentions...)
	h := sha256.New()
	for _, f := range fields {
		fmt.Fprintf(h, "%d:%s", len(f), f)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// originResultAge is how long an origin's answer is reused for forwarded
// activities of its note, and how often one forwarding server may make us
// GET a note for the same kind of activity (note or delete).
const originResultAge = time.Minute

// originCacheSize bounds the origins' answers kept: with ids of at most
// maxLinkLength bytes, under 3 MB.
const originCacheSize = 1000

// originCache keeps the origins' answers of the last originResultAge, by
// note id: at most originCacheSize of them, the oldest dropped first.
type originCache struct {
	mu      sync.Mutex // makes add's insert and pruning one step
	entries *lru.Cache[string, originResult]
}

// newOriginCache returns an empty originCache.
func newOriginCache() *originCache {
	c, _ := lru.New[string, originResult](originCacheSize) // errors only for a size <= 0
	return &originCache{entries: c}
}

// get returns the answer about the note id of less than originResultAge
// before now, if there is one.
func (c *originCache) get(id string, now time.Time) (originResult, bool) {
	r, ok := c.entries.Peek(id) // Peek: the order stays that of the answers
	return r, ok && now.Sub(r.at) < originResultAge
}

// add keeps r, the answer about the note id, and drops the answers older
// than originResultAge: the entries are in the order of their answers,
// so the stale ones are the oldest.
func (c *originCache) add(id string, r originResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries.Add(strings.Clone(id), r) // Clone: id may be a cut of a longer string
	for {
		_, oldest, ok := c.entries.GetOldest()
		if !ok || r.at.Sub(oldest.at) < originResultAge {
			return
		}
		c.entries.RemoveOldest()
	}
}

// originNote returns what the origin of the note id answers, for an
// activity of kind ("note" or "delete") forwarded by the server forwarder:
//   - an answer of less than originResultAge ago that settles the
//     forwarded claim (a Delete when it says the note is gone, a Create or
//     Update when it served the very note embedded), reused: forwarding
//     the same note again costs no GET, and n is nil (the claim is what
//     the origin served);
//   - else a new GET of the note, at most once per originResultAge for
//     each forwarding server (its host), kind and note: another server
//     forwarding fakes for a note cannot keep the genuine forward from
//     being checked (each forward is a signed POST, paid for at the inbox
//     rate of the forwarder's domain); n is the note served, r what it
//     says and err why the GET failed;
//   - else, the forwarder having asked within the minute, an error.
func (s *Service) originNote(ctx context.Context, kind, forwarder, id string, settles func(originResult) bool) (n *remoteNote, r originResult, err error) {
	now := s.now()
	if last, fresh := s.originResults.get(id, now); fresh && settles(last) {
		return nil, last, nil
	}
	if !s.deleteChecks.allow(checkKey(kind, forwarder, id), now) {
		return nil, originResult{}, fmt.Errorf("%s made us fetch %s less than a minute ago", truncate(forwarder, 80), truncate(id, 80))
	}
	n, err = s.fetchNote(ctx, id)
	r = resultOf(n, err, now)
	if ctx.Err() == nil { // our own cancellation says nothing of the origin
		s.originResults.add(id, r)
	}
	return n, r, err
}

// checkKey is the key of deleteChecks for a GET of the note id for an
// activity of kind forwarded by forwarder: a SHA-256 of the three, so
// that every key takes 32 bytes whatever their lengths.
func checkKey(kind, forwarder, id string) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d:%s%d:%s%s", len(kind), kind, len(forwarder), forwarder, id)))
	return string(sum[:])
}

// storedReply returns the stored reply noteID, or nil.
func (s *Service) storedReply(ctx context.Context, noteID string) (r *store.RemoteReply, err error) {
	err = s.store.View(ctx, func(tx *store.Tx) error {
		if r, err = tx.RemoteReply(noteID); errors.Is(err, store.ErrNotFound) {
			r = nil
		}
		return ignoreNotFound(err)
	})
	return r, err
}

// fetchNote GETs the note id from its origin (fetch). The origin must
// answer with that id: a note is never taken from another address.
func (s *Service) fetchNote(ctx context.Context, id string) (n *remoteNote, err error) {
	err = s.fetch(ctx, id, func(body []byte) error {
		var ok bool
		if n, ok = decodeNote(body); !ok {
			return errors.New("not a JSON object")
		}
		return nil
	})
	if err == nil && n.ID != id {
		return nil, docErrorf("GET %s answered with the document %s", truncate(id, 80), truncate(n.ID, 80))
	}
	return n, err
}

// authorKey returns the key of actor, the author of a note fetched from
// its origin, with its profile: the key we hold for it, else the one its
// actor document names, fetched and bound to it as a signer's key is.
func (s *Service) authorKey(ctx context.Context, actor string) (*remoteKey, error) {
	var held *store.RemoteActor
	err := s.store.View(ctx, func(tx *store.Tx) (err error) {
		held, err = tx.RemoteActor(actor)
		return ignoreNotFound(err)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errInternal, err)
	}
	keyID := ""
	if held != nil {
		keyID = held.KeyID
	} else {
		doc, err := s.fetchDocument(ctx, actor)
		if err != nil {
			return nil, err
		}
		if doc.ID != actor {
			return nil, docErrorf("actor %s answered with the id %s", actor, truncate(doc.ID, 80))
		}
		if keyID = idOf(doc.PublicKey); keyID == "" {
			return nil, docErrorf("actor %s names no key", actor)
		}
	}
	k, _, err := s.key(ctx, keyID, false)
	if err != nil {
		return nil, err
	}
	if k.owner != actor {
		return nil, docErrorf("key %s belongs to %s, not %s", keyID, truncate(k.owner, 80), actor)
	}
	return k, nil
}
