package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-mastodon"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// The API's writes and its tokens: scopes, the account a token acts as,
// the access_token parameter, a token's last use; content warnings,
// deleting and editing statuses, as a follower on another server sees
// them.

// newToken makes a token with `token create` and args (flags, then the
// name) and returns it.
func (s *apiServer) newToken(t *testing.T, args ...string) string {
	t.Helper()
	code, out, stderr := run(append([]string{"token", "create", "--data", s.dir}, args...)...)
	if code != 0 {
		t.Fatalf("token create %v: exit %d: %s", args, code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// form sends a URL-encoded form with the token to method path.
func (s *apiServer) form(t *testing.T, method, path, token string, form url.Values) (int, map[string]any) {
	t.Helper()
	code, doc, _ := s.request(t, method, path, "Bearer "+token, "application/x-www-form-urlencoded", []byte(form.Encode()))
	return code, doc
}

// wantError checks an answer in Mastodon's error shape.
func wantError(t *testing.T, what string, code int, doc map[string]any, wantCode int, wantErr string) {
	t.Helper()
	if code != wantCode || doc["error"] != wantErr || len(doc) != 1 {
		t.Errorf("%s: %d %v, want %d {error: %s}", what, code, doc, wantCode, wantErr)
	}
}

// noteRow is what the database holds of the note id.
func (s *apiServer) noteRow(t *testing.T, id string) (content, source, summary string, sensitive bool, edited *int64) {
	t.Helper()
	err := s.db(t).SQL.QueryRow(`SELECT content, source, summary, sensitive, edited_at FROM notes WHERE public_id = ?`, id).
		Scan(&content, &source, &summary, &sensitive, &edited)
	if err != nil {
		t.Fatal(err)
	}
	return content, source, summary, sensitive, edited
}

// TestAPITokenScopes: a token does what its scopes grant and gets
// Mastodon's 403 for the rest; read grants every read:*, a granular
// scope only itself. token create refuses unknown scopes, and token list
// shows them.
func TestAPITokenScopes(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	readOnly := s.newToken(t, "--scopes", "read", "reader")
	statuses := s.newToken(t, "--scopes", "read:statuses, write:statuses", "statuses")
	writeOnly := s.newToken(t, "--scopes", "write", "writer")
	_, posted := s.postForm(t, url.Values{"status": {"first"}})
	id, _ := posted["id"].(string)
	notes := s.noteCount(t)

	for _, c := range []struct {
		name, token, method, path string
		status                    int
	}{
		{"read posts", readOnly, "POST", "/api/v1/statuses", 403},
		{"read edits", readOnly, "PUT", "/api/v1/statuses/" + id, 403},
		{"read deletes", readOnly, "DELETE", "/api/v1/statuses/" + id, 403},
		{"read reads a status", readOnly, "GET", "/api/v1/statuses/" + id, 200},
		{"read reads its account", readOnly, "GET", "/api/v1/accounts/verify_credentials", 200},
		{"read reads a source", readOnly, "GET", "/api/v1/statuses/" + id + "/source", 200},
		{"read:statuses reads a status", statuses, "GET", "/api/v1/statuses/" + id, 200},
		{"read:statuses is not read:accounts", statuses, "GET", "/api/v1/accounts/verify_credentials", 403},
		{"write reads no status", writeOnly, "GET", "/api/v1/statuses/" + id, 403},
		{"write reads no source", writeOnly, "GET", "/api/v1/statuses/" + id + "/source", 403},
		{"any token reads the instance", writeOnly, "GET", "/api/v1/instance", 200},
	} {
		code, doc := s.form(t, c.method, c.path, c.token, url.Values{"status": {"scoped"}})
		if c.status == 403 {
			wantError(t, c.name, code, doc, 403, "This action is outside the authorized scopes")
		} else if code != c.status {
			t.Errorf("%s: %d %v, want %d", c.name, code, doc, c.status)
		}
	}
	if n := s.noteCount(t); n != notes {
		t.Errorf("%d notes after the refused requests, want %d", n, notes)
	}
	if code, doc := s.form(t, "POST", "/api/v1/statuses", statuses, url.Values{"status": {"granular"}}); code != 200 {
		t.Errorf("write:statuses posts: %d %v", code, doc)
	}
	if code, doc := s.form(t, "POST", "/api/v1/statuses", writeOnly, url.Values{"status": {"write"}}); code != 200 {
		t.Errorf("write posts: %d %v", code, doc)
	}

	failsWith(t, 2, `unknown scope "admin:read"`, "token", "create", "--data", s.dir, "--scopes", "read,admin:read", "admin")
	failsWith(t, 2, "no scope given", "token", "create", "--data", s.dir, "--scopes", " , ", "none")
	rows := s.adminJSON(t, []string{"name", "created", "last_used", "scopes", "account"}, "token list")
	got := map[string]any{}
	for _, r := range rows {
		got[r["name"].(string)] = r["scopes"]
	}
	want := map[string]any{"ci": "read,write", "reader": "read", "statuses": "read:statuses,write:statuses", "writer": "write"}
	if len(got) != len(want) {
		t.Errorf("token list --json scopes %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("token list --json: %s has scopes %v, want %v", k, got[k], v)
		}
	}
	if out := s.admin(t, "token list"); !strings.Contains(out, "SCOPES") || !strings.Contains(out, "read:statuses,write:statuses") || !strings.Contains(out, "the bot") {
		t.Errorf("token list:\n%s", out)
	}
}

// TestAPIAccessTokenParameter: a token is also taken from an access_token
// query or form parameter, as Mastodon (Doorkeeper) does; a bad one is
// 401 there too.
func TestAPIAccessTokenParameter(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	code, doc, _ := s.request(t, "GET", "/api/v1/accounts/verify_credentials?access_token="+url.QueryEscape(s.token), "", "", nil)
	if code != 200 || doc["username"] != "nuttx_build" {
		t.Errorf("query parameter: %d %v", code, doc)
	}
	body := url.Values{"status": {"with a form token"}, "access_token": {s.token}}.Encode()
	code, doc, _ = s.request(t, "POST", "/api/v1/statuses", "", "application/x-www-form-urlencoded", []byte(body))
	if code != 200 || doc["content"] != "<p>with a form token</p>" {
		t.Errorf("form parameter: %d %v", code, doc)
	}
	code, doc, _ = s.request(t, "GET", "/api/v1/accounts/verify_credentials?access_token=nfd_nope", "", "", nil)
	wantError(t, "bad query token", code, doc, 401, "The access token is invalid")
	body = url.Values{"status": {"no"}, "access_token": {"nfd_nope"}}.Encode()
	code, doc, _ = s.request(t, "POST", "/api/v1/statuses", "", "application/x-www-form-urlencoded", []byte(body))
	wantError(t, "bad form token", code, doc, 401, "The access token is invalid")
	if n := s.noteCount(t); n != 1 {
		t.Errorf("%d notes, want 1", n)
	}
}

// TestAPITokenLastUsed: a token's last use is written on its first
// request, not again within the minute (most requests write nothing), and
// again once the minute is over.
func TestAPITokenLastUsed(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	db := s.db(t)
	lastUsed := func() int64 {
		t.Helper()
		var used *int64
		if err := db.SQL.QueryRow(`SELECT last_used_at FROM tokens WHERE name = 'ci'`).Scan(&used); err != nil {
			t.Fatal(err)
		}
		if used == nil {
			return 0
		}
		return *used
	}
	verify := func() {
		t.Helper()
		if code, doc, _ := s.request(t, "GET", "/api/v1/accounts/verify_credentials", "Bearer "+s.token, "", nil); code != 200 {
			t.Fatalf("%d %v", code, doc)
		}
	}
	if lastUsed() != 0 {
		t.Fatal("a new token was used")
	}
	before := time.Now().UnixMilli()
	verify()
	first := lastUsed()
	if first < before || first > time.Now().UnixMilli() {
		t.Errorf("last used %d, want between %d and now", first, before)
	}
	// 30 s ago: within the minute, another request leaves it alone.
	recent := first - 30_000
	db.SQL.Exec(`UPDATE tokens SET last_used_at = ? WHERE name = 'ci'`, recent)
	for range 5 {
		verify()
	}
	if got := lastUsed(); got != recent {
		t.Errorf("within the minute: last used %d, want %d (not written)", got, recent)
	}
	// 61 s ago: the next request writes it.
	db.SQL.Exec(`UPDATE tokens SET last_used_at = ? WHERE name = 'ci'`, first-61_000)
	verify()
	if got := lastUsed(); got < first {
		t.Errorf("a minute on: last used %d, want at least %d", got, first)
	}
	if out := s.admin(t, "token list"); strings.Contains(out, "never") {
		t.Errorf("token list shows a used token as never used:\n%s", out)
	}
}

// startFollowedAPIServer starts a server with a token and alice, a
// follower on another (simulated) server that verifies what it gets.
func startFollowedAPIServer(t *testing.T) (*apiServer, *fedtest.Remote) {
	t.Helper()
	s := startAPIServer(t)
	alice := s.remote(t, "alice", fedtest.Mastodon, false)
	s.follow(t, alice)
	return s, alice
}

// addActor adds the local actor username to the server's database, as
// another process would.
func (s *apiServer) addActor(t *testing.T, username string) {
	t.Helper()
	err := s.db(t).Update(context.Background(), func(tx *store.Tx) error {
		_, err := tx.CreateActor(&store.Actor{Username: username, Kind: "bot", DisplayName: "Alerts", Visibility: store.Public,
			PrivateKeyPEM: "unused", PublicKeyPEM: "unused"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAPITokenAccount: a token made with --account posts as that account,
// and verify_credentials names it; it can neither edit nor delete the
// bot's statuses (404, as Mastodon answers for another account's), nor
// the bot's token its. An unknown --account makes no token.
func TestAPITokenAccount(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	s.addActor(t, "alerts")
	alerts := s.newToken(t, "--account", "alerts", "alerts")
	failsWith(t, 2, `"nobody"`, "token", "create", "--data", s.dir, "--account", "nobody", "ghost")
	if strings.Contains(s.admin(t, "token list"), "ghost") {
		t.Error("a token of an unknown account was stored")
	}

	code, me, _ := s.request(t, "GET", "/api/v1/accounts/verify_credentials", "Bearer "+alerts, "", nil)
	if code != 200 || me["username"] != "alerts" {
		t.Errorf("verify_credentials: %d %v", code, me)
	}
	code, st := s.form(t, "POST", "/api/v1/statuses", alerts, url.Values{"status": {"disk full"}})
	account, _ := st["account"].(map[string]any)
	if uri, _ := st["uri"].(string); code != 200 || account["username"] != "alerts" || !strings.HasPrefix(uri, adminBase+"/users/alerts/statuses/") {
		t.Fatalf("posted as alerts: %d %v", code, st)
	}
	_, bots := s.postForm(t, url.Values{"status": {"the bot posts"}})
	botID, alertsID := bots["id"].(string), st["id"].(string)
	for _, c := range []struct{ token, method, id string }{
		{alerts, "PUT", botID}, {alerts, "DELETE", botID}, {s.token, "PUT", alertsID}, {s.token, "DELETE", alertsID},
	} {
		code, doc := s.form(t, c.method, "/api/v1/statuses/"+c.id, c.token, url.Values{"status": {"taken over"}})
		wantError(t, c.method+" of another account's status", code, doc, 404, "Record not found")
	}
	// The source (what an edit starts from) is the owner's only, as on Mastodon.
	for _, c := range []struct{ token, id string }{{alerts, botID}, {s.token, alertsID}} {
		code, doc, _ := s.request(t, "GET", "/api/v1/statuses/"+c.id+"/source", "Bearer "+c.token, "", nil)
		wantError(t, "the source of another account's status", code, doc, 404, "Record not found")
	}
	if code, doc, _ := s.request(t, "GET", "/api/v1/statuses/"+alertsID+"/source", "Bearer "+alerts, "", nil); code != 200 || doc["text"] != "disk full" {
		t.Errorf("the source of its own status: %d %v", code, doc)
	}
	if content, _, _, _, edited := s.noteRow(t, botID); content != "<p>the bot posts</p>" || edited != nil {
		t.Errorf("the bot's status changed: %q, edited %v", content, edited)
	}
	if n := s.noteCount(t); n != 2 {
		t.Errorf("%d notes, want 2", n)
	}
	if out := s.admin(t, "token list"); !strings.Contains(out, "alerts") {
		t.Errorf("token list shows no account:\n%s", out)
	}
}

// TestAPIContentWarningFederates: spoiler_text and sensitive are stored,
// returned, and reach a follower as the Note's summary and sensitive.
func TestAPIContentWarningFederates(t *testing.T) {
	t.Parallel()
	s, alice := startFollowedAPIServer(t)
	code, doc, _ := s.request(t, "POST", "/api/v1/statuses", "Bearer "+s.token, "application/json",
		[]byte(`{"status":"the build log","spoiler_text":"long log","sensitive":true}`))
	if code != 200 || doc["spoiler_text"] != "long log" || doc["sensitive"] != true {
		t.Fatalf("%d %v", code, doc)
	}
	d := alice.WaitDeliveries(t, 2, 10*time.Second)[1]
	if d.VerifyErr != nil {
		t.Errorf("signature: %v", d.VerifyErr)
	}
	obj, _ := d.Activity["object"].(map[string]any)
	if d.Activity["type"] != "Create" || obj["summary"] != "long log" || obj["sensitive"] != true {
		t.Errorf("alice got %v", d.Activity)
	}
	_, got, _ := s.request(t, "GET", "/api/v1/statuses/"+doc["id"].(string), "", "", nil)
	if got["spoiler_text"] != "long log" || got["sensitive"] != true {
		t.Errorf("GET: %v", got)
	}
	// sensitive alone, through the client library.
	c := s.client()
	st, err := c.PostStatus(t.Context(), &mastodon.Toot{Status: "sensitive only", Sensitive: true})
	if err != nil || !st.Sensitive || st.SpoilerText != "" {
		t.Errorf("sensitive: %+v, %v", st, err)
	}
}

// TestAPIDeleteStatus: DELETE is the federated delete of `nuttx-feed
// delete`: it answers the status with its source as text, a follower
// gets a signed Delete, and the status is gone (404, and 404 again).
func TestAPIDeleteStatus(t *testing.T) {
	t.Parallel()
	s, alice := startFollowedAPIServer(t)
	_, st := s.postForm(t, url.Values{"status": {"a #typo here"}})
	id, uri := st["id"].(string), st["uri"].(string)
	alice.WaitDeliveries(t, 2, 10*time.Second)
	s.waitSent(t)

	code, doc, _ := s.request(t, "DELETE", "/api/v1/statuses/"+id, "Bearer "+s.token, "", nil)
	if code != 200 || doc["id"] != id || doc["text"] != "a #typo here" || doc["uri"] != uri {
		t.Errorf("DELETE: %d %v", code, doc)
	}
	d := alice.WaitDeliveries(t, 3, 10*time.Second)[2]
	if d.VerifyErr != nil {
		t.Errorf("signature: %v", d.VerifyErr)
	}
	obj, _ := d.Activity["object"].(map[string]any)
	if d.Activity["type"] != "Delete" || obj["id"] != uri || obj["type"] != "Tombstone" {
		t.Errorf("alice got %v", d.Activity)
	}
	for _, c := range []struct{ name, method, path string }{
		{"GET the deleted", "GET", "/api/v1/statuses/" + id},
		{"GET the deleted's source", "GET", "/api/v1/statuses/" + id + "/source"},
		{"DELETE again", "DELETE", "/api/v1/statuses/" + id},
		{"DELETE unknown", "DELETE", "/api/v1/statuses/00000000000000000000000000000000"},
		{"DELETE malformed", "DELETE", "/api/v1/statuses/not-an-id"},
	} {
		code, doc, _ := s.request(t, c.method, c.path, "Bearer "+s.token, "", nil)
		wantError(t, c.name, code, doc, 404, "Record not found")
	}
	if n := len(alice.Deliveries()); n != 3 {
		t.Errorf("alice got %d deliveries, want 3 (one Delete)", n)
	}
	if resp, _ := get(t, s.url+"/users/nuttx_build/statuses/"+id, apAccept); resp.StatusCode != http.StatusGone {
		t.Errorf("the note's IRI: %d, want 410", resp.StatusCode)
	}
	// Through the client library.
	c := s.client()
	other, err := c.PostStatus(t.Context(), &mastodon.Toot{Status: "short-lived"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteStatus(t.Context(), other.ID); err != nil {
		t.Errorf("DeleteStatus: %v", err)
	}
	if _, err := c.GetStatus(t.Context(), other.ID); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("GetStatus of the deleted: %v, want 404", err)
	}
}

// TestAPIEditStatus: PUT changes the text, content warning and mentions,
// sets edited_at, and sends a signed Update{Note} with the new content
// and updated to the followers and the newly mentioned; the note's IRI
// serves the new content. The source endpoint returns what an edit starts
// from. Bad edits change nothing.
func TestAPIEditStatus(t *testing.T) {
	t.Parallel()
	s, alice := startFollowedAPIServer(t)
	bob := s.remote(t, "bob", fedtest.GoToSocial, false)
	_, st := s.postForm(t, url.Values{"status": {"sim:nsh fails"}})
	id, uri := st["id"].(string), st["uri"].(string)
	alice.WaitDeliveries(t, 2, 10*time.Second)

	c := s.client()
	edited, err := c.UpdateStatus(t.Context(), &mastodon.Toot{Status: "sim:nsh fails, cc " + bob.Handle() + " #NuttX",
		SpoilerText: "build log", Sensitive: true}, mastodon.ID(id))
	if err != nil {
		t.Fatal(err)
	}
	if string(edited.ID) != id || !strings.Contains(edited.Content, "cc <") || edited.SpoilerText != "build log" || !edited.Sensitive ||
		edited.EditedAt.IsZero() || len(edited.Mentions) != 1 || len(edited.Tags) != 1 {
		t.Errorf("edited: %+v", edited)
	}
	for _, w := range []struct {
		r *fedtest.Remote
		n int // its deliveries with the Update: alice's Accept and Create before; none to bob
	}{{alice, 3}, {bob, 1}} {
		r := w.r
		d := r.WaitDeliveries(t, w.n, 10*time.Second)[w.n-1]
		if d.VerifyErr != nil {
			t.Errorf("%s: signature: %v", r.Username, d.VerifyErr)
		}
		obj, _ := d.Activity["object"].(map[string]any)
		if d.Activity["type"] != "Update" || obj["id"] != uri || obj["content"] != edited.Content || obj["summary"] != "build log" ||
			obj["sensitive"] != true || obj["updated"] == nil {
			t.Errorf("%s got %v", r.Username, d.Activity)
		}
	}
	got, err := c.GetStatus(t.Context(), mastodon.ID(id))
	if err != nil || got.Content != edited.Content || !got.EditedAt.Equal(edited.EditedAt) {
		t.Errorf("GET after the edit: %+v, %v", got, err)
	}
	resp, body := get(t, s.url+"/users/nuttx_build/statuses/"+id, apAccept)
	var note map[string]any
	json.Unmarshal(body, &note)
	if resp.StatusCode != 200 || note["content"] != edited.Content || note["updated"] == nil || note["summary"] != "build log" {
		t.Errorf("the note's IRI: %d %s", resp.StatusCode, body)
	}
	src, err := c.GetStatusSource(t.Context(), mastodon.ID(id))
	if err != nil || src.Text != "sim:nsh fails, cc "+bob.Handle()+" #NuttX" || src.SpoilerText != "build log" {
		t.Errorf("source: %+v, %v", src, err)
	}

	content, _, _, _, _ := s.noteRow(t, id)
	_, gone := s.postForm(t, url.Values{"status": {"to delete"}})
	s.request(t, "DELETE", "/api/v1/statuses/"+gone["id"].(string), "Bearer "+s.token, "", nil)
	readOnly := s.newToken(t, "--scopes", "read", "reader")
	for _, b := range []struct {
		name, id, token, ctype, body string
		status                       int
		err                          string
	}{
		{"empty", id, s.token, "application/x-www-form-urlencoded", "status=+", 422, "Validation failed: Text can't be blank"},
		{"no status", id, s.token, "application/json", `{"spoiler_text":"x"}`, 422, "Validation failed: Text can't be blank"},
		{"malformed", id, s.token, "application/json", `{"status":`, 400, "malformed request: reading the JSON body: unexpected EOF"},
		{"not a boolean", id, s.token, "application/json", `{"status":"x","sensitive":"maybe"}`, 422, `Validation failed: Sensitive "maybe" is not true or false`},
		{"unknown", "00000000000000000000000000000000", s.token, "application/json", `{"status":"x"}`, 404, "Record not found"},
		{"deleted", gone["id"].(string), s.token, "application/json", `{"status":"x"}`, 404, "Record not found"},
		{"read scope", id, readOnly, "application/json", `{"status":"x"}`, 403, "This action is outside the authorized scopes"},
		{"no token", id, "", "application/json", `{"status":"x"}`, 401, "The access token is invalid"},
	} {
		auth := ""
		if b.token != "" {
			auth = "Bearer " + b.token
		}
		code, doc, _ := s.request(t, "PUT", "/api/v1/statuses/"+b.id, auth, b.ctype, []byte(b.body))
		wantError(t, b.name, code, doc, b.status, b.err)
	}
	if now, _, _, _, _ := s.noteRow(t, id); now != content {
		t.Errorf("a refused edit changed the note: %q, was %q", now, content)
	}
	code, doc, _ := s.request(t, "GET", "/api/v1/statuses/00000000000000000000000000000000/source", "Bearer "+s.token, "", nil)
	wantError(t, "source of nothing", code, doc, 404, "Record not found")
	var updates int
	s.db(t).SQL.QueryRow(`SELECT COUNT(*) FROM activities WHERE type = 'Update'`).Scan(&updates)
	if updates != 1 {
		t.Errorf("%d Updates stored, want 1: a refused edit sends nothing", updates)
	}
}

// waitSent waits until no delivery is pending: what was sent is recorded.
func (s *apiServer) waitSent(t *testing.T) {
	t.Helper()
	db := s.db(t)
	eventually.True(t, 10*time.Second, "every delivery done", func() bool {
		var n int
		db.SQL.QueryRow(`SELECT COUNT(*) FROM deliveries WHERE state = 'pending'`).Scan(&n)
		return n == 0
	})
}

// TestAPITokenUseNotWritable: when the token's last use cannot be written
// (a read-only database), the request is still answered and the log says
// why.
func TestAPITokenUseNotWritable(t *testing.T) {
	t.Parallel()
	first := startServer(t)
	code, out, stderr := run("token", "create", "--data", first.Dir, "ci")
	if code != 0 {
		t.Fatal(stderr)
	}
	token := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	first.Stop(t)
	cfg := first.cfg
	ln := listen(t)
	cfg.Listen = ln.Addr().String()
	ts := startWith(t, cfg, ln, withStoreOptions(store.Options{ReadOnly: true}))
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/accounts/verify_credentials", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if a := send(t, req); a.status != 200 || !strings.Contains(a.body, `"username":"nuttx_build"`) {
		t.Errorf("verify_credentials on a read-only database: %d %s", a.status, a.body)
	}
	if !strings.Contains(ts.logs.String(), "cannot record the use of a token") {
		t.Errorf("the log does not say why:\n%s", ts.logs)
	}
}
