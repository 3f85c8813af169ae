package server

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// The Accept headers real peers send (docs/FEDERATION.md, "Media types and content negotiation") and what they must get.
var acceptCases = []struct {
	who, accept string
	json        bool
}{
	{"Mastodon", "application/activity+json, application/ld+json", true},
	{"GoToSocial", `application/ld+json; profile="https://www.w3.org/ns/activitystreams",application/activity+json`, true},
	{"Misskey", `application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"`, true},
	{"honk", "application/activity+json", true},
	{"snac", "application/activity+json", true},
	{"ld+json only", `application/ld+json; profile="https://www.w3.org/ns/activitystreams"`, true},
	{"plain JSON", "application/json", true},
	{"Firefox", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false},
	{"Chrome", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8", false},
	{"curl", "*/*", false},
	{"none", "", false},
	{"refuses AP", "application/activity+json;q=0, text/html", false},
	{"prefers AP", "text/html;q=0.5, application/activity+json", true},
}

func TestContentNegotiation(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	notes := []*store.Note{ts.publish(t, "hello")}
	noteID := ts.svc.NoteIRI(notes[0])
	for _, path := range []string{"/users/nuttx_build", "/@nuttx_build", noteID[len(ts.URL):], "/@nuttx_build/" + notes[0].PublicID} {
		for _, c := range acceptCases {
			resp, body := get(t, ts.URL+path, c.accept)
			if got := resp.Header.Get("Vary"); !strings.Contains(got, "Accept") {
				t.Errorf("%s %s: Vary = %q, want Accept", c.who, path, got)
			}
			ct := resp.Header.Get("Content-Type")
			if c.json {
				if resp.StatusCode != 200 || !strings.HasPrefix(ct, "application/activity+json") {
					t.Errorf("%s %s: %d %s, want 200 application/activity+json", c.who, path, resp.StatusCode, ct)
				}
				continue
			}
			if resp.StatusCode != 200 || !strings.HasPrefix(ct, "text/html") {
				t.Errorf("%s %s: %d %s, want the HTML page", c.who, path, resp.StatusCode, ct)
			} else if !bytes.Contains(body, []byte(`<link rel="alternate" type="application/activity+json"`)) ||
				!bytes.Contains(body, []byte(`<link rel="canonical" href="`+ts.URL+"/@nuttx_build")) {
				t.Errorf("%s %s: page without the alternate or canonical link", c.who, path)
			}
		}
	}
}

func TestActorDocument(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	a := getJSON(t, ts.URL+"/users/nuttx_build")
	id := ts.URL + "/users/nuttx_build"
	want := map[string]any{
		"id": id, "type": "Service", "preferredUsername": "nuttx_build", "name": defaultDisplayName,
		"inbox": id + "/inbox", "outbox": id + "/outbox", "followers": id + "/followers", "following": id + "/following",
		"featured": id + "/collections/featured", "url": ts.URL + "/@nuttx_build",
		"manuallyApprovesFollowers": false, "discoverable": true, "indexable": true,
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("actor[%q] = %v, want %v", k, a[k], v)
		}
	}
	if ep, _ := a["endpoints"].(map[string]any); ep["sharedInbox"] != ts.URL+"/inbox" {
		t.Errorf("endpoints = %v", a["endpoints"])
	}
	ctx, _ := a["@context"].([]any)
	if len(ctx) < 3 || ctx[0] != "https://www.w3.org/ns/activitystreams" || ctx[1] != "https://w3id.org/security/v1" {
		t.Errorf("@context = %v", a["@context"])
	}
	terms, _ := ctx[len(ctx)-1].(map[string]any)
	for _, term := range []string{"manuallyApprovesFollowers", "discoverable", "indexable", "featured", "PropertyValue", "value", "toot", "schema"} {
		if _, ok := terms[term]; !ok {
			t.Errorf("@context does not define %s", term)
		}
	}
	if s, _ := a["summary"].(string); !strings.HasPrefix(s, "<p>") {
		t.Errorf("summary %q is not HTML", s)
	}
	if icon, _ := a["icon"].(map[string]any); icon["type"] != "Image" || icon["mediaType"] != "image/png" || icon["url"] != ts.URL+"/static/avatar.png" {
		t.Errorf("icon = %v", a["icon"])
	}
	if p, _ := a["published"].(string); len(p) != len("2026-01-01T00:00:00Z") {
		t.Errorf("published = %v", a["published"])
	}
	att, _ := a["attachment"].([]any)
	links := map[string]bool{}
	for _, f := range att {
		m := f.(map[string]any)
		if m["type"] != "PropertyValue" {
			t.Errorf("attachment %v", m)
		}
		links[m["name"].(string)] = strings.Contains(m["value"].(string), `<a href="https://`)
	}
	if !links["NuttX Dashboard"] || !links["Source"] {
		t.Errorf("profile fields %v, want links to the dashboard and source", links)
	}

	// The key: keyId = actor#main-key, owner = actor, SPKI PEM of RSA-2048.
	pk := a["publicKey"].(map[string]any)
	if pk["id"] != id+"#main-key" || pk["owner"] != id {
		t.Errorf("publicKey = %v", pk)
	}
	pemText := pk["publicKeyPem"].(string)
	block, _ := pem.Decode([]byte(pemText))
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("publicKeyPem is not a PKIX PEM: %q", pemText)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := key.(interface{ Size() int }); !ok || k.Size() != 256 {
		t.Errorf("key is not RSA-2048: %T", key)
	}
	if path, err := exec.LookPath("openssl"); err == nil {
		cmd := exec.Command(path, "pkey", "-pubin", "-noout", "-text")
		cmd.Stdin = strings.NewReader(pemText)
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "2048 bit") {
			t.Errorf("openssl pkey: %v %s", err, out)
		}
	}

	// The key never changes across restarts.
	ts.Stop(t)
	ts2 := startWith(t, ts.cfg, listen(t)) // same base URL, another port
	if a2 := getJSON(t, ts2.URL+"/users/nuttx_build"); a2["publicKey"].(map[string]any)["publicKeyPem"] != pemText {
		t.Error("the key changed after a restart")
	}
}

func TestWebFingerLoopsBack(t *testing.T) {
	t.Parallel()
	// docs/FEDERATION.md, "WebFinger": acct from preferredUsername and the id's host must
	// resolve back to the same actor id.
	ts := startServer(t)
	a := getJSON(t, ts.URL+"/users/nuttx_build")
	id, _ := url.Parse(a["id"].(string))
	acct := "acct:" + a["preferredUsername"].(string) + "@" + id.Hostname()
	resp, body := get(t, ts.URL+"/.well-known/webfinger?resource="+url.QueryEscape(acct), "")
	var jrd struct {
		Subject string
		Aliases []string
		Links   []struct{ Rel, Type, Href string }
	}
	if err := json.Unmarshal(body, &jrd); err != nil || resp.StatusCode != 200 {
		t.Fatalf("webfinger %s: %d %s", acct, resp.StatusCode, body)
	}
	if jrd.Subject != acct {
		t.Errorf("subject %q, want %q", jrd.Subject, acct)
	}
	if jrd.Links[0].Rel != "self" || jrd.Links[0].Type != "application/activity+json" || jrd.Links[0].Href != a["id"] {
		t.Errorf("self link %+v, want %v", jrd.Links[0], a["id"])
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/jrd+json") {
		t.Errorf("Content-Type %q", ct)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("no CORS header on WebFinger")
	}
}

func TestWebFingerForms(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	host := strings.Split(strings.TrimPrefix(ts.URL, "http://"), ":")[0]
	hostPort := strings.TrimPrefix(ts.URL, "http://")
	for query, want := range map[string]int{
		"resource=acct:nuttx_build@" + host:                            200, // raw, as Mastodon sends it
		"resource=" + url.QueryEscape("acct:nuttx_build@"+host):        200, // escaped, as GoToSocial sends it
		"resource=" + url.QueryEscape("acct:NuttX_Build@"+host):        200,
		"resource=acct:nuttx_build@" + hostPort:                        200,
		"resource=nuttx_build@" + host:                                 200,
		"resource=" + url.QueryEscape(ts.URL+"/users/nuttx_build"):     200,
		"resource=" + url.QueryEscape(ts.URL+"/@nuttx_build"):          200,
		"resource=acct:nuttx_build@" + host + "&rel=self":              200,
		"resource=acct:nobody@" + host:                                 404,
		"resource=acct:nuttx_build@elsewhere.example":                  404,
		"resource=acct:nuttx_build":                                    400,
		"resource=":                                                    400,
		"":                                                             400,
		"resource=" + url.QueryEscape("acct:<script>@"+host):           400,
		"resource=" + url.QueryEscape("https://"+host+"/not/an/actor"): 400,
	} {
		resp, body := get(t, ts.URL+"/.well-known/webfinger?"+query, "")
		if resp.StatusCode != want {
			t.Errorf("webfinger?%s: %d %s, want %d", query, resp.StatusCode, body, want)
		}
		if want == 200 && !bytes.Contains(body, []byte(`"subject":"acct:nuttx_build@`+host+`"`)) {
			t.Errorf("webfinger?%s: %s", query, body)
		}
	}
}

func TestHostMetaAndNodeInfo(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	resp, body := get(t, ts.URL+"/.well-known/host-meta", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/xrd+xml") ||
		!bytes.Contains(body, []byte(`template="`+ts.URL+`/.well-known/webfinger?resource={uri}"`)) {
		t.Errorf("host-meta: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, body = get(t, ts.URL+"/.well-known/nodeinfo", "")
	var links struct{ Links []struct{ Rel, Href string } }
	json.Unmarshal(body, &links)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || len(links.Links) != 2 {
		t.Fatalf("nodeinfo links: %s %s", ct, body)
	}
	for _, l := range links.Links {
		resp, body := get(t, l.Href, "")
		var doc struct {
			Version           string
			Software          struct{ Name, Version string }
			Protocols         []string
			OpenRegistrations bool
			Usage             struct {
				Users struct{ Total int }
			}
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" && !strings.HasPrefix(ct, "application/json;") {
			t.Errorf("%s: Content-Type %q, want plain application/json", l.Href, ct)
		}
		if !strings.HasSuffix(l.Rel, doc.Version) || doc.Software.Name != "nuttx-feed" || len(doc.Protocols) != 1 ||
			doc.Protocols[0] != "activitypub" || doc.OpenRegistrations || doc.Usage.Users.Total != 1 {
			t.Errorf("%s: %s", l.Href, body)
		}
	}
	resp, body = get(t, ts.URL+"/health", "")
	if want := `{"status":"ok","checks":{"database":"ok","feed":"disabled"}}`; resp.StatusCode != 200 ||
		strings.TrimSpace(string(body)) != want || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("health: %d %q, want 200 %s", resp.StatusCode, body, want)
	}
}

func TestOutboxPaging(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	const total = 45
	for i := range total {
		if _, err := ts.publishPost(t, activitypub.Post{Content: richtext.Parse(fmt.Sprint("post ", i))}); err != nil {
			t.Fatal(err)
		}
	}
	outbox := ts.URL + "/users/nuttx_build/outbox"
	c := getJSON(t, outbox)
	if c["type"] != "OrderedCollection" || c["totalItems"] != float64(total) || c["first"] != outbox+"?page=true" || c["last"] != outbox+"?min_id=0&page=true" {
		t.Fatalf("outbox = %v", c)
	}
	// Walk forward with next: newest first, every post exactly once.
	var seen []string
	for page := c["first"].(string); page != ""; {
		p := getJSON(t, page)
		if p["type"] != "OrderedCollectionPage" || p["partOf"] != outbox {
			t.Fatalf("page %s = %v", page, p)
		}
		for _, item := range p["orderedItems"].([]any) {
			create := item.(map[string]any)
			note := create["object"].(map[string]any)
			if create["type"] != "Create" || note["type"] != "Note" {
				t.Fatalf("item %v", create)
			}
			seen = append(seen, strings.TrimPrefix(note["content"].(string), "<p>"))
		}
		next, _ := p["next"].(string)
		page = next
		if len(seen) > total {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != total || seen[0] != fmt.Sprintf("post %d</p>", total-1) || seen[total-1] != "post 0</p>" {
		t.Fatalf("walked %d items: first %q last %q", len(seen), seen[0], seen[len(seen)-1])
	}
	// The last page holds the oldest posts and links back to newer ones.
	last := getJSON(t, c["last"].(string))
	items := last["orderedItems"].([]any)
	if len(items) != store.PageSize || last["next"] != nil || last["prev"] == nil {
		t.Fatalf("last page: %d items, next %v, prev %v", len(items), last["next"], last["prev"])
	}
	oldest := items[len(items)-1].(map[string]any)["object"].(map[string]any)["content"]
	if oldest != "<p>post 0</p>" {
		t.Errorf("last page ends with %v", oldest)
	}
	// Its prev page holds the 20 posts immediately newer (20..39), newest
	// first, and links on to the newest ones.
	prev := getJSON(t, last["prev"].(string))
	pitems := prev["orderedItems"].([]any)
	content := func(i int) any { return pitems[i].(map[string]any)["object"].(map[string]any)["content"] }
	if len(pitems) != store.PageSize || content(0) != "<p>post 39</p>" || content(len(pitems)-1) != "<p>post 20</p>" || prev["prev"] == nil {
		t.Errorf("the page before the last: %d items from %v to %v, prev %v", len(pitems), content(0), content(len(pitems)-1), prev["prev"])
	}
	if resp, _ := get(t, outbox+"?page=true&max_id=abc", apAccept); resp.StatusCode != 400 {
		t.Errorf("max_id=abc: %d, want 400", resp.StatusCode)
	}
}

func TestCollections(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	for i := range 25 {
		r := fedtest.New(t, fmt.Sprintf("f%d", i), fedtest.Mastodon, fedtest.FetchKeys)
		resp, err := r.Post(ts.URL+"/inbox", r.FollowActivity(ts.URL+"/users/nuttx_build"))
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("follow %d: %v %v", i, err, resp.StatusCode)
		}
		resp.Body.Close()
	}
	base := ts.URL + "/users/nuttx_build"
	f := getJSON(t, base+"/followers")
	if f["type"] != "OrderedCollection" || f["totalItems"] != float64(25) || f["first"] != base+"/followers?page=1" {
		t.Fatalf("followers = %v", f)
	}
	p1 := getJSON(t, base+"/followers?page=1")
	p2 := getJSON(t, p1["next"].(string))
	if len(p1["orderedItems"].([]any)) != 20 || len(p2["orderedItems"].([]any)) != 5 || p2["next"] != nil || p2["prev"] != base+"/followers?page=1" {
		t.Errorf("follower pages: %v / %v", p1, p2)
	}
	if g := getJSON(t, base+"/following"); g["totalItems"] != float64(0) || g["first"] == nil {
		t.Errorf("following = %v", g)
	}
	if ft := getJSON(t, base+"/collections/featured"); ft["type"] != "OrderedCollection" || ft["totalItems"] != float64(0) {
		t.Errorf("featured = %v", ft)
	}
	for _, path := range []string{"/users/nobody", "/users/nobody/outbox", "/users/nobody/followers", "/users/nuttx_build/statuses/0123456789abcdef0123456789abcdef", "/@nobody"} {
		if resp, _ := get(t, ts.URL+path, apAccept); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}

func TestNoteDocuments(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	parent, _ := ts.publishPost(t, activitypub.Post{Content: richtext.Parse("root")})
	child, err := ts.publishPost(t, activitypub.Post{
		Content: richtext.Parse("rv-virt:citest broke <again> & again\nlog: https://example.org/x #NuttX #risc_v"), InReplyTo: parent.PublicID})
	if err != nil {
		t.Fatal(err)
	}
	id := ts.svc.NoteIRI(child)
	n := getJSON(t, id)
	checks := map[string]any{
		"id": id, "type": "Note", "attributedTo": ts.URL + "/users/nuttx_build", "inReplyTo": ts.svc.NoteIRI(parent),
		"url": ts.URL + "/@nuttx_build/" + child.PublicID, "sensitive": false, "summary": nil,
	}
	for k, v := range checks {
		if n[k] != v {
			t.Errorf("note[%q] = %v, want %v", k, n[k], v)
		}
	}
	if to := n["to"].([]any); len(to) != 1 || to[0] != "https://www.w3.org/ns/activitystreams#Public" {
		t.Errorf("to = %v", n["to"])
	}
	if cc := n["cc"].([]any); len(cc) != 1 || cc[0] != ts.URL+"/users/nuttx_build/followers" {
		t.Errorf("cc = %v", n["cc"])
	}
	content := n["content"].(string)
	for _, want := range []string{"<p>rv-virt:citest broke &lt;again&gt; &amp; again<br>log: <a href=\"https://example.org/x\"",
		`<a href="` + ts.URL + `/tags/nuttx" class="mention hashtag" rel="tag">#<span>NuttX</span></a>`} {
		if !strings.Contains(content, want) {
			t.Errorf("content %q lacks %q", content, want)
		}
	}
	tags := n["tag"].([]any)
	if len(tags) != 2 || tags[0].(map[string]any)["type"] != "Hashtag" || tags[0].(map[string]any)["name"] != "#NuttX" {
		t.Errorf("tag = %v", tags)
	}
	create := getJSON(t, id+"/activity")
	if create["type"] != "Create" || create["id"] != id+"/activity" || create["object"].(map[string]any)["id"] != id {
		t.Errorf("activity = %v", create)
	}
	// The stored Create (what followers received) and the served note agree.
	var stored []byte
	ts.sql(t).QueryRow(`SELECT body FROM activities WHERE iri = ?`, id+"/activity").Scan(&stored)
	var sent map[string]any
	json.Unmarshal(stored, &sent)
	if sent["object"].(map[string]any)["content"] != content {
		t.Error("the delivered content differs from the served one")
	}
	// The tag page lists it.
	resp, body := get(t, ts.URL+"/tags/nuttx", "text/html")
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("rv-virt:citest broke")) {
		t.Errorf("tag page: %d", resp.StatusCode)
	}
}

func TestInboxHTTPAnswers(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	r := fedtest.New(t, "zed", fedtest.Mastodon, fedtest.FetchKeys)
	post := func(path, contentType string, body []byte, sign bool) int {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, bytes.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if sign {
			if err := r.Sign(req, body); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	follow, _ := json.Marshal(r.FollowActivity(ts.URL + "/users/nuttx_build"))
	huge := append([]byte(`{"id":"x","pad":"`), bytes.Repeat([]byte("x"), activitypub.MaxInboxBody)...)
	huge = append(huge, `"}`...)
	before := ts.snapshot(t)
	for _, c := range []struct {
		name, path, ct string
		body           []byte
		sign           bool
		want           int
	}{
		{"unsigned", "/inbox", apAccept, follow, false, 401},
		{"malformed JSON", "/inbox", apAccept, []byte(`{"type":`), true, 400},
		{"missing actor", "/inbox", apAccept, []byte(`{"id":"https://x.example/1","type":"Follow"}`), true, 400},
		{"too large", "/inbox", apAccept, huge, false, 413},
		{"HTML body", "/inbox", "text/html", []byte("<p>hi</p>"), true, 415},
		{"unknown inbox", "/users/nobody/inbox", apAccept, follow, true, 404},
	} {
		if got := post(c.path, c.ct, c.body, c.sign); got != c.want {
			t.Errorf("%s: HTTP %d, want %d", c.name, got, c.want)
		}
	}
	after := ts.snapshot(t)
	for table, n := range before {
		if after[table] != n {
			t.Errorf("table %s went from %d to %d rows after rejected requests", table, n, after[table])
		}
	}
	for _, ct := range []string{"application/activity+json", `application/ld+json; profile="https://www.w3.org/ns/activitystreams"`, "application/json"} {
		if got := post("/inbox", ct, follow, true); got != 202 {
			t.Errorf("Content-Type %s: HTTP %d, want 202", ct, got)
		}
	}
	// GETs never require a signature, and ignore one that is there.
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/users/nuttx_build", nil)
	req.Header.Set("Accept", apAccept)
	req.Header.Set("Signature", `keyId="https://nowhere.example/k",signature="AAAA"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("GET with a bogus signature: %v %v", err, resp.StatusCode)
	}
}

func TestNoteAnswers503NotFoundWhenDatabaseFails(t *testing.T) {
	t.Parallel()
	// docs/FEDERATION.md, "Errors": a note must never 404 while it exists; a failing store
	// answers 503 with Retry-After instead.
	ts := startServer(t)
	n := ts.publish(t, "x")
	id := ts.svc.NoteIRI(n)
	ts.store.Close()
	resp, _ := get(t, id, apAccept)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("note with the database down: %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp, _ := get(t, ts.URL+"/health", ""); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("health with the database down: %d, want 503", resp.StatusCode)
	}
}
