package activitypub

// The ActivityStreams documents we serve and send. They are built with
// go-fed's streams vocabulary; what go-fed v1.0.0 lacks (endpoints,
// manuallyApprovesFollowers, indexable, PropertyValue, Hashtag, sensitive,
// a null summary or inReplyTo, contentMap) is added to the serialized map,
// and the @context is replaced with one that defines those terms inline,
// Mastodon style (docs/FEDERATION.md, "Actors" and "Notes"). Embedded objects carry no
// @context.

import (
	"bytes"
	"encoding/json"
	"net/url"
	"time"

	"github.com/go-fed/activity/streams"
	"github.com/go-fed/activity/streams/vocab"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// ContentType is the media type of every ActivityPub document we serve and
// send (docs/FEDERATION.md, "Media types and content negotiation").
const ContentType = "application/activity+json"

// publicAddress is the special "everyone" collection.
const publicAddress = "https://www.w3.org/ns/activitystreams#Public"

const asContext = "https://www.w3.org/ns/activitystreams"

var actorContext = []any{
	asContext,
	"https://w3id.org/security/v1",
	map[string]any{
		"manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
		"toot":                      "http://joinmastodon.org/ns#",
		"discoverable":              "toot:discoverable",
		"indexable":                 "toot:indexable",
		"featured":                  map[string]any{"@id": "toot:featured", "@type": "@id"},
		"schema":                    "http://schema.org#",
		"PropertyValue":             "schema:PropertyValue",
		"value":                     "schema:value",
		"webfinger":                 map[string]any{"@id": "https://purl.archive.org/socialweb/webfinger#webfinger", "@type": "http://www.w3.org/2001/XMLSchema#string"},
	},
}

var noteContext = []any{
	asContext,
	map[string]any{"sensitive": "as:sensitive", "Hashtag": "as:Hashtag"},
}

// iri parses an IRI we built ourselves or validated on the way in.
func iri(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		return &url.URL{Opaque: s} // unreachable for validated input; keeps the string intact
	}
	return u
}

func idProp(s string) vocab.JSONLDIdProperty {
	p := streams.NewJSONLDIdProperty()
	p.Set(iri(s))
	return p
}

func toProp(iris ...string) vocab.ActivityStreamsToProperty {
	p := streams.NewActivityStreamsToProperty()
	for _, s := range iris {
		p.AppendIRI(iri(s))
	}
	return p
}

func ccProp(iris ...string) vocab.ActivityStreamsCcProperty {
	p := streams.NewActivityStreamsCcProperty()
	for _, s := range iris {
		p.AppendIRI(iri(s))
	}
	return p
}

func actorProp(s string) vocab.ActivityStreamsActorProperty {
	p := streams.NewActivityStreamsActorProperty()
	p.AppendIRI(iri(s))
	return p
}

func publishedProp(t time.Time) vocab.ActivityStreamsPublishedProperty {
	p := streams.NewActivityStreamsPublishedProperty()
	p.Set(t.UTC().Truncate(time.Second))
	return p
}

func urlProp(s string) vocab.ActivityStreamsUrlProperty {
	p := streams.NewActivityStreamsUrlProperty()
	p.AppendIRI(iri(s))
	return p
}

// serialize turns a go-fed value into a map, failing loudly: our own values
// always serialize, so an error here is a programming error.
func serialize(t vocab.Type) map[string]any {
	m, err := streams.Serialize(t)
	if err != nil {
		panic("activitypub: serialize " + t.GetTypeName() + ": " + err.Error())
	}
	return m
}

// addressAsArrays makes to and cc JSON arrays even with one entry: go-fed
// writes a single value as a bare string, which some peers handle poorly.
func addressAsArrays(m map[string]any) map[string]any {
	for _, k := range []string{"to", "cc"} {
		if v, ok := m[k]; ok {
			if _, isArray := v.([]any); !isArray {
				m[k] = []any{v}
			}
		}
	}
	return m
}

// embedded strips the @context of a document that goes inside another.
func embedded(m map[string]any) map[string]any {
	delete(m, "@context")
	return m
}

// marshal encodes a document compactly, without escaping <, > and & (the
// bytes are hashed and signed as they are, so any stable form is fine, and
// this one is readable).
func marshal(m map[string]any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		panic("activitypub: marshal: " + err.Error())
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// actorDocument is the actor (type Service) with every field of docs/FEDERATION.md, "Actors".
func actorDocument(u urls.Site, a *store.Actor) map[string]any {
	id := u.Actor(a.Username)
	svc := streams.NewActivityStreamsService()
	svc.SetJSONLDId(idProp(id))

	username := streams.NewActivityStreamsPreferredUsernameProperty()
	username.SetXMLSchemaString(a.Username)
	svc.SetActivityStreamsPreferredUsername(username)

	name := streams.NewActivityStreamsNameProperty()
	name.AppendXMLSchemaString(a.DisplayName)
	svc.SetActivityStreamsName(name)

	summary := streams.NewActivityStreamsSummaryProperty()
	summary.AppendXMLSchemaString(SummaryHTML(u, a))
	svc.SetActivityStreamsSummary(summary)

	svc.SetActivityStreamsUrl(urlProp(u.Profile(a.Username)))

	inbox := streams.NewActivityStreamsInboxProperty()
	inbox.SetIRI(iri(u.Inbox(a.Username)))
	svc.SetActivityStreamsInbox(inbox)
	outbox := streams.NewActivityStreamsOutboxProperty()
	outbox.SetIRI(iri(u.Outbox(a.Username)))
	svc.SetActivityStreamsOutbox(outbox)
	followers := streams.NewActivityStreamsFollowersProperty()
	followers.SetIRI(iri(u.Followers(a.Username)))
	svc.SetActivityStreamsFollowers(followers)
	following := streams.NewActivityStreamsFollowingProperty()
	following.SetIRI(iri(u.Following(a.Username)))
	svc.SetActivityStreamsFollowing(following)
	featured := streams.NewTootFeaturedProperty()
	featured.SetIRI(iri(u.Featured(a.Username)))
	svc.SetTootFeatured(featured)
	discoverable := streams.NewTootDiscoverableProperty()
	discoverable.Set(true)
	svc.SetTootDiscoverable(discoverable)
	svc.SetActivityStreamsPublished(publishedProp(a.CreatedAt))

	icon := streams.NewActivityStreamsIconProperty()
	avatar, avatarType := Avatar(u, a)
	icon.AppendActivityStreamsImage(imageObject(avatarType, avatar))
	svc.SetActivityStreamsIcon(icon)
	if header, headerType := Header(u, a); header != "" {
		image := streams.NewActivityStreamsImageProperty()
		image.AppendActivityStreamsImage(imageObject(headerType, header))
		svc.SetActivityStreamsImage(image)
	}

	key := streams.NewW3IDSecurityV1PublicKey()
	key.SetJSONLDId(idProp(u.KeyID(a.Username)))
	owner := streams.NewW3IDSecurityV1OwnerProperty()
	owner.SetIRI(iri(id))
	key.SetW3IDSecurityV1Owner(owner)
	pem := streams.NewW3IDSecurityV1PublicKeyPemProperty()
	pem.Set(a.PublicKeyPEM)
	key.SetW3IDSecurityV1PublicKeyPem(pem)
	keys := streams.NewW3IDSecurityV1PublicKeyProperty()
	keys.AppendW3IDSecurityV1PublicKey(key)
	svc.SetW3IDSecurityV1PublicKey(keys)

	m := serialize(svc)
	m["@context"] = actorContext
	m["endpoints"] = map[string]any{"sharedInbox": u.SharedInbox()}
	m["manuallyApprovesFollowers"] = false
	m["indexable"] = true
	m["webfinger"] = u.Handle(a.Username)
	attachment := []any{}
	for _, f := range a.Fields {
		attachment = append(attachment, map[string]any{
			"type":  "PropertyValue",
			"name":  f.Name,
			"value": FieldHTML(f),
		})
	}
	m["attachment"] = attachment
	return m
}

// imageObject is an Image of this media type at url (avatar, header).
func imageObject(mediaType, url string) vocab.ActivityStreamsImage {
	img := streams.NewActivityStreamsImage()
	mt := streams.NewActivityStreamsMediaTypeProperty()
	mt.Set(mediaType)
	img.SetActivityStreamsMediaType(mt)
	img.SetActivityStreamsUrl(urlProp(url))
	return img
}

// audience addresses the note n: a public one to everyone with a copy to
// the followers, an unlisted one the other way round (Mastodon's rule:
// Public in cc keeps it off the public timelines); the actors it mentions
// are in cc either way.
func audience(u urls.Site, n *store.Note) (vocab.ActivityStreamsToProperty, vocab.ActivityStreamsCcProperty) {
	if n.Visibility == store.Unlisted {
		return toProp(u.Followers(n.Username)), ccProp(append([]string{publicAddress}, mentioned(n)...)...)
	}
	return toProp(publicAddress), ccProp(append([]string{u.Followers(n.Username)}, mentioned(n)...)...)
}

// mentioned returns the ids of the actors n mentions.
func mentioned(n *store.Note) []string {
	ids := make([]string, len(n.Mentions))
	for i, m := range n.Mentions {
		ids[i] = m.Href
	}
	return ids
}

// noteObject is a Note without @context (docs/FEDERATION.md, "Notes").
func noteObject(u urls.Site, n *store.Note) map[string]any {
	id := u.Note(n.Username, n.PublicID)
	note := streams.NewActivityStreamsNote()
	note.SetJSONLDId(idProp(id))
	attributedTo := streams.NewActivityStreamsAttributedToProperty()
	attributedTo.AppendIRI(iri(u.Actor(n.Username)))
	note.SetActivityStreamsAttributedTo(attributedTo)
	to, cc := audience(u, n)
	note.SetActivityStreamsTo(to)
	note.SetActivityStreamsCc(cc)
	note.SetActivityStreamsPublished(publishedProp(n.Published))
	note.SetActivityStreamsUrl(urlProp(u.NoteURL(n.Username, n.PublicID)))
	content := streams.NewActivityStreamsContentProperty()
	content.AppendXMLSchemaString(n.Content)
	note.SetActivityStreamsContent(content)

	m := addressAsArrays(embedded(serialize(note)))
	m["contentMap"] = map[string]any{NoteLanguage(n): n.Content}
	m["summary"] = nil
	if n.Summary != "" {
		m["summary"] = n.Summary
	}
	m["sensitive"] = n.Sensitive || n.Summary != ""
	if !n.Edited.IsZero() {
		m["updated"] = n.Edited.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	if n.InReplyTo != "" {
		m["inReplyTo"] = n.InReplyTo
	} else {
		m["inReplyTo"] = nil
	}
	tags := []any{}
	for _, t := range n.Tags {
		tags = append(tags, map[string]any{"type": "Hashtag", "name": "#" + t, "href": u.Tag(lower(t))})
	}
	for _, mention := range n.Mentions {
		tags = append(tags, map[string]any{"type": "Mention", "href": mention.Href, "name": mention.Name})
	}
	m["tag"] = tags
	replies := RepliesIRI(u, n)
	m["replies"] = map[string]any{"id": replies, "type": "OrderedCollection", "first": replies + "?page=1"}
	return m
}

// noteDocument is a Note served on its own.
func noteDocument(u urls.Site, n *store.Note) map[string]any {
	m := noteObject(u, n)
	m["@context"] = noteContext
	return m
}

// createObject is the Create wrapping a note, without @context.
func createObject(u urls.Site, n *store.Note) map[string]any {
	create := streams.NewActivityStreamsCreate()
	create.SetJSONLDId(idProp(u.Activity(n.Username, n.PublicID)))
	create.SetActivityStreamsActor(actorProp(u.Actor(n.Username)))
	to, cc := audience(u, n)
	create.SetActivityStreamsTo(to)
	create.SetActivityStreamsCc(cc)
	create.SetActivityStreamsPublished(publishedProp(n.Published))
	m := addressAsArrays(embedded(serialize(create)))
	m["object"] = noteObject(u, n)
	return m
}

// createDocument is the Create{Note} as delivered and served.
func createDocument(u urls.Site, n *store.Note) map[string]any {
	m := createObject(u, n)
	m["@context"] = noteContext
	return m
}

// updateNoteDocument announces the edited note n: an Update with the id
// id, addressed as its Create was, whose object is the note as it is now
// (with updated).
func updateNoteDocument(u urls.Site, n *store.Note, id string) map[string]any {
	update := streams.NewActivityStreamsUpdate()
	update.SetJSONLDId(idProp(id))
	update.SetActivityStreamsActor(actorProp(u.Actor(n.Username)))
	to, cc := audience(u, n)
	update.SetActivityStreamsTo(to)
	update.SetActivityStreamsCc(cc)
	update.SetActivityStreamsPublished(publishedProp(n.Edited))
	m := addressAsArrays(serialize(update))
	m["@context"] = noteContext
	m["object"] = noteObject(u, n)
	return m
}

// followRef is a received Follow, echoed verbatim inside our Accept.
type followRef struct {
	ID, Actor, Object string
}

// followAnswer is an Accept or a Reject of a Follow, as the go-fed types
// of both can be built.
type followAnswer interface {
	vocab.Type
	SetJSONLDId(vocab.JSONLDIdProperty)
	SetActivityStreamsActor(vocab.ActivityStreamsActorProperty)
	SetActivityStreamsTo(vocab.ActivityStreamsToProperty)
}

// acceptDocument accepts a Follow: signed by the followed actor, addressed
// to the follower, embedding the Follow with its exact id (docs/FEDERATION.md, "Incoming activities").
func acceptDocument(u urls.Site, username, acceptID string, f followRef) map[string]any {
	return answerDocument(streams.NewActivityStreamsAccept(), u, username, acceptID, f)
}

// rejectDocument rejects a Follow the way acceptDocument accepts it: the
// operator removed the follower (docs/FEDERATION.md, "Removed followers").
func rejectDocument(u urls.Site, username, rejectID string, f followRef) map[string]any {
	return answerDocument(streams.NewActivityStreamsReject(), u, username, rejectID, f)
}

// answerDocument fills answer (an Accept or a Reject) of the Follow f.
func answerDocument(answer followAnswer, u urls.Site, username, id string, f followRef) map[string]any {
	answer.SetJSONLDId(idProp(id))
	answer.SetActivityStreamsActor(actorProp(u.Actor(username)))
	answer.SetActivityStreamsTo(toProp(f.Actor))
	m := addressAsArrays(serialize(answer))
	m["@context"] = asContext
	m["object"] = map[string]any{"id": f.ID, "type": "Follow", "actor": f.Actor, "object": f.Object}
	return m
}

// updateActorDocument announces a changed profile: Update with the full
// actor, whose id equals the Update's actor (docs/FEDERATION.md, "Delivery").
func updateActorDocument(u urls.Site, a *store.Actor, updateID string, now time.Time) map[string]any {
	update := streams.NewActivityStreamsUpdate()
	update.SetJSONLDId(idProp(updateID))
	update.SetActivityStreamsActor(actorProp(u.Actor(a.Username)))
	update.SetActivityStreamsTo(toProp(publicAddress))
	update.SetActivityStreamsCc(ccProp(u.Followers(a.Username)))
	update.SetActivityStreamsPublished(publishedProp(now))
	m := addressAsArrays(serialize(update))
	m["@context"] = actorContext
	m["object"] = embedded(actorDocument(u, a))
	return m
}

// orderedCollection is a collection's front page: its size and links to
// the first and last pages (docs/FEDERATION.md, "Collections").
func orderedCollection(id string, total int, first, last string) map[string]any {
	c := streams.NewActivityStreamsOrderedCollection()
	c.SetJSONLDId(idProp(id))
	totalItems := streams.NewActivityStreamsTotalItemsProperty()
	totalItems.Set(total)
	c.SetActivityStreamsTotalItems(totalItems)
	if first != "" {
		p := streams.NewActivityStreamsFirstProperty()
		p.SetIRI(iri(first))
		c.SetActivityStreamsFirst(p)
	}
	if last != "" {
		p := streams.NewActivityStreamsLastProperty()
		p.SetIRI(iri(last))
		c.SetActivityStreamsLast(p)
	}
	m := serialize(c)
	m["@context"] = asContext
	return m
}

// orderedCollectionPage is one page of a collection. items are IRIs
// (strings) or embedded objects (maps).
func orderedCollectionPage(id, partOf string, total int, items []any, next, prev string) map[string]any {
	p := streams.NewActivityStreamsOrderedCollectionPage()
	p.SetJSONLDId(idProp(id))
	part := streams.NewActivityStreamsPartOfProperty()
	part.SetIRI(iri(partOf))
	p.SetActivityStreamsPartOf(part)
	totalItems := streams.NewActivityStreamsTotalItemsProperty()
	totalItems.Set(total)
	p.SetActivityStreamsTotalItems(totalItems)
	if next != "" {
		n := streams.NewActivityStreamsNextProperty()
		n.SetIRI(iri(next))
		p.SetActivityStreamsNext(n)
	}
	if prev != "" {
		n := streams.NewActivityStreamsPrevProperty()
		n.SetIRI(iri(prev))
		p.SetActivityStreamsPrev(n)
	}
	m := serialize(p)
	m["@context"] = noteContext
	if items == nil {
		items = []any{}
	}
	m["orderedItems"] = items
	return m
}
