package activitypub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// activity is an inbound activity, decoded leniently: in JSON-LD a property
// may be a string, an object or an array of either, and peers use all three
// (GoToSocial sends "to" as a string and "tag" as a single object).
type activity struct {
	ID     string
	Type   string
	Actor  string
	Object object
	// rawObject is the object as sent (the first of an array): an
	// embedded Note is read from it (replies.go).
	rawObject json.RawMessage
}

// object is the part of an activity's object we act on. For an IRI, only ID
// is set; for an embedded object, whatever it carries.
type object struct {
	ID     string
	Type   string
	Actor  string
	Object string
}

// decodeActivity parses an inbox body. It returns an error wrapping
// ErrInvalid when the body is not a JSON object or lacks an id, a type or
// an actor that is an absolute http(s) IRI.
func decodeActivity(body []byte) (*activity, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: body is not a JSON object: %w", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrInvalid)
	}
	a := &activity{
		ID:    idOf(raw["id"]),
		Type:  typeOf(raw["type"]),
		Actor: idOf(raw["actor"]),
	}
	switch {
	case a.Type == "":
		return nil, fmt.Errorf("%w: activity has no type", ErrInvalid)
	case a.ID == "":
		return nil, fmt.Errorf("%w: activity has no id", ErrInvalid)
	case a.Actor == "":
		return nil, fmt.Errorf("%w: activity has no actor", ErrInvalid)
	}
	if err := checkIRI("id", a.ID); err != nil {
		return nil, err
	}
	if err := checkIRI("actor", a.Actor); err != nil {
		return nil, err
	}
	a.Object = objectOf(raw["object"])
	a.rawObject = first(raw["object"])
	return a, nil
}

func checkIRI(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return fmt.Errorf("%w: %s %q is not an http(s) IRI without user information", ErrInvalid, field, truncate(s, 80))
	}
	return nil
}

// idOf returns the IRI of a property: the string itself, an object's id
// (or a Link's href), or the first element of an array of those.
func idOf(raw json.RawMessage) string {
	raw = first(raw)
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		ID   json.RawMessage `json:"id"`
		Href json.RawMessage `json:"href"`
	}
	if json.Unmarshal(raw, &o) != nil {
		return ""
	}
	if id := stringOf(o.ID); id != "" {
		return id
	}
	return stringOf(o.Href)
}

// typeOf returns a type name: the string, or the first string of an array.
func typeOf(raw json.RawMessage) string { return stringOf(first(raw)) }

func stringOf(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// first returns the first element of a JSON array, or raw itself.
func first(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return raw
	}
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) != nil || len(arr) == 0 {
		return nil
	}
	return arr[0]
}

func objectOf(raw json.RawMessage) object {
	raw = first(raw)
	o := object{ID: idOf(raw)}
	var fields map[string]json.RawMessage
	if len(raw) > 0 && raw[0] == '{' && json.Unmarshal(raw, &fields) == nil {
		o.Type = typeOf(fields["type"])
		o.Actor = idOf(fields["actor"])
		o.Object = idOf(fields["object"])
	}
	return o
}

// remoteDocument is what we read of a fetched actor or key document.
type remoteDocument struct {
	ID           string          `json:"id"`
	Type         json.RawMessage `json:"type"`
	Owner        string          `json:"owner"`
	PublicKeyPem string          `json:"publicKeyPem"`
	PublicKey    json.RawMessage `json:"publicKey"`
	Inbox        string          `json:"inbox"`
	SharedInbox  string          `json:"sharedInbox"`
	Endpoints    json.RawMessage `json:"endpoints"`
	// PreferredUsername makes, with the id's host, the actor's handle.
	PreferredUsername string `json:"preferredUsername"`
	// Name, Icon and URL are what a reply shows of its author
	// (profile). Raw: peers send strings, objects and arrays.
	Name json.RawMessage `json:"name"`
	Icon json.RawMessage `json:"icon"`
	URL  json.RawMessage `json:"url"`
	// AttributedTo is a fetched note's author (a note we reply to).
	AttributedTo json.RawMessage `json:"attributedTo"`
}

type publicKeyObject struct {
	ID           string `json:"id"`
	Owner        string `json:"owner"`
	PublicKeyPem string `json:"publicKeyPem"`
}

func decodeRemoteDocument(body []byte) (*remoteDocument, error) {
	var d remoteDocument
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if d.ID == "" {
		return nil, errors.New("document has no id")
	}
	return &d, nil
}

// sharedInbox returns endpoints.sharedInbox, or a top-level sharedInbox.
func (d *remoteDocument) sharedInbox() string {
	var ep struct {
		SharedInbox string `json:"sharedInbox"`
	}
	if len(d.Endpoints) > 0 && json.Unmarshal(d.Endpoints, &ep) == nil && ep.SharedInbox != "" {
		return ep.SharedInbox
	}
	return d.SharedInbox
}

// username returns the actor's preferredUsername when it is one that can
// be shown in a handle and a terminal: at most 64 letters, digits and
// _.-~ (Mastodon allows fewer, others a few more), else "".
func (d *remoteDocument) username() string {
	name := d.PreferredUsername
	if utf8.RuneCountInString(name) > 64 {
		return ""
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("_.-~", r) {
			return ""
		}
	}
	return name
}

// key finds the public key keyID in the document: the document itself when
// it is a key document with that id, or an entry of its publicKey (object
// or array). The errors are the document's faults, shown to the sender.
func (d *remoteDocument) key(keyID string) (*publicKeyObject, error) {
	if d.PublicKeyPem != "" {
		if d.ID != keyID {
			return nil, docErrorf("key document %s is not the key %s", truncate(d.ID, 80), keyID)
		}
		return &publicKeyObject{ID: d.ID, Owner: d.Owner, PublicKeyPem: d.PublicKeyPem}, nil
	}
	var keys []publicKeyObject
	raw := bytes.TrimSpace(d.PublicKey)
	switch {
	case len(raw) == 0:
	case raw[0] == '[':
		if err := json.Unmarshal(raw, &keys); err != nil {
			return nil, docErrorf("%s: publicKey: %v", truncate(d.ID, 80), err)
		}
	default:
		var k publicKeyObject
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, docErrorf("%s: publicKey: %v", truncate(d.ID, 80), err)
		}
		keys = append(keys, k)
	}
	for i := range keys {
		if keys[i].ID == keyID {
			return &keys[i], nil
		}
	}
	return nil, docErrorf("document %s holds no key %s", truncate(d.ID, 80), keyID)
}
