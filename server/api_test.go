package server

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-mastodon"

	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
)

// The Mastodon-compatible API, against `nuttx-feed serve` in a child
// process with a token made by `nuttx-feed token create`: through a real
// Mastodon client library and through requests shaped like Mastodon's
// documentation.

// apiServer is a running server and a token for its API.
type apiServer struct {
	*adminServer
	token string
}

// startAPIServer starts a server and makes a token with `token create`.
func startAPIServer(t *testing.T) *apiServer {
	t.Helper()
	s := startAdminServer(t)
	code, out, stderr := run("token", "create", "--data", s.dir, "ci")
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return &apiServer{s, lines[len(lines)-1]}
}

// client is a go-mastodon client of the server with its token.
func (s *apiServer) client() *mastodon.Client {
	return mastodon.NewClient(&mastodon.Config{Server: s.url, AccessToken: s.token})
}

// request sends method path with body of the content type ctype ("" for
// none), with the token unless auth is "", and decodes the JSON answer.
func (s *apiServer) request(t *testing.T, method, path, auth, ctype string, body []byte, header ...string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	a := send(t, req)
	var doc map[string]any
	if a.body != "" && json.Unmarshal([]byte(a.body), &doc) != nil {
		t.Fatalf("%s %s: %d, not JSON: %q", method, path, a.status, a.body)
	}
	return a.status, doc, a.header
}

// post posts a status form with the token.
func (s *apiServer) postForm(t *testing.T, form url.Values, header ...string) (int, map[string]any) {
	t.Helper()
	code, doc, _ := s.request(t, "POST", "/api/v1/statuses", "Bearer "+s.token, "application/x-www-form-urlencoded", []byte(form.Encode()), header...)
	return code, doc
}

// noteCount is how many notes the database holds.
func (s *apiServer) noteCount(t *testing.T) int {
	t.Helper()
	var n int
	if err := s.db(t).SQL.QueryRow(`SELECT COUNT(*) FROM notes`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAPIWithMastodonClient(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	c := s.client()
	ctx := t.Context()

	me, err := c.GetAccountCurrentUser(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if me.Username != "nuttx_build" || me.Acct != "nuttx_build" || !me.Bot || me.ID == "" || me.URL != adminBase+"/@nuttx_build" {
		t.Errorf("verify_credentials: %+v", me)
	}
	inst, err := c.GetInstance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(inst.Version, "4.3.0 (compatible; nuttx-feed ") || inst.URI != "localhost:8080" {
		t.Errorf("instance: %+v", inst)
	}

	st, err := c.PostStatus(ctx, &mastodon.Toot{Status: "Posted with go-mastodon #NuttX", Visibility: "unlisted"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.Content, "Posted with go-mastodon") || st.Visibility != "unlisted" || st.Account.ID != me.ID ||
		len(st.Tags) != 1 || st.Tags[0].Name != "nuttx" || !strings.HasPrefix(st.URI, adminBase+"/users/nuttx_build/statuses/") {
		t.Errorf("posted: %+v", st)
	}
	got, err := c.GetStatus(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != st.ID || got.Content != st.Content || !got.CreatedAt.Equal(st.CreatedAt) {
		t.Errorf("got %+v, posted %+v", got, st)
	}
	reply, err := c.PostStatus(ctx, &mastodon.Toot{Status: "a reply", InReplyToID: st.ID})
	if err != nil {
		t.Fatal(err)
	}
	if reply.InReplyToID != string(st.ID) || reply.InReplyToAccountID != string(me.ID) || reply.Visibility != "public" {
		t.Errorf("reply: in_reply_to_id %v account %v visibility %s", reply.InReplyToID, reply.InReplyToAccountID, reply.Visibility)
	}
	if got, err = c.GetStatus(ctx, st.ID); err != nil || got.RepliesCount != 1 {
		t.Errorf("replies_count %d (%v), want 1", got.RepliesCount, err)
	}

	bad := mastodon.NewClient(&mastodon.Config{Server: s.url, AccessToken: "nfd_not-a-token"})
	if _, err := bad.GetAccountCurrentUser(ctx); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a bad token: %v, want 401", err)
	}
}

// TestAPIRawRequests: the shapes of Mastodon's documentation (the curl form
// post, JSON, multipart), the JSON fields clients read, and the errors.
func TestAPIRawRequests(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	bearer := "Bearer " + s.token

	var multi bytes.Buffer
	mw := multipart.NewWriter(&multi)
	mw.WriteField("status", "Posting a status from curl")
	mw.Close()
	for name, c := range map[string]struct {
		ctype string
		body  string
	}{
		"form":      {"application/x-www-form-urlencoded", "status=Posting+a+status+from+curl&visibility=public"},
		"multipart": {mw.FormDataContentType(), multi.String()},
		"json":      {"application/json; charset=utf-8", `{"status":"Posting a status from curl","sensitive":false,"language":"en","media_ids":[]}`},
	} {
		code, doc, _ := s.request(t, "POST", "/api/v1/statuses", bearer, c.ctype, []byte(c.body))
		if code != 200 || doc["content"] != "<p>Posting a status from curl</p>" {
			t.Fatalf("%s: %d %v", name, code, doc)
		}
		id, _ := doc["id"].(string)
		for _, k := range []string{"id", "created_at", "account", "content", "url", "uri", "in_reply_to_id", "replies_count", "visibility",
			"sensitive", "spoiler_text", "emojis", "media_attachments", "mentions", "tags"} {
			if _, ok := doc[k]; !ok {
				t.Errorf("%s: no %s in %v", name, k, doc)
			}
		}
		if created, _ := doc["created_at"].(string); len(created) != len("2026-01-02T03:04:05.678Z") || !strings.HasSuffix(created, "Z") {
			t.Errorf("%s: created_at %q", name, created)
		}
		if acct := doc["account"].(map[string]any); acct["bot"] != true || acct["id"] == nil || acct["emojis"] == nil {
			t.Errorf("%s: account %v", name, acct)
		}
		if code, got, _ := s.request(t, "GET", "/api/v1/statuses/"+id, "", "", nil); code != 200 || got["id"] != id {
			t.Errorf("%s: GET without a token: %d %v", name, code, got)
		}
	}
	if n := s.noteCount(t); n != 3 {
		t.Errorf("%d notes, want 3", n)
	}

	for _, c := range []struct {
		name, method, path, auth, ctype, body string
		status                                int
		err                                   string
	}{
		{"no token", "POST", "/api/v1/statuses", "", "application/x-www-form-urlencoded", "status=hi", 401, "The access token is invalid"},
		{"bad token", "POST", "/api/v1/statuses", "Bearer nfd_nope", "application/x-www-form-urlencoded", "status=hi", 401, "The access token is invalid"},
		{"not bearer", "GET", "/api/v1/accounts/verify_credentials", "Basic " + s.token, "", "", 401, "The access token is invalid"},
		{"empty bearer, credentials", "GET", "/api/v1/accounts/verify_credentials", "Bearer ", "", "", 401, "The access token is invalid"},
		{"no token, credentials", "GET", "/api/v1/accounts/verify_credentials", "", "", "", 401, "The access token is invalid"},
		{"bad token, a public GET", "GET", "/api/v1/instance", "Bearer nfd_nope", "", "", 401, "The access token is invalid"},
		{"empty", "POST", "/api/v1/statuses", bearer, "application/x-www-form-urlencoded", "status=+%0A", 422, "Validation failed: Text can't be blank"},
		{"no status", "POST", "/api/v1/statuses", bearer, "application/json", `{"visibility":"public"}`, 422, "Validation failed: Text can't be blank"},
		{"too long", "POST", "/api/v1/statuses", bearer, "application/x-www-form-urlencoded", "status=" + strings.Repeat("x", 5001), 422, "Validation failed: Text character limit of 5000 exceeded"},
		{"private", "POST", "/api/v1/statuses", bearer, "application/x-www-form-urlencoded", "status=hi&visibility=private", 422, "Validation failed: Visibility private is not supported: nuttx-feed posts public and unlisted statuses only"},
		{"direct", "POST", "/api/v1/statuses", bearer, "application/json", `{"status":"hi","visibility":"direct"}`, 422, "Validation failed: Visibility direct is not supported: nuttx-feed posts public and unlisted statuses only"},
		{"odd visibility", "POST", "/api/v1/statuses", bearer, "application/json", `{"status":"hi","visibility":"world"}`, 422, "Validation failed: Visibility is not included in the list"},
		{"sensitive not a boolean", "POST", "/api/v1/statuses", bearer, "application/json", `{"status":"hi","sensitive":"maybe"}`, 422, `Validation failed: Sensitive "maybe" is not true or false`},
		{"bad JSON", "POST", "/api/v1/statuses", bearer, "application/json", `{"status":`, 400, "malformed request: reading the JSON body: unexpected EOF"},
		{"reply to nothing", "POST", "/api/v1/statuses", bearer, "application/json", `{"status":"hi","in_reply_to_id":"00000000000000000000000000000000"}`, 404, "Record not found"},
		{"no such status", "GET", "/api/v1/statuses/00000000000000000000000000000000", "", "", "", 404, "Record not found"},
	} {
		code, doc, _ := s.request(t, c.method, c.path, c.auth, c.ctype, []byte(c.body))
		if code != c.status || doc["error"] != c.err || len(doc) != 1 {
			t.Errorf("%s: %d %v, want %d {error: %s}", c.name, code, doc, c.status, c.err)
		}
	}
	if n := s.noteCount(t); n != 3 {
		t.Errorf("%d notes after the refused requests, want 3", n)
	}

	code, v2, _ := s.request(t, "GET", "/api/v2/instance", "", "", nil)
	if version, _ := v2["version"].(string); code != 200 || !strings.HasPrefix(version, "4.3.0 (compatible; nuttx-feed ") || v2["domain"] != "localhost:8080" {
		t.Errorf("v2 instance: %d %v", code, v2)
	}
	code, me, _ := s.request(t, "GET", "/api/v1/accounts/verify_credentials", bearer, "", nil)
	if code != 200 || me["statuses_count"] != 3.0 || me["followers_count"] != 0.0 || me["bot"] != true || me["username"] != "nuttx_build" {
		t.Errorf("verify_credentials: %d %v", code, me)
	}
}

// TestAPICORS: the headers Mastodon sends to browsers for /api/*.
func TestAPICORS(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	code, _, h := s.request(t, "OPTIONS", "/api/v1/statuses", "", "", nil,
		"Origin", "https://app.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,idempotency-key")
	if code != 200 || h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Access-Control-Allow-Methods") != "POST, PUT, DELETE, GET, PATCH, OPTIONS" ||
		h.Get("Access-Control-Allow-Headers") != "authorization,idempotency-key" || h.Get("Access-Control-Max-Age") != "7200" {
		t.Errorf("preflight: %d %v", code, h)
	}
	code, _, h = s.request(t, "GET", "/api/v1/instance", "", "", nil, "Origin", "https://app.example")
	if code != 200 || h.Get("Access-Control-Allow-Origin") != "*" || !strings.HasPrefix(h.Get("Access-Control-Expose-Headers"), "Link, ") {
		t.Errorf("GET: %d %v", code, h)
	}
	code, _, h = s.request(t, "GET", "/api/v1/accounts/verify_credentials", "", "", nil, "Origin", "https://app.example")
	if code != 401 || h.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("a 401 too carries CORS: %d %v", code, h)
	}
	if _, _, h = s.request(t, "GET", "/api/v1/instance", "", "", nil); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("no Origin, yet CORS headers: %v", h)
	}
}

// TestAPIIdempotencyKey: the same key returns the same status and posts
// nothing new, also when the requests race; another key or token posts.
func TestAPIIdempotencyKey(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	form := url.Values{"status": {"once"}}
	ids := make([]string, 4)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			code, doc := s.postForm(t, form, "Idempotency-Key", "k1")
			if code != 200 {
				t.Errorf("%d %v", code, doc)
			}
			ids[i], _ = doc["id"].(string)
		})
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] || id == "" {
			t.Errorf("ids %v, want one", ids)
		}
	}
	if n := s.noteCount(t); n != 1 {
		t.Errorf("%d notes, want 1", n)
	}
	_, other := s.postForm(t, form, "Idempotency-Key", "k2")
	if other["id"] == ids[0] {
		t.Error("another key returned the first status")
	}
	code, out, stderr := run("token", "create", "--data", s.dir, "second")
	if code != 0 {
		t.Fatal(stderr)
	}
	second := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	_, doc, _ := s.request(t, "POST", "/api/v1/statuses", "Bearer "+second, "application/x-www-form-urlencoded", []byte(form.Encode()), "Idempotency-Key", "k1")
	if doc["id"] == ids[0] {
		t.Error("another token's key returned the first token's status")
	}
	if n := s.noteCount(t); n != 3 {
		t.Errorf("%d notes, want 3", n)
	}
	// An hour later the key posts again.
	if _, err := s.db(t).SQL.Exec(`UPDATE api_idempotency SET created_at = created_at - ?`, time.Hour.Milliseconds()+1); err != nil {
		t.Fatal(err)
	}
	if _, doc := s.postForm(t, form, "Idempotency-Key", "k1"); doc["id"] == ids[0] || doc["id"] == nil {
		t.Errorf("an hour later: %v", doc)
	}
	if n := s.noteCount(t); n != 4 {
		t.Errorf("%d notes, want 4", n)
	}
	// A key whose status was deleted since posts anew, as on Mastodon,
	// rather than answer with a status that is gone.
	_, kept := s.postForm(t, form, "Idempotency-Key", "k3")
	if code, doc, _ := s.request(t, "DELETE", "/api/v1/statuses/"+kept["id"].(string), "Bearer "+s.token, "", nil); code != 200 {
		t.Fatalf("delete: %d %v", code, doc)
	}
	if code, doc := s.postForm(t, form, "Idempotency-Key", "k3"); code != 200 || doc["id"] == kept["id"] || doc["id"] == nil {
		t.Errorf("the key of a deleted status: %d %v", code, doc)
	}
	if n := s.noteCount(t); n != 6 {
		t.Errorf("%d notes, want 6", n)
	}
}

// TestAPIStatusFederates: a status posted through the API reaches a
// follower on another server as a signed Create, like the bot's posts.
func TestAPIStatusFederates(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	alice := s.remote(t, "alice", fedtest.Mastodon, false)
	s.follow(t, alice)
	code, doc := s.postForm(t, url.Values{"status": {"Posting a status from curl"}})
	if code != 200 {
		t.Fatalf("%d %v", code, doc)
	}
	d := alice.WaitDeliveries(t, 2, 10*time.Second)[1]
	if d.VerifyErr != nil {
		t.Errorf("signature: %v", d.VerifyErr)
	}
	obj, _ := d.Activity["object"].(map[string]any)
	if d.Activity["type"] != "Create" || obj["id"] != doc["uri"] || obj["content"] != doc["content"] {
		t.Errorf("alice got %v, the API answered %v", d.Activity, doc)
	}
}

// TestAPIIsRateLimited: the API counts against --rate-limit like the
// pages, and past it answers 429 in Mastodon's error shape.
func TestAPIIsRateLimited(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.RateLimit = 2 })
	for range 2 {
		if resp, _ := get(t, ts.URL+"/api/v1/instance", "application/json"); resp.StatusCode != http.StatusOK {
			t.Fatalf("instance: %d", resp.StatusCode)
		}
	}
	resp, body := get(t, ts.URL+"/api/v1/instance", "application/json")
	var e struct{ Error string }
	if resp.StatusCode != http.StatusTooManyRequests || json.Unmarshal(body, &e) != nil || e.Error == "" {
		t.Errorf("past the limit: %d %s, want 429 with {\"error\": ...}", resp.StatusCode, body)
	}
}
