package server

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-mastodon"

	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
)

// What Mastodon apps read when a user taps around (issue 10, second
// review), against `nuttx-feed serve` in a child process.

// getJSON sends GET path (with the token unless auth is "") and decodes
// the JSON answer, whatever its shape.
func (s *apiServer) getJSON(t *testing.T, path, auth string) (int, any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	a := send(t, req)
	var doc any
	if err := json.Unmarshal([]byte(a.body), &doc); err != nil {
		t.Fatalf("GET %s: %d, not JSON: %q", path, a.status, a.body)
	}
	return a.status, doc, a.header
}

// TestAPIStatusViewerFieldsAndLastStatus: a status has favourited,
// reblogged, muted, bookmarked and pinned (false) and application (null);
// the bot's account has last_status_at (null before its first status, then
// the date of its last one) and the neutral header, never "".
func TestAPIStatusViewerFieldsAndLastStatus(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	bearer := "Bearer " + s.token
	_, me, _ := s.request(t, "GET", "/api/v1/accounts/verify_credentials", bearer, "", nil)
	if v, ok := me["last_status_at"]; !ok || v != nil {
		t.Errorf("last_status_at before any status: %v (present %v), want null", v, ok)
	}
	if h, _ := me["header"].(string); !strings.HasSuffix(h, "/static/missing.png") || me["header_static"] != h {
		t.Errorf("header %q, header_static %q: want the neutral /static/missing.png", h, me["header_static"])
	}
	id := s.postStatus(t, url.Values{"status": {"hello"}})
	for _, auth := range []string{bearer, ""} {
		code, st, _ := s.request(t, "GET", "/api/v1/statuses/"+id, auth, "", nil)
		if code != http.StatusOK {
			t.Fatalf("GET status: %d %v", code, st)
		}
		for _, k := range []string{"favourited", "reblogged", "muted", "bookmarked", "pinned"} {
			if v, ok := st[k]; !ok || v != false {
				t.Errorf("%s: %v (present %v), want false", k, v, ok)
			}
		}
		if v, ok := st["application"]; !ok || v != nil {
			t.Errorf("application: %v (present %v), want null", v, ok)
		}
		account, _ := st["account"].(map[string]any)
		if today := time.Now().UTC().Format(time.DateOnly); account["last_status_at"] != today {
			t.Errorf("last_status_at %v, want %s", account["last_status_at"], today)
		}
	}
}

// startAPIServerWithLog is startAPIServer keeping the server's log.
func startAPIServerWithLog(t *testing.T) (*apiServer, *child) {
	t.Helper()
	dir := t.TempDir()
	c := serveInChild(t, "--data", dir, "--listen", "127.0.0.1:0", "--allow-private-networks", "--prometheus-url", "")
	code, out, stderr := run("token", "create", "--data", dir, "ci")
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return &apiServer{&adminServer{dir: dir, url: "http://" + c.Addr}, lines[len(lines)-1]}, c
}

// TestAPIMentionErrorsArePlain: a mention that cannot be resolved is
// answered in plain words (no URL, no resolver address), with the
// fetch's detail in the server's log.
func TestAPIMentionErrorsArePlain(t *testing.T) {
	t.Parallel()
	s, server := startAPIServerWithLog(t)
	bob := fedtest.New(t, "bob", fedtest.Mastodon, fedtest.FetchKeys)
	host := strings.TrimPrefix(bob.Server.URL, "http://")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close() // nobody answers there
	for _, c := range []struct {
		handle string
		code   int
		want   string
	}{
		{"@bob@nonexistent.invalid", 422, "Validation failed: cannot mention @bob@nonexistent.invalid: no such domain"},
		{"@nobody@" + host, 422, "Validation failed: cannot mention @nobody@" + host + ": no such account"},
		{"@nobody@" + strings.TrimPrefix(adminBase, "http://"), 422, "Validation failed: cannot mention @nobody@" + strings.TrimPrefix(adminBase, "http://") + ": no such account"},
		{"@alice@" + down, 503, "cannot mention @alice@" + down + ": the server did not answer; try again later"},
	} {
		code, doc := s.postForm(t, url.Values{"status": {"hi " + c.handle}})
		if code != c.code || doc["error"] != c.want {
			t.Errorf("POST mentioning %s: %d %v, want %d %q", c.handle, code, doc, c.code, c.want)
		}
	}
	log := server.log.String()
	if !strings.Contains(log, "nonexistent.invalid") || !strings.Contains(log, "no such host") {
		t.Errorf("the log lacks the DNS detail:\n%s", log)
	}
}

// TestAPIAppTaps: an account's following ([], no Link), the hashtag
// timeline (public statuses with the tag only, any case, paged), a
// status's history (its current version), a hashtag, and api_versions in
// /api/v2/instance, as go-mastodon and raw requests read them.
func TestAPIAppTaps(t *testing.T) {
	t.Parallel()
	f := startReadFixture(t)
	c, ctx, st := f.c, t.Context(), f.statuses
	tagged := []string{
		f.postStatus(t, url.Values{"status": {"six #NuttX"}}),
		f.postStatus(t, url.Values{"status": {"seven #nuttx"}, "visibility": {"unlisted"}}),
		f.postStatus(t, url.Values{"status": {"eight #NUTTX #other"}}),
	}
	following, err := c.GetAccountFollowing(ctx, f.me.ID, nil)
	if err != nil || len(following) != 0 {
		t.Errorf("following: %v %v, want []", following, err)
	}
	code, doc, h := f.getJSON(t, "/api/v1/accounts/"+string(f.me.ID)+"/following", "")
	if list, ok := doc.([]any); code != 200 || !ok || len(list) != 0 || h.Get("Link") != "" {
		t.Errorf("following raw: %d %v Link %q", code, doc, h.Get("Link"))
	}
	if code, _, _ := f.getJSON(t, "/api/v1/accounts/99999/following", ""); code != 404 {
		t.Errorf("following of an unknown account: %d, want 404", code)
	}
	want := []mastodon.ID{mastodon.ID(tagged[2]), mastodon.ID(tagged[0]), st[0].ID}
	got := allPages(t, 1, func(pg *mastodon.Pagination) ([]*mastodon.Status, error) {
		return c.GetTimelineHashtag(ctx, "nuttx", false, pg)
	}, func(s *mastodon.Status) mastodon.ID { return s.ID })
	if !slices.Equal(got, want) {
		t.Errorf("tag timeline by 1: %v, want %v (public statuses with the tag)", got, want)
	}
	if code, doc, _ := f.getJSON(t, "/api/v1/timelines/tag/none?remote=true", ""); code != 200 || len(doc.([]any)) != 0 {
		t.Errorf("remote tag timeline: %d %v, want []", code, doc)
	}
	if code, doc, _ := f.getJSON(t, "/api/v1/timelines/tag/NuttX?max_id="+tagged[0], ""); code != 200 || len(doc.([]any)) != 1 {
		t.Errorf("tag timeline older than %s: %d %v, want the first status", tagged[0], code, doc)
	}

	if _, err := c.UpdateStatus(ctx, &mastodon.Toot{Status: "one, edited #NuttX"}, st[0].ID); err != nil {
		t.Fatal(err)
	}
	history, err := c.GetStatusHistory(ctx, st[0].ID)
	if err != nil || len(history) != 1 || !strings.Contains(history[0].Content, "one, edited") || history[0].Account.ID != f.me.ID {
		t.Errorf("history: %+v %v, want the current version", history, err)
	}
	if code, _, _ := f.getJSON(t, "/api/v1/statuses/0123456789abcdef0123456789abcdef/history", ""); code != 404 {
		t.Errorf("history of an unknown status: %d, want 404", code)
	}

	code, tag, _ := f.getJSON(t, "/api/v1/tags/NuttX", "")
	if m, _ := tag.(map[string]any); code != 200 || m["name"] != "nuttx" || m["following"] != false || !strings.HasSuffix(m["url"].(string), "/tags/nuttx") {
		t.Errorf("tag: %d %v", code, tag)
	}
	if code, _, _ := f.getJSON(t, "/api/v1/tags/no-tag", ""); code != 404 {
		t.Errorf("a name that is no hashtag: %d, want 404", code)
	}
	_, inst, _ := f.request(t, "GET", "/api/v2/instance", "", "", nil)
	if v, _ := inst["api_versions"].(map[string]any); v["mastodon"] != float64(2) {
		t.Errorf("api_versions: %v, want {mastodon: 2}", inst["api_versions"])
	}
}

// TestAPIMentionIDs: a status's mentions carry account ids, not IRIs: a
// remote actor's 21-digit id that GET /api/v1/accounts/:id answers with
// its handle, and our own actor's local id, with their profile URLs (a
// remote actor's as its stored actor document gives it: a follower here).
func TestAPIMentionIDs(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	c := s.client()
	ctx := t.Context()
	me, err := c.GetAccountCurrentUser(ctx)
	if err != nil {
		t.Fatal(err)
	}
	alice := s.remote(t, "alice", fedtest.Mastodon, false)
	alice.ProfileURL = alice.Server.URL + "/@alice"
	s.follow(t, alice) // her actor (and profile URL) is stored with her key
	handle := "@alice@" + strings.TrimPrefix(alice.Server.URL, "http://")
	local := "@nuttx_build@" + strings.TrimPrefix(adminBase, "http://")
	st, err := c.PostStatus(ctx, &mastodon.Toot{Status: "hi " + handle + " and " + local})
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.GetStatus(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range []*mastodon.Status{st, again} {
		if len(got.Mentions) != 2 {
			t.Fatalf("mentions: %+v", got.Mentions)
		}
		remote, ours := got.Mentions[0], got.Mentions[1]
		if _, ok := parseRemoteID(string(remote.ID)); !ok || remote.Acct != strings.TrimPrefix(handle, "@") || remote.URL != alice.ProfileURL {
			t.Errorf("remote mention %+v: want a 21-digit account id", remote)
		}
		if ours.ID != me.ID || ours.URL != me.URL || ours.Acct != "nuttx_build" {
			t.Errorf("local mention %+v: want account %s (%s)", ours, me.ID, me.URL)
		}
		acc, err := c.GetAccount(ctx, remote.ID)
		if err != nil || acc.Acct != remote.Acct || acc.URI != alice.ActorID() {
			t.Errorf("GET the mentioned account %s: %+v %v", remote.ID, acc, err)
		}
	}
}

// TestAPIUnknownCursorPlacedByTime: a status id that names no note but
// has a note id's form pages by its time (max_id far in the future lists
// all, in the past none; since_id and min_id the other way round); any
// other unknown cursor is 400 saying which ids work.
func TestAPIUnknownCursorPlacedByTime(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	posted := []string{s.postStatus(t, url.Values{"status": {"one"}}), s.postStatus(t, url.Values{"status": {"two"}})}
	future, past := "ffffffffffff"+strings.Repeat("0", 20), "000000000001"+strings.Repeat("0", 20)
	for _, c := range []struct {
		query string
		want  int
	}{
		{"max_id=" + future, 2}, {"max_id=" + past, 0}, {"since_id=" + past, 2}, {"since_id=" + future, 0},
		{"min_id=" + past, 2}, {"min_id=" + future, 0},
	} {
		code, doc, _ := s.getJSON(t, "/api/v1/timelines/public?"+c.query, "")
		list, _ := doc.([]any)
		if code != 200 || len(list) != c.want {
			t.Errorf("%s: %d %v, want %d statuses", c.query, code, doc, c.want)
		}
	}
	for _, cursor := range []string{"nope", "FFFFFFFFFFFF" + strings.Repeat("0", 20), posted[0] + "0"} {
		code, doc, _ := s.getJSON(t, "/api/v1/timelines/public?max_id="+cursor, "")
		m, _ := doc.(map[string]any)
		if msg, _ := m["error"].(string); code != 400 || !strings.Contains(msg, "use the id of a status this list gave") {
			t.Errorf("max_id=%s: %d %v, want 400 saying which ids work", cursor, code, doc)
		}
	}
}

// TestAPIGroupedNotifications: /api/v2/notifications lists the page
// /api/v1/notifications lists, each notification its own group naming
// its account (and status), each account and status once; it needs a
// token with read:notifications.
func TestAPIGroupedNotifications(t *testing.T) {
	t.Parallel()
	f := startReadFixture(t)
	bearer := "Bearer " + f.token
	_, v1, _ := f.getJSON(t, "/api/v1/notifications", bearer)
	code, v2, h := f.getJSON(t, "/api/v2/notifications?limit=1", bearer)
	plain := v1.([]any)
	if len(plain) < 2 {
		t.Fatalf("the fixture has %d notifications, want 2 or more", len(plain))
	}
	if code != 200 || !strings.Contains(h.Get("Link"), `rel="next"`) {
		t.Fatalf("v2: %d %v Link %q", code, v2, h.Get("Link"))
	}
	_, all, _ := f.getJSON(t, "/api/v2/notifications", bearer)
	doc := all.(map[string]any)
	groups, accounts, statuses := doc["notification_groups"].([]any), doc["accounts"].([]any), doc["statuses"].([]any)
	if len(groups) != len(plain) {
		t.Fatalf("%d groups, %d notifications", len(groups), len(plain))
	}
	accountIDs, statusIDs := map[any]bool{}, map[any]bool{}
	for _, a := range accounts {
		accountIDs[a.(map[string]any)["id"]] = true
	}
	for _, s := range statuses {
		statusIDs[s.(map[string]any)["id"]] = true
	}
	if len(accountIDs) != len(accounts) || len(statusIDs) != len(statuses) {
		t.Errorf("accounts or statuses repeated: %v %v", accounts, statuses)
	}
	for i, g := range groups {
		g, n := g.(map[string]any), plain[i].(map[string]any)
		sample := g["sample_account_ids"].([]any)
		if g["most_recent_notification_id"] != n["id"] || g["type"] != n["type"] || g["notifications_count"] != float64(1) ||
			g["group_key"] != n["group_key"] || len(sample) != 1 || !accountIDs[sample[0]] {
			t.Errorf("group %v for notification %v", g, n)
		}
		if st, ok := n["status"].(map[string]any); ok && (g["status_id"] != st["id"] || !statusIDs[st["id"]]) {
			t.Errorf("group %v lacks the status %v", g, st["id"])
		}
	}
	if code, _, _ := f.getJSON(t, "/api/v2/notifications", ""); code != 401 {
		t.Errorf("without a token: %d, want 401", code)
	}
}

// TestAPISearch: /api/v2/search finds our account by username, handle or
// URL, a remote account by the handle its reply showed, our status by URL
// or id, statuses by words with a token only, the hashtag of public
// posts; type, limit and offset bound it, bad ones are 400, and nothing is
// fetched from elsewhere.
func TestAPISearch(t *testing.T) {
	t.Parallel()
	f := startReadFixture(t)
	c, ctx, st := f.c, t.Context(), f.statuses
	aliceHandle := strings.TrimPrefix(f.alice.Server.URL, "http://")
	res, err := c.Search(ctx, "nuttx_build", false)
	if err != nil || len(res.Accounts) != 1 || res.Accounts[0].ID != f.me.ID {
		t.Errorf("search nuttx_build: %+v %v", res, err)
	}
	for _, q := range []string{"@nuttx_build@" + strings.TrimPrefix(adminBase, "http://"), f.me.URL, adminBase + "/users/nuttx_build"} {
		if res, err := c.Search(ctx, q, true); err != nil || len(res.Accounts) != 1 || res.Accounts[0].ID != f.me.ID {
			t.Errorf("search %s: %+v %v", q, res, err)
		}
	}
	if res, err := c.Search(ctx, "@alice@"+aliceHandle, true); err != nil || len(res.Accounts) != 1 || res.Accounts[0].Acct != "alice@"+aliceHandle {
		t.Errorf("search alice: %+v %v", res, err)
	}
	gets := len(f.alice.Gets())
	if res, err := c.Search(ctx, "@carol@"+aliceHandle, true); err != nil || len(res.Accounts) != 0 || len(f.alice.Gets()) != gets {
		t.Errorf("search an unknown remote handle: %+v %v, %d GETs to its server (want none)", res, err, len(f.alice.Gets())-gets)
	}
	for _, q := range []string{st[2].URL, st[2].URI, string(st[2].ID)} {
		if res, err := c.Search(ctx, q, true); err != nil || len(res.Statuses) != 1 || res.Statuses[0].ID != st[2].ID {
			t.Errorf("search %s: %+v %v", q, res, err)
		}
	}
	if res, err := c.Search(ctx, "three", false); err != nil || len(res.Statuses) != 1 || res.Statuses[0].ID != st[2].ID {
		t.Errorf("search words with a token: %+v %v", res, err)
	}
	code, doc, _ := f.getJSON(t, "/api/v2/search?q=three", "")
	if m := doc.(map[string]any); code != 200 || len(m["statuses"].([]any)) != 0 {
		t.Errorf("search words without a token: %d %v, want no statuses", code, doc)
	}
	if res, err := c.Search(ctx, "#NuttX", false); err != nil || len(res.Hashtags) != 1 || res.Hashtags[0].Name != "nuttx" {
		t.Errorf("search #NuttX: %+v %v", res, err)
	}
	code, doc, _ = f.getJSON(t, "/api/v2/search?q=nuttx&type=hashtags", "Bearer "+f.token)
	if m := doc.(map[string]any); code != 200 || len(m["hashtags"].([]any)) != 1 || len(m["accounts"].([]any)) != 0 || len(m["statuses"].([]any)) != 0 {
		t.Errorf("type=hashtags: %d %v", code, doc)
	}
	code, doc, _ = f.getJSON(t, "/api/v2/search?q=o&type=statuses&limit=1&offset=1", "Bearer "+f.token)
	if m := doc.(map[string]any); code != 200 || len(m["statuses"].([]any)) > 1 {
		t.Errorf("limit=1: %d %v", code, doc)
	}
	for _, q := range []string{"q=x&type=people", "q=x&limit=x", "q=x&offset=-1", "q=x&offset=99999999"} {
		if code, doc, _ := f.getJSON(t, "/api/v2/search?"+q, ""); code != 400 {
			t.Errorf("%s: %d %v, want 400", q, code, doc)
		}
	}
}
