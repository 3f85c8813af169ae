package server

import (
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
)

// Fixes from a new user's review of the API (issue 10): remote statuses
// by id and replies to them, mentions that cannot be resolved, fields
// nuttx-feed cannot post, replies to deleted statuses, time-ordered ids,
// token create's output, the log of a refused scope, WWW-Authenticate and
// the avatar of remote accounts.

// contextIDs returns the ids of the descendants of the status id.
func (s *apiServer) contextIDs(t *testing.T, id string) []string {
	t.Helper()
	code, doc, _ := s.request(t, "GET", "/api/v1/statuses/"+id+"/context", "Bearer "+s.token, "", nil)
	if code != http.StatusOK {
		t.Fatalf("context of %s: %d %v", id, code, doc)
	}
	var out []string
	for _, d := range doc["descendants"].([]any) {
		out = append(out, d.(map[string]any)["id"].(string))
	}
	return out
}

// postStatus posts the status form and returns its id.
func (s *apiServer) postStatus(t *testing.T, form url.Values) string {
	t.Helper()
	code, st := s.postForm(t, form)
	if code != http.StatusOK {
		t.Fatalf("post %v: %d %v", form, code, st)
	}
	return st["id"].(string)
}

// wantUnchanged checks that refused requests left the server with notes
// notes and the status id saying source.
func (s *apiServer) wantUnchanged(t *testing.T, notes int, id, source string) {
	t.Helper()
	if got := s.noteCount(t); got != notes {
		t.Errorf("refused requests stored notes: %d -> %d", notes, got)
	}
	if _, got, _, _, _ := s.noteRow(t, id); got != source {
		t.Errorf("a refused edit changed the status: %q, want %q", got, source)
	}
}

// TestAPIRemoteStatus: a stored reply is served by its id as context
// shows it, its author with the neutral missing image as avatar and
// header (not the bot's avatar), and replying to it (a phone app's reply
// button on a notification) answers its note and mentions its author,
// who gets the Create.
func TestAPIRemoteStatus(t *testing.T) {
	t.Parallel()
	f := startReadFixture(t)
	bobNote := f.bob.AddNote("7", "<p>me too</p>") // as the fixture's reply: fetched when answered
	desc := f.contextIDs(t, string(f.statuses[0].ID))
	if len(desc) != 2 {
		t.Fatalf("descendants %v, want alice's and bob's replies", desc)
	}
	aliceID, bobID := desc[0], desc[1]
	code, st, _ := f.request(t, "GET", "/api/v1/statuses/"+aliceID, "", "", nil)
	if code != http.StatusOK || st["id"] != aliceID || st["uri"] != f.aliceNote || st["in_reply_to_id"] != string(f.statuses[0].ID) {
		t.Fatalf("GET remote status %s: %d %v", aliceID, code, st)
	}
	account := st["account"].(map[string]any)
	missing := adminBase + "/static/missing.png"
	for _, k := range []string{"avatar", "avatar_static", "header", "header_static"} {
		if account[k] != missing {
			t.Errorf("a remote account without avatar: %s %v, want %s", k, account[k], missing)
		}
	}
	resp, body := get(t, f.url+"/static/missing.png", "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" || len(body) == 0 {
		t.Errorf("GET /static/missing.png: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}

	n := len(f.bob.Deliveries())
	code, st = f.postForm(t, url.Values{"status": {"thanks"}, "in_reply_to_id": {bobID}})
	if code != http.StatusOK || st["in_reply_to_id"] != bobID {
		t.Fatalf("reply to the remote status %s: %d %v", bobID, code, st)
	}
	mentions := st["mentions"].([]any)
	if len(mentions) != 1 || mentions[0].(map[string]any)["url"] != f.bob.ActorID() {
		t.Errorf("reply mentions %v, want bob", mentions)
	}
	d := f.bob.WaitDeliveries(t, n+1, 10*time.Second)[n]
	note, _ := d.Activity["object"].(map[string]any)
	if d.Activity["type"] != "Create" || note["inReplyTo"] != bobNote {
		t.Errorf("bob got %v, want the Create of a reply to %s", d.Activity, bobNote)
	}
	code, doc, _ := f.request(t, "GET", "/api/v1/statuses/1"+strings.Repeat("0", 19)+"9", "", "", nil)
	wantError(t, "an unknown remote id", code, doc, http.StatusNotFound, "Record not found")
}

// TestAPIReplyToDeleted: in_reply_to_id of a deleted or unknown status is
// 404 Record not found, as on Mastodon, and posts nothing.
func TestAPIReplyToDeleted(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	id := s.postStatus(t, url.Values{"status": {"soon gone"}})
	if code, doc, _ := s.request(t, "DELETE", "/api/v1/statuses/"+id, "Bearer "+s.token, "", nil); code != http.StatusOK {
		t.Fatalf("delete: %d %v", code, doc)
	}
	notes := s.noteCount(t)
	for _, parent := range []string{id, "0123456789abcdef0123456789abcdef", "12345", "100000000000000000042", "https://example.com/notes/1"} {
		code, doc := s.postForm(t, url.Values{"status": {"a reply"}, "in_reply_to_id": {parent}})
		wantError(t, "reply to "+parent, code, doc, http.StatusNotFound, "Record not found")
	}
	if got := s.noteCount(t); got != notes {
		t.Errorf("replies to missing statuses stored notes: %d -> %d", notes, got)
	}
}

// TestAPIUnresolvableMention: a handle its server does not know is 422
// naming it, on POST and PUT, and nothing is posted or changed; a handle
// whose server does not answer is 503 (retry later), not an internal
// error.
func TestAPIUnresolvableMention(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	bob := fedtest.New(t, "bob", fedtest.Mastodon, fedtest.FetchKeys)
	host := strings.TrimPrefix(bob.Server.URL, "http://")
	id := s.postStatus(t, url.Values{"status": {"first"}})
	notes := s.noteCount(t)
	handle := "@nobody@" + host
	code, doc := s.postForm(t, url.Values{"status": {"hi " + handle}})
	if code != http.StatusUnprocessableEntity || !strings.HasPrefix(doc["error"].(string), "Validation failed: cannot mention "+handle+": ") {
		t.Errorf("POST mentioning %s: %d %v, want 422 naming it", handle, code, doc)
	}
	code, doc = s.form(t, "PUT", "/api/v1/statuses/"+id, s.token, url.Values{"status": {"edited " + handle}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(doc["error"].(string), "cannot mention "+handle) {
		t.Errorf("PUT mentioning %s: %d %v, want 422 naming it", handle, code, doc)
	}
	code, doc = s.postForm(t, url.Values{"status": {"hi @nobody@" + strings.TrimPrefix(adminBase, "http://")}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(doc["error"].(string), "cannot mention @nobody@") {
		t.Errorf("POST mentioning an unknown local account: %d %v, want 422", code, doc)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close() // nobody answers there: a peer that is down
	code, doc, h := s.request(t, "POST", "/api/v1/statuses", "Bearer "+s.token, "application/x-www-form-urlencoded",
		[]byte(url.Values{"status": {"hi @alice@" + down}}.Encode()))
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.Contains(doc["error"].(string), "alice@"+down) {
		t.Errorf("POST mentioning a handle on a server that is down: %d %v, want 503 naming it", code, doc)
	}
	s.wantUnchanged(t, notes, id, "first")
}

// TestAPIUnsupportedFields: media, polls and scheduling are refused with
// 422 naming what, in forms and JSON, on POST and PUT, rather than
// dropped from a status posted anyway; empty ones ask for nothing.
func TestAPIUnsupportedFields(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	id := s.postStatus(t, url.Values{"status": {"plain"}, "media_ids[]": {""}})
	code, st, _ := s.request(t, "POST", "/api/v1/statuses", "Bearer "+s.token, "application/json", []byte(`{"status":"json","media_ids":[],"poll":null}`))
	if code != http.StatusOK {
		t.Fatalf("JSON post with empty media_ids: %d %v", code, st)
	}
	notes := s.noteCount(t)
	const media, poll, scheduled = "Validation failed: media attachments are not supported", "Validation failed: polls are not supported", "Validation failed: scheduled statuses are not supported"
	for _, c := range []struct {
		method, path, ctype, body, want string
	}{
		{"POST", "/api/v1/statuses", "application/x-www-form-urlencoded", "status=x&media_ids[]=1", media},
		{"POST", "/api/v1/statuses", "application/x-www-form-urlencoded", "status=x&poll[options][]=a&poll[options][]=b&poll[expires_in]=300", poll},
		{"POST", "/api/v1/statuses", "application/x-www-form-urlencoded", "status=x&scheduled_at=2030-01-01T00:00:00Z", scheduled},
		{"POST", "/api/v1/statuses", "application/json", `{"status":"x","media_ids":["1"]}`, media},
		{"POST", "/api/v1/statuses", "application/json", `{"status":"x","poll":{"options":["a","b"],"expires_in":300}}`, poll},
		{"PUT", "/api/v1/statuses/" + id, "application/x-www-form-urlencoded", "status=x&media_ids[]=1", media},
		{"PUT", "/api/v1/statuses/" + id, "application/json", `{"status":"x","media_ids":["1"]}`, media},
	} {
		code, doc, _ := s.request(t, c.method, c.path, "Bearer "+s.token, c.ctype, []byte(c.body))
		if code != http.StatusUnprocessableEntity || !strings.HasPrefix(doc["error"].(string), c.want) {
			t.Errorf("%s %s: %d %v, want 422 %q", c.method, c.body, code, doc, c.want)
		}
	}
	s.wantUnchanged(t, notes, id, "plain")
}

// TestAPIStatusIDsSortByTime: new statuses get 32 hex digits whose first
// 12 are the Unix milliseconds they were posted at, so that a client
// sorting ids (longer first, then as text) sorts them by time.
func TestAPIStatusIDsSortByTime(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	form := regexp.MustCompile(`^[0-9a-f]{32}$`)
	var ids []string
	for i := range 5 {
		before := time.Now().UnixMilli()
		id := s.postStatus(t, url.Values{"status": {"status " + string(rune('a'+i))}})
		after := time.Now().UnixMilli()
		b, err := hex.DecodeString("0000" + id[:12])
		if !form.MatchString(id) || err != nil {
			t.Fatalf("id %q: want 32 lower-case hex digits", id)
		}
		var ms int64
		for _, c := range b {
			ms = ms<<8 | int64(c)
		}
		if ms < before || ms > after {
			t.Errorf("id %s: time %d, want within [%d, %d]", id, ms, before, after)
		}
		ids = append(ids, id)
		time.Sleep(2 * time.Millisecond) // one millisecond each
	}
	sorted := slices.Clone(ids)
	slices.SortFunc(sorted, func(a, b string) int { // as Tusky compares ids
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	if !slices.Equal(ids, sorted) {
		t.Errorf("ids in the order posted %v sort as %v", ids, sorted)
	}
}

// TestTokenCreateOutput: token create prints the token alone on stdout
// (T=$(nuttx-feed token create x) is the token) and what it is on
// stderr; scopes read the same in create, --json and list; an unknown
// --account names the local accounts there are.
func TestTokenCreateOutput(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	s.addActor(t, "alerts")
	code, out, stderr := run("token", "create", "--data", s.dir, "--scopes", "read write:statuses", "phone")
	if code != 0 || !regexp.MustCompile(`^nfd_[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Fatalf("token create: exit %d, stdout %q: want the token alone", code, out)
	}
	if want := "Token phone, scopes read,write:statuses, acting as the bot (shown this once; only its hash is stored):\n"; stderr != want {
		t.Errorf("token create: stderr %q, want %q", stderr, want)
	}
	if code, doc, _ := s.request(t, "GET", "/api/v1/accounts/verify_credentials", "Bearer "+strings.TrimSpace(out), "", nil); code != http.StatusOK {
		t.Errorf("the printed token: %d %v", code, doc)
	}
	rows := s.adminJSON(t, []string{"name", "token", "created", "scopes", "account"}, "token create", "--scopes", "read", "deploy")
	if len(rows) != 1 || rows[0]["scopes"] != "read" {
		t.Errorf("token create --json: %v", rows)
	}
	list := s.admin(t, "token list")
	if !regexp.MustCompile(`(?m)^phone .* read,write:statuses +the bot$`).MatchString(list) {
		t.Errorf("token list shows the scopes otherwise than create:\n%s", list)
	}
	for _, r := range s.adminJSON(t, []string{"name", "created", "last_used", "scopes", "account"}, "token list") {
		if r["name"] == "phone" && r["scopes"] != "read,write:statuses" {
			t.Errorf("token list --json: phone has scopes %v", r["scopes"])
		}
	}
	failsWith(t, 2, `--account "nobody": no such local account (not found); the local accounts are: nuttx_build, alerts`,
		"token", "create", "--data", s.dir, "--account", "nobody", "x")
}

// TestAPIScopeRefusalLogged: a token refused for its scope is logged at
// WARN with its name, the route and the scope it lacks, never the token.
func TestAPIScopeRefusalLogged(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	code, out, stderr := run("token", "create", "--data", ts.Dir, "--scopes", "read", "reader")
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	token := lines[len(lines)-1]
	req, _ := http.NewRequest("POST", ts.URL+"/api/v1/statuses", strings.NewReader("status=hi"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+token)
	if a := send(t, req); a.status != http.StatusForbidden {
		t.Fatalf("POST with a read token: %d %s", a.status, a.body)
	}
	var line string
	for l := range strings.Lines(ts.logs.String()) {
		if strings.Contains(l, "lacks the scope") {
			line = l
		}
	}
	for _, want := range []string{"level=WARN", "token=reader", "method=POST", "route=/api/v1/statuses", `need=write:statuses`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %s", line, want)
		}
	}
	if strings.Contains(ts.logs.String(), token) || strings.Contains(ts.logs.String(), token[4:]) {
		t.Error("the log holds the token")
	}
}

// TestAPIWWWAuthenticate: a 401 carries the WWW-Authenticate header of
// Mastodon (Doorkeeper), for a bad token and for none on a route that
// needs one; a request that needs none gets none.
func TestAPIWWWAuthenticate(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	const want = `Bearer realm="Doorkeeper", error="invalid_token", error_description="The access token is invalid"`
	for _, c := range []struct{ what, method, path, auth string }{
		{"a bad token", "GET", "/api/v1/statuses/1", "Bearer nfd_wrong"},
		{"a bad token on a required route", "POST", "/api/v1/statuses", "Bearer nfd_wrong"},
		{"no token on a required route", "GET", "/api/v1/notifications", ""},
	} {
		code, doc, h := s.request(t, c.method, c.path, c.auth, "", nil)
		wantError(t, c.what, code, doc, http.StatusUnauthorized, "The access token is invalid")
		if got := h.Get("WWW-Authenticate"); got != want {
			t.Errorf("%s: WWW-Authenticate %q, want %q", c.what, got, want)
		}
	}
	if _, _, h := s.request(t, "GET", "/api/v1/instance", "", "", nil); h.Get("WWW-Authenticate") != "" {
		t.Errorf("an open route without a token: WWW-Authenticate %q", h.Get("WWW-Authenticate"))
	}
}
