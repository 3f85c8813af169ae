package activitypub

// Mentions in the notes a person posts (docs/FEDERATION.md, "Mentions"):
// each @user@host of the text, and the author of a remote note replied to,
// is tagged with a Mention, addressed in cc and sent the Create, so that
// their server notifies them. Handles are resolved before the note is
// stored: WebFinger (acct:user@host) names the actor (confirmed by the
// actor's own host when it is on another: confirmHandle), and a signed GET
// of the actor gives its inbox and profile page, through the same client,
// limits and blocks as every other fetch. A handle or a parent that cannot
// be resolved fails the post, naming it: nothing is stored.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
	"github.com/nuttx-feed/nuttx-feed/webfinger"
)

const (
	// maxMentions bounds the handles of one post, and so its fetches.
	maxMentions = 20
	// maxJRD is the largest WebFinger answer read.
	maxJRD = 64 << 10
)

// ResolveMentions readies a post written by a person (`nuttx-feed post`,
// not the feed's generated posts) before Publish stores it: every
// @user@host of p.Content becomes a link to the account's profile and a
// Mention in p.Mentions, and a remote http(s) parent is fetched, p.InReplyTo
// set to its id and its author mentioned (unless the author is one of
// ours). Errors name the handle or parent at fault; ErrInvalid marks a post
// with too many mentions.
func (s *Service) ResolveMentions(ctx context.Context, p *Post) error {
	if p.Content == nil {
		return nil
	}
	handles := p.Content.Mentions()
	if len(handles) > maxMentions {
		return fmt.Errorf("%w: the note mentions %d accounts, at most %d", ErrInvalid, len(handles), maxMentions)
	}
	if err := s.mentionParent(ctx, p); err != nil {
		return resolveFailure(err)
	}
	for _, h := range handles {
		m, profile, err := s.resolveHandle(ctx, h)
		if err != nil {
			return resolveFailure(&subjectError{"cannot mention " + h.String(), "no such account", err})
		}
		p.Content.ResolveMention(h, profile)
		p.addMention(m)
	}
	return nil
}

// ErrUnresolvable: a mention or parent its server does not know (404,
// NXDOMAIN) or serves wrong; the post must change, a retry will not help
// (the API answers 422). A passing fault of its server is ErrUnavailable.
var ErrUnresolvable = errors.New("cannot be resolved")

// kindError is an error of kind (errors.Is) whose message is err's
// alone: the kind decides the status code, the message stays as a
// command prints it.
type kindError struct{ kind, err error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// resolveFailure gives a mention or parent that cannot be resolved its
// kind, by what failed: a peer that is down, slow, overloaded or answers
// 5xx may answer later (ErrUnavailable: retry); a handle or note its
// server does not know (404, NXDOMAIN), a bad document or a refused host
// will not (ErrUnresolvable: fix the post). Internal faults keep their
// kind.
func resolveFailure(err error) error {
	switch {
	case errors.Is(err, errInternal), errors.Is(err, context.Canceled),
		errors.Is(err, ErrUnavailable), errors.Is(err, ErrTooManyRequests):
		return err
	case transient(err):
		return &kindError{ErrUnavailable, err}
	}
	return &kindError{ErrUnresolvable, err}
}

// transient reports whether the fetch error err is its peer's passing
// fault: no answer (refused, reset, timed out, DNS failing) or a 5xx or
// 429 answer. A name DNS does not know is not.
func transient(err error) bool {
	var se *statusError
	var de *docError
	var dns *net.DNSError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		return se.Status >= 500 || se.Status == http.StatusTooManyRequests
	case errors.As(err, &de):
		return false
	case errors.As(err, &dns):
		return !dns.IsNotFound
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return false
}

// subjectError is a mention or parent that cannot be resolved: its
// message is subject (what failed: "cannot mention @bob@example.org"), then
// the fetch's error in full, for a command's output and the logs;
// PlainMentionError says it in plain words, with notFound when its server
// does not know it.
type subjectError struct {
	subject, notFound string
	err               error
}

func (e *subjectError) Error() string { return e.subject + ": " + e.err.Error() }
func (e *subjectError) Unwrap() error { return e.err }

// PlainMentionError returns the error of ResolveMentions err in plain
// words, for an API client that should not see fetch details (URLs, the
// resolver's address): what failed, then "no such domain", "no such
// account" (or note), "the server did not answer", "the server is busy"
// or "the server's answer is not usable". ok is false when err is not
// about a mention or parent.
func PlainMentionError(err error) (msg string, ok bool) {
	var se *subjectError
	if !errors.As(err, &se) {
		return "", false
	}
	return se.subject + ": " + plainReason(se.err, se.notFound), true
}

// plainReason says in a few words why the fetch error err failed;
// notFound is what a 404 or 410 means.
func plainReason(err error, notFound string) string {
	var st *statusError
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		return "no such domain"
	case errors.Is(err, ErrNotFound), errors.As(err, &st) && (st.Status == http.StatusNotFound || st.Status == http.StatusGone):
		return notFound
	case errors.Is(err, ErrTooManyRequests), errors.As(err, &st) && st.Status == http.StatusTooManyRequests:
		return "the server is busy; try again later"
	case errors.Is(err, ErrUnavailable), transient(err):
		return "the server did not answer; try again later"
	}
	return "the server's answer is not usable"
}

// addMention adds m to p's mentions unless its actor is there already.
func (p *Post) addMention(m store.Mention) {
	for _, have := range p.Mentions {
		if have.Href == m.Href {
			return
		}
	}
	p.Mentions = append(p.Mentions, m)
}

// mentionParent fetches a remote parent (an http(s) URL that is not ours),
// replaces p.InReplyTo with the note's id, and mentions its author. Local
// parents are left to resolveParent.
func (s *Service) mentionParent(ctx context.Context, p *Post) error {
	ref := strings.TrimSpace(p.InReplyTo)
	u, err := url.Parse(ref)
	if ref == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil
	}
	if _, _, ok := s.site.Parse(ref); ok || strings.EqualFold(u.Host, s.site.Host()) {
		return nil
	}
	note, err := s.fetchDocument(ctx, ref)
	if err != nil {
		return &subjectError{"cannot reply to " + ref, "no such note", err}
	}
	author, err := noteAuthor(note, u)
	if err != nil {
		return &subjectError{"cannot reply to " + ref, "no such note", err}
	}
	p.InReplyTo = note.ID
	if _, ours := s.site.ParseLocalActor(author); ours {
		return nil
	}
	m, _, err := s.resolveActor(ctx, author, "")
	if err != nil {
		return &subjectError{"cannot mention the author of " + ref, "no such account", err}
	}
	p.addMention(m)
	return nil
}

// noteAuthor returns the author of a note fetched from u, checking that
// the note and its author are on u's host (a server speaks for its own
// notes only, as Mastodon requires).
func noteAuthor(note *remoteDocument, u *url.URL) (string, error) {
	author := idOf(note.AttributedTo)
	if author == "" {
		return "", errors.New("the document has no attributedTo: not a note")
	}
	for _, iri := range []string{note.ID, author} {
		v, err := url.Parse(iri)
		if err != nil || !strings.EqualFold(v.Host, u.Host) {
			return "", fmt.Errorf("%s is not on %s", truncate(iri, 80), u.Host)
		}
	}
	return author, nil
}

// resolveHandle finds the actor of h: one of ours by name, any other by
// WebFinger. It returns the mention and the account's profile page.
func (s *Service) resolveHandle(ctx context.Context, h richtext.Mention) (store.Mention, string, error) {
	name := "@" + h.User + "@" + lower(h.Host)
	if strings.EqualFold(h.Host, s.site.Host()) || strings.EqualFold(h.Host, s.site.Hostname()) {
		a, err := s.Actor(ctx, h.User)
		if err != nil && !errors.Is(err, ErrNotFound) {
			err = fmt.Errorf("%w: %w", errInternal, err)
		}
		if err != nil {
			return store.Mention{}, "", err
		}
		return store.Mention{Href: s.site.Actor(a.Username), Name: name}, s.site.Profile(a.Username), nil
	}
	_, actor, err := s.webFinger(ctx, h)
	if err != nil {
		return store.Mention{}, "", err
	}
	doc, err := s.fetchMentioned(ctx, actor)
	if err != nil {
		return store.Mention{}, "", err
	}
	if err := s.confirmHandle(ctx, h, actor, doc.username()); err != nil {
		return store.Mention{}, "", err
	}
	return mentionOf(actor, name, doc)
}

// confirmHandle checks that actor, which h's server named by WebFinger,
// is h's account. An actor on h's host is. One on another host (a split
// domain: @alice@example.com served by social.example.com, or a server
// naming another's actor) must be confirmed by its own host, as Mastodon
// does: asked by WebFinger for acct:USERNAME@ACTOR-HOST (username is the
// actor's preferredUsername), it must name the same actor and h as the
// account (its subject).
func (s *Service) confirmHandle(ctx context.Context, h richtext.Mention, actor, username string) error {
	u, err := url.Parse(actor)
	if err != nil {
		return docErrorf("%s is not a URL", truncate(actor, 80))
	}
	if strings.EqualFold(u.Host, h.Host) {
		return nil
	}
	unconfirmed := "its server names the actor " + truncate(actor, 80) + " of " + u.Host
	if username == "" {
		return fmt.Errorf("%s, which has no preferredUsername to confirm it with", unconfirmed)
	}
	jrd, self, err := s.webFinger(ctx, richtext.Mention{User: username, Host: u.Host})
	switch {
	case err != nil:
		return fmt.Errorf("%s, which does not confirm it: %w", unconfirmed, err)
	case self != actor:
		return fmt.Errorf("%s, but %s names %s as acct:%s@%s", unconfirmed, u.Host, truncate(self, 80), username, u.Host)
	case !strings.EqualFold(jrd.Subject, "acct:"+h.User+"@"+h.Host):
		return fmt.Errorf("%s, whose account is %s, not @%s@%s", unconfirmed, truncate(strings.TrimPrefix(jrd.Subject, "acct:"), 80), h.User, h.Host)
	}
	return nil
}

// resolveActor fetches the remote actor id and returns its mention (named
// name, or @preferredUsername@host when name is "") and its profile page.
func (s *Service) resolveActor(ctx context.Context, id, name string) (store.Mention, string, error) {
	doc, err := s.fetchMentioned(ctx, id)
	if err != nil {
		return store.Mention{}, "", err
	}
	return mentionOf(id, name, doc)
}

// fetchMentioned fetches the remote actor id, which must serve itself under id
// and have an inbox we may post to.
func (s *Service) fetchMentioned(ctx context.Context, id string) (*remoteDocument, error) {
	doc, err := s.fetchDocument(ctx, id)
	if err != nil {
		return nil, err
	}
	if doc.ID != id {
		return nil, fmt.Errorf("%s serves another actor (%s)", truncate(id, 80), truncate(doc.ID, 80))
	}
	if err := s.checkInboxes(id, doc.Inbox, doc.sharedInbox()); err != nil {
		return nil, fmt.Errorf("%s: %w", truncate(id, 80), err)
	}
	return doc, nil
}

// mentionOf returns the mention of the actor id, whose document is doc,
// named name (or @preferredUsername@host when name is ""), and its profile
// page.
func mentionOf(id, name string, doc *remoteDocument) (store.Mention, string, error) {
	if name == "" {
		if name = Handle(id, doc.username()); name == "" {
			return store.Mention{}, "", fmt.Errorf("%s has no usable preferredUsername", truncate(id, 80))
		}
	}
	inbox := doc.sharedInbox()
	if inbox == "" {
		inbox = doc.Inbox
	}
	return store.Mention{Href: id, Name: name, Inbox: inbox}, doc.profile().url, nil
}

// webFinger asks h's server about acct:user@host and returns its answer
// and the actor id: the href of its self link of an ActivityPub type. The
// query goes over https; with private networks allowed (tests, intranets),
// a server that does not answer https is asked over http.
func (s *Service) webFinger(ctx context.Context, h richtext.Mention) (*webfinger.JRD, string, error) {
	q := url.Values{"resource": {"acct:" + h.User + "@" + h.Host}}
	target := "https://" + h.Host + urls.WebFinger.Pattern + "?" + q.Encode()
	jrd, actor, err := s.getActorLink(ctx, target)
	var se *statusError
	if err != nil && s.httpInbox && !errors.As(err, &se) && !errors.Is(err, errInternal) {
		jrd, actor, err = s.getActorLink(ctx, "http"+strings.TrimPrefix(target, "https"))
	}
	return jrd, actor, err
}

// getActorLink GETs the WebFinger answer at target, within the fetch
// limits, and returns it with its ActivityPub self link.
func (s *Service) getActorLink(ctx context.Context, target string) (jrd *webfinger.JRD, actor string, err error) {
	err = s.withFetchSlot(ctx, target, func() error {
		if jrd, err = s.getJRD(ctx, target); err != nil {
			return err
		}
		actor, err = selfLink(jrd)
		if err != nil {
			return docErrorf("WebFinger %s: %v", truncate(target, 120), err)
		}
		return nil
	})
	return jrd, actor, err
}

// getJRD GETs and decodes the WebFinger answer at target.
func (s *Service) getJRD(ctx context.Context, target string) (*webfinger.JRD, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, docErrorf("%q is not a URL we can fetch", truncate(target, 120))
	}
	req.Header.Set("Accept", webfinger.ContentType+", application/json")
	req.Header.Set("User-Agent", s.userAgent)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", target, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxJRD))
		return nil, &statusError{URL: target, Status: resp.StatusCode}
	}
	if mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mediaType != webfinger.ContentType && mediaType != "application/json" {
		return nil, docErrorf("GET %s: Content-Type %q is not JRD", target, truncate(mediaType, 80))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJRD+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", target, err)
	}
	if len(body) > maxJRD {
		return nil, docErrorf("GET %s: answer larger than %d bytes", target, maxJRD)
	}
	var jrd webfinger.JRD
	if err := json.Unmarshal(body, &jrd); err != nil {
		return nil, docErrorf("GET %s: not a JRD: %v", target, err)
	}
	return &jrd, nil
}

// selfLink returns the href of jrd's rel=self link of an ActivityPub
// media type: the actor id.
func selfLink(jrd *webfinger.JRD) (string, error) {
	for _, l := range jrd.Links {
		mediaType, params, _ := mime.ParseMediaType(l.Type)
		ap := mediaType == ContentType ||
			(mediaType == "application/ld+json" && params["profile"] == asContext)
		if l.Rel == "self" && ap {
			if err := checkIRI("self link", l.Href); err != nil {
				return "", err
			}
			return l.Href, nil
		}
	}
	return "", errors.New("no self link of type " + ContentType)
}
