// Package fedtest simulates a remote Fediverse server for tests: one actor
// with its own RSA key, served (like GoToSocial) only to signed GETs, an
// inbox that verifies and records what it is sent, and a client that signs
// requests the way each real server does.
//
// It signs and verifies with github.com/go-fed/httpsig, an implementation
// independent of the go-ap/httpsig code under test.
package fedtest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gofedsig "github.com/go-fed/httpsig"
)

// Style is the way a server signs its POSTs (the styles of docs/FEDERATION.md, "HTTP signatures", as each server implements them).
type Style struct {
	Name        string
	Algorithm   string   // the algorithm parameter written; "" leaves it out
	Headers     []string // signed components, in order
	KeyIDSuffix string   // appended to the actor id: "#main-key" or "/main-key"
	ExpiresIn   int64    // for (created)/(expires) styles
}

// The signing styles of the servers nuttx-feed federates with.
var (
	Mastodon   = Style{"mastodon", "rsa-sha256", []string{"(request-target)", "host", "date", "digest", "content-type"}, "#main-key", 0}
	GoToSocial = Style{"gotosocial", "hs2019", []string{"(request-target)", "host", "date", "digest"}, "/main-key", 0}
	Misskey    = Style{"misskey", "rsa-sha256", []string{"(request-target)", "date", "host", "digest"}, "#main-key", 0}
	Pleroma    = Style{"pleroma", "rsa-sha256", []string{"(request-target)", "host", "content-length", "digest", "date"}, "#main-key", 0}
	Snac       = Style{"snac", "rsa-sha256", []string{"(request-target)", "host", "digest", "date"}, "#main-key", 0}
	Honk       = Style{"honk", "rsa-sha256", []string{"(request-target)", "date", "host", "content-type", "digest"}, "#main-key", 0}
	// Created is the hs2019 form with (created) and (expires) that
	// GoToSocial plans to adopt.
	Created = Style{"hs2019-created", "hs2019", []string{"(request-target)", "(created)", "(expires)", "host", "digest"}, "/main-key", 300}
	// NoAlgorithm leaves the algorithm parameter out.
	NoAlgorithm = Style{"no-algorithm", "", []string{"(request-target)", "host", "date", "digest"}, "#main-key", 0}
)

// AllStyles lists every style above.
var AllStyles = []Style{Mastodon, GoToSocial, Misskey, Pleroma, Snac, Honk, Created, NoAlgorithm}

// Delivery is one POST received at the remote inbox.
type Delivery struct {
	Path      string
	Header    http.Header
	Body      []byte
	Activity  map[string]any
	VerifyErr error // nil when the signature, Digest and Date all check out
	At        time.Time
}

// Remote is a simulated server. Create it with New.
type Remote struct {
	Server   *httptest.Server
	Username string
	Key      *rsa.PrivateKey
	Style    Style
	// SharedInbox, when set, makes the actor advertise /inbox as its shared
	// inbox (GoToSocial has none).
	SharedInbox bool
	// DisplayName and AvatarURL, when set, are the actor's name and icon.
	DisplayName string
	AvatarURL   string
	// ProfileURL, when set, is the actor's url (its profile page).
	ProfileURL string
	// AccountDomain, when set, is the host of the actor's account, the
	// subject of the WebFinger answer: a split domain, as Mastodon's
	// LOCAL_DOMAIN makes one (@alice@example.com served by
	// social.example.com).
	AccountDomain string

	mu         sync.Mutex
	deliveries []Delivery
	gets       []*http.Request
	answer     func(n int) (status int, header http.Header) // inbox answer for the n-th POST (from 1)
	keys       func(keyID string) (*rsa.PublicKey, error)
	gone       bool
	newDeliv   chan struct{}
	notes      map[string]map[string]any // by path, served to signed GETs (AddNote)
}

// New starts a remote server on 127.0.0.1 with one actor, stopped when the
// test ends. ourKeys resolves our key ids to public keys so the remote can
// verify what we send; FetchKeys is a ready-made resolver over HTTP.
func New(tb testing.TB, username string, style Style, ourKeys func(keyID string) (*rsa.PublicKey, error)) *Remote {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	r := &Remote{Username: username, Key: key, Style: style, keys: ourKeys, newDeliv: make(chan struct{}, 1)}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	tb.Cleanup(r.Server.Close)
	return r
}

// ActorID is the remote actor's id.
func (r *Remote) ActorID() string { return r.Server.URL + "/users/" + r.Username }

// KeyID is the id of the remote actor's key, in the remote's style.
func (r *Remote) KeyID() string { return r.ActorID() + r.Style.KeyIDSuffix }

// Inbox is the remote actor's personal inbox.
func (r *Remote) Inbox() string { return r.ActorID() + "/inbox" }

// SharedInboxURL is the shared inbox (only advertised with SharedInbox).
func (r *Remote) SharedInboxURL() string { return r.Server.URL + "/inbox" }

// Answer programs the inbox: fn gets the 1-based number of each POST and
// returns the status and extra headers to answer with.
func (r *Remote) Answer(fn func(n int) (int, http.Header)) {
	r.mu.Lock()
	r.answer = fn
	r.mu.Unlock()
}

// SetGone makes the actor and key answer 410 Gone from now on.
func (r *Remote) SetGone() {
	r.mu.Lock()
	r.gone = true
	r.mu.Unlock()
}

// Deliveries returns a copy of what the inbox received so far.
func (r *Remote) Deliveries() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.deliveries...)
}

// Gets returns the GET requests received so far for the actor, its key,
// its notes and WebFinger.
func (r *Remote) Gets() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.gets...)
}

// WaitDeliveries waits until at least n POSTs arrived, or fails the test.
func (r *Remote) WaitDeliveries(tb testing.TB, n int, timeout time.Duration) []Delivery {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		if d := r.Deliveries(); len(d) >= n {
			return d
		}
		select {
		case <-r.newDeliv:
		case <-deadline:
			tb.Fatalf("%s: got %d deliveries, want %d within %v", r.Username, len(r.Deliveries()), n, timeout)
		}
	}
}

func (r *Remote) actorDocument() map[string]any {
	id := r.ActorID()
	doc := map[string]any{
		"@context":          []any{"https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"},
		"id":                id,
		"type":              "Person",
		"preferredUsername": r.Username,
		"inbox":             r.Inbox(),
		"outbox":            id + "/outbox",
		"followers":         id + "/followers",
		"publicKey":         map[string]any{"id": r.KeyID(), "owner": id, "publicKeyPem": PublicKeyPEM(&r.Key.PublicKey)},
	}
	if r.SharedInbox {
		doc["endpoints"] = map[string]any{"sharedInbox": r.SharedInboxURL()}
	}
	if r.DisplayName != "" {
		doc["name"] = r.DisplayName
	}
	if r.AvatarURL != "" {
		doc["icon"] = map[string]any{"type": "Image", "url": r.AvatarURL}
	}
	if r.ProfileURL != "" {
		doc["url"] = r.ProfileURL
	}
	return doc
}

// Handle is the remote actor's handle, @username@127.0.0.1:port.
func (r *Remote) Handle() string {
	return "@" + r.Username + "@" + strings.TrimPrefix(r.Server.URL, "http://")
}

// AddNote makes the remote serve a public Note of its actor with content
// at /users/NAME/statuses/id (to signed GETs only, as GoToSocial does) and
// returns its id.
func (r *Remote) AddNote(id, content string) string {
	path := "/users/" + r.Username + "/statuses/" + id
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.notes == nil {
		r.notes = map[string]map[string]any{}
	}
	r.notes[path] = map[string]any{"@context": "https://www.w3.org/ns/activitystreams", "id": r.Server.URL + path, "type": "Note",
		"attributedTo": r.ActorID(), "content": content, "to": []any{"https://www.w3.org/ns/activitystreams#Public"},
		"published": time.Now().UTC().Format(time.RFC3339)}
	return r.Server.URL + path
}

// serveWebFinger answers acct:USERNAME@HOST:PORT (and
// acct:USERNAME@AccountDomain) with the actor's self link, its subject the
// account, and anything else with 404.
func (r *Remote) serveWebFinger(w http.ResponseWriter, req *http.Request) {
	own := "acct:" + strings.TrimPrefix(r.Handle(), "@")
	subject := own
	if r.AccountDomain != "" {
		subject = "acct:" + r.Username + "@" + r.AccountDomain
	}
	resource := req.URL.Query().Get("resource")
	if !strings.EqualFold(resource, own) && !strings.EqualFold(resource, subject) {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", "application/jrd+json")
	json.NewEncoder(w).Encode(map[string]any{"subject": subject,
		"links": []any{map[string]any{"rel": "self", "type": "application/activity+json", "href": r.ActorID()}}})
}

func (r *Remote) serve(w http.ResponseWriter, req *http.Request) {
	id := "/users/" + r.Username
	r.mu.Lock()
	gone, note := r.gone, r.notes[req.URL.Path]
	known := note != nil || req.URL.Path == id || req.URL.Path == id+"/main-key" || req.URL.Path == "/.well-known/webfinger"
	if req.Method == http.MethodGet && known {
		r.gets = append(r.gets, req)
	}
	r.mu.Unlock()
	switch {
	case req.Method == http.MethodGet && req.URL.Path == "/.well-known/webfinger":
		r.serveWebFinger(w, req)
	case req.Method == http.MethodGet && note != nil:
		if err := r.verifyFromUs(req, nil, false); err != nil {
			http.Error(w, "signed GET required: "+err.Error(), http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/activity+json")
		json.NewEncoder(w).Encode(note)
	case req.Method == http.MethodGet && (req.URL.Path == id || req.URL.Path == id+"/main-key"):
		if gone {
			http.Error(w, "gone", http.StatusGone)
			return
		}
		doc := r.actorDocument()
		if req.URL.Path == id+"/main-key" { // GoToSocial's unsigned key stub
			doc = map[string]any{"@context": doc["@context"], "id": doc["id"], "type": "Person",
				"preferredUsername": r.Username, "publicKey": doc["publicKey"]}
		} else if err := r.verifyFromUs(req, nil, false); err != nil { // signed GET only
			http.Error(w, "signed GET required: "+err.Error(), http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/activity+json")
		json.NewEncoder(w).Encode(doc)
	case req.Method == http.MethodPost && (req.URL.Path == id+"/inbox" || req.URL.Path == "/inbox"):
		body, _ := io.ReadAll(req.Body)
		d := Delivery{Path: req.URL.Path, Header: req.Header.Clone(), Body: body, At: time.Now()}
		d.Header.Set("Host", req.Host)
		d.VerifyErr = r.verifyFromUs(req, body, true)
		json.Unmarshal(body, &d.Activity)
		r.mu.Lock()
		r.deliveries = append(r.deliveries, d)
		n, answer := len(r.deliveries), r.answer
		r.mu.Unlock()
		select {
		case r.newDeliv <- struct{}{}:
		default:
		}
		status := http.StatusAccepted
		if answer != nil {
			var h http.Header
			status, h = answer(n)
			for k, v := range h {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(status)
	default:
		http.NotFound(w, req)
	}
}

var sigParamRE = regexp.MustCompile(`(\w+)="[^"]*"`)

// verifyFromUs checks a request we sent, as a strict peer would: exactly the
// four parameters keyId, algorithm, headers, signature (honk), algorithm
// rsa-sha256, the components Mastodon requires, a Digest that matches the
// body and a fresh Date; then the signature itself with go-fed/httpsig.
func (r *Remote) verifyFromUs(req *http.Request, body []byte, post bool) error {
	sig := req.Header.Get("Signature")
	var names []string
	for _, m := range sigParamRE.FindAllStringSubmatch(sig, -1) {
		names = append(names, m[1])
	}
	if strings.Join(names, ",") != "keyId,algorithm,headers,signature" {
		return fmt.Errorf("signature parameters %v, want exactly keyId,algorithm,headers,signature", names)
	}
	if !strings.Contains(sig, `algorithm="rsa-sha256"`) {
		return fmt.Errorf("algorithm is not rsa-sha256: %s", sig)
	}
	want := `headers="(request-target) host date"`
	if post {
		want = `headers="(request-target) host date digest"`
	}
	if !strings.Contains(sig, want) {
		return fmt.Errorf("signed headers are not %s: %s", want, sig)
	}
	date, err := http.ParseTime(req.Header.Get("Date"))
	if err != nil || time.Since(date).Abs() > time.Minute {
		return fmt.Errorf("the Date %q is not current", req.Header.Get("Date"))
	}
	if post {
		sum := sha256.Sum256(body)
		if got := req.Header.Get("Digest"); got != "SHA-256="+base64.StdEncoding.EncodeToString(sum[:]) {
			return fmt.Errorf("the Digest %q does not match the body", got)
		}
	}
	req.Header.Set("Host", req.Host) // go-fed/httpsig reads host from the header map
	v, err := gofedsig.NewVerifier(req)
	if err != nil {
		return err
	}
	if r.keys == nil {
		return fmt.Errorf("no way to resolve key %s", v.KeyId())
	}
	pub, err := r.keys(v.KeyId())
	if err != nil {
		return fmt.Errorf("key %s: %w", v.KeyId(), err)
	}
	return v.Verify(pub, gofedsig.RSA_SHA256)
}

// Sign signs req (whose body is body) in the remote's style, with the
// remote's key; host is the Host the receiver will see.
func (r *Remote) Sign(req *http.Request, body []byte) error {
	return SignAs(req, body, r.Style, r.KeyID(), r.Key)
}

// SignAs signs req in style with key, using go-fed/httpsig, then rewrites
// the algorithm parameter to what that server writes.
func SignAs(req *http.Request, body []byte, style Style, keyID string, key *rsa.PrivateKey) error {
	if req.Header.Get("Date") == "" {
		req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	if req.Host == "" {
		req.Host = req.URL.Host
	}
	req.Header.Set("Host", req.Host)
	if body != nil {
		req.Header.Set("Content-Length", fmt.Sprint(len(body)))
	}
	signer, _, err := gofedsig.NewSigner([]gofedsig.Algorithm{gofedsig.RSA_SHA256}, gofedsig.DigestSha256, style.Headers, gofedsig.Signature, style.ExpiresIn)
	if err != nil {
		return err
	}
	if err := signer.SignRequest(key, keyID, req, body); err != nil {
		return err
	}
	req.Header.Del("Host")
	sig := req.Header.Get("Signature")
	switch style.Algorithm {
	case "hs2019":
	case "":
		sig = strings.Replace(sig, `algorithm="hs2019",`, "", 1)
	default:
		sig = strings.Replace(sig, `algorithm="hs2019"`, `algorithm="`+style.Algorithm+`"`, 1)
	}
	req.Header.Set("Signature", sig)
	return nil
}

// Post sends activity (marshalled) to url, signed in the remote's style.
func (r *Remote) Post(url string, activity any) (*http.Response, error) {
	body, err := json.Marshal(activity)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", `application/ld+json; profile="https://www.w3.org/ns/activitystreams"`)
	if err := r.Sign(req, body); err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}

// FollowActivity returns a Follow of target by the remote actor.
func (r *Remote) FollowActivity(target string) map[string]any {
	return map[string]any{
		"@context": "https://www.w3.org/ns/activitystreams",
		"id":       r.ActorID() + "/follow/" + RandomHex(),
		"type":     "Follow",
		"actor":    r.ActorID(),
		"object":   target,
	}
}

// UndoActivity returns an Undo embedding follow.
func (r *Remote) UndoActivity(follow map[string]any) map[string]any {
	inner := map[string]any{}
	for k, v := range follow {
		if k != "@context" {
			inner[k] = v
		}
	}
	return map[string]any{
		"@context": "https://www.w3.org/ns/activitystreams",
		"id":       r.ActorID() + "/undo/" + RandomHex(),
		"type":     "Undo",
		"actor":    r.ActorID(),
		"object":   inner,
	}
}

// NoteActivity returns a Create or Update (typ) by the remote actor of
// its note noteID answering inReplyTo with content.
func (r *Remote) NoteActivity(typ, noteID, inReplyTo, content string) map[string]any {
	return map[string]any{
		"@context": "https://www.w3.org/ns/activitystreams",
		"id":       noteID + "/" + typ + "/" + RandomHex(),
		"type":     typ,
		"actor":    r.ActorID(),
		"object": map[string]any{"id": noteID, "type": "Note", "attributedTo": r.ActorID(), "inReplyTo": inReplyTo,
			"content": content, "published": "2026-11-29T10:00:00Z", "url": noteID + "/page",
			"to": "https://www.w3.org/ns/activitystreams#Public"},
	}
}

// DeleteActivity returns a Delete by the remote actor of object.
func (r *Remote) DeleteActivity(object any) map[string]any {
	return map[string]any{
		"@context": "https://www.w3.org/ns/activitystreams",
		"id":       r.ActorID() + "/delete/" + RandomHex(),
		"type":     "Delete",
		"actor":    r.ActorID(),
		"object":   object,
	}
}

// RandomHex returns 8 random bytes in hex.
func RandomHex() string {
	var b [8]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x", b)
}

// PublicKeyPEM encodes pub as PKIX PEM.
func PublicKeyPEM(pub *rsa.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// FetchKeys resolves a key id by fetching its actor over HTTP without a
// signature (we serve our actor to anyone) and reading publicKey.
func FetchKeys(keyID string) (*rsa.PublicKey, error) {
	actor := strings.SplitN(keyID, "#", 2)[0]
	req, _ := http.NewRequest(http.MethodGet, actor, nil)
	req.Header.Set("Accept", "application/activity+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var doc struct {
		PublicKey struct {
			ID           string `json:"id"`
			PublicKeyPem string `json:"publicKeyPem"`
		} `json:"publicKey"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return nil, err
	}
	if doc.PublicKey.ID != keyID {
		return nil, fmt.Errorf("actor key id %q, want %q", doc.PublicKey.ID, keyID)
	}
	return ParsePublicKey(doc.PublicKey.PublicKeyPem)
}

// ParsePublicKey decodes a PKIX PEM RSA key.
func ParsePublicKey(s string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, fmt.Errorf("not PEM")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("not RSA")
	}
	return pub, nil
}
