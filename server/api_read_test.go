package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mattn/go-mastodon"

	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
)

// The API's read endpoints, against `nuttx-feed serve` in a child process,
// through go-mastodon and raw requests: followers and replies come from
// simulated servers over signed HTTP.

// readFixture is a server with five statuses of the bot (the second
// unlisted, the fourth a reply to the third), a follower (alice) who
// answered the first, and bob, who answered alice.
type readFixture struct {
	*apiServer
	c          *mastodon.Client
	me         *mastodon.Account
	statuses   []*mastodon.Status // as posted, oldest first
	alice, bob *fedtest.Remote
	aliceNote  string // the IRI of alice's reply
}

// startReadFixture posts the fixture's statuses through the API and has
// alice follow and reply, and bob reply to her.
func startReadFixture(t *testing.T) *readFixture {
	t.Helper()
	f := &readFixture{apiServer: startAPIServer(t)}
	f.c = mastodon.NewClient(&mastodon.Config{Server: f.url, AccessToken: f.token})
	ctx := t.Context()
	var err error
	if f.me, err = f.c.GetAccountCurrentUser(ctx); err != nil {
		t.Fatal(err)
	}
	for i, toot := range []*mastodon.Toot{
		{Status: "one #NuttX"}, {Status: "two", Visibility: "unlisted"}, {Status: "three"}, {Status: "four"}, {Status: "five"},
	} {
		if i == 3 {
			toot.InReplyToID = f.statuses[2].ID
		}
		st, err := f.c.PostStatus(ctx, toot)
		if err != nil {
			t.Fatal(err)
		}
		f.statuses = append(f.statuses, st)
	}
	f.alice = f.remote(t, "alice", fedtest.Mastodon, false)
	f.alice.DisplayName = "Alice"
	f.follow(t, f.alice)
	f.aliceNote = f.alice.ActorID() + "/statuses/1"
	f.inbox(t, f.alice, f.alice.NoteActivity("Create", f.aliceNote, f.statuses[0].URI, `<p>looking<script>alert(1)</script></p>`))
	f.bob = f.remote(t, "bob", fedtest.Mastodon, false)
	f.inbox(t, f.bob, f.bob.NoteActivity("Create", f.bob.ActorID()+"/statuses/7", f.aliceNote, `<p>me too</p>`))
	return f
}

// inbox posts activity from r to the shared inbox and wants 202.
func (f *readFixture) inbox(t *testing.T, r *fedtest.Remote, activity map[string]any) {
	t.Helper()
	if a := f.post(t, "/inbox", activity, r.Sign); a.status != http.StatusAccepted {
		t.Fatalf("%s from %s: %+v", activity["type"], r.Username, a)
	}
}

// ids returns the ids of statuses.
func ids(statuses []*mastodon.Status) []mastodon.ID {
	out := make([]mastodon.ID, len(statuses))
	for i, s := range statuses {
		out[i] = s.ID
	}
	return out
}

// allPages follows a list's Link rel="next" pages from a first page of
// limit items and returns the ids it saw, in order.
func allPages[T any](t *testing.T, limit int64, list func(*mastodon.Pagination) ([]T, error), id func(T) mastodon.ID) []mastodon.ID {
	t.Helper()
	var seen []mastodon.ID
	pg := &mastodon.Pagination{Limit: limit}
	for range 20 {
		page, err := list(pg)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(page)) > limit {
			t.Fatalf("a page of %d, limit %d", len(page), limit)
		}
		for _, it := range page {
			seen = append(seen, id(it))
		}
		if pg.MaxID == "" {
			return seen
		}
	}
	t.Fatalf("more than 20 pages: %v", seen)
	return nil
}

// TestAPIReadWithMastodonClient: the account, its statuses and the public
// timeline page by page with every status exactly once; the followers,
// the notifications and a thread with the Fediverse's replies, as
// go-mastodon reads them.
func TestAPIReadWithMastodonClient(t *testing.T) {
	t.Parallel()
	f := startReadFixture(t)
	c, ctx, st := f.c, t.Context(), f.statuses
	statusID := func(s *mastodon.Status) mastodon.ID { return s.ID }

	acc, err := c.GetAccount(ctx, f.me.ID)
	if err != nil || acc.Username != "nuttx_build" || acc.StatusesCount != 5 || acc.FollowersCount != 1 || !acc.Bot {
		t.Errorf("account: %+v %v", acc, err)
	}
	newestFirst := []mastodon.ID{st[4].ID, st[3].ID, st[2].ID, st[1].ID, st[0].ID}
	for _, limit := range []int64{1, 2, 5} {
		got := allPages(t, limit, func(pg *mastodon.Pagination) ([]*mastodon.Status, error) {
			return c.GetAccountStatuses(ctx, f.me.ID, pg)
		}, statusID)
		if !slices.Equal(got, newestFirst) {
			t.Errorf("account statuses by %d: %v, want %v", limit, got, newestFirst)
		}
	}
	public := allPages(t, 2, func(pg *mastodon.Pagination) ([]*mastodon.Status, error) { return c.GetTimelinePublic(ctx, true, pg) }, statusID)
	if want := []mastodon.ID{st[4].ID, st[3].ID, st[2].ID, st[0].ID}; !slices.Equal(public, want) {
		t.Errorf("public timeline: %v, want %v (no unlisted status)", public, want)
	}
	for _, tc := range []struct {
		name string
		pg   mastodon.Pagination
		want []mastodon.ID
	}{
		{"since_id", mastodon.Pagination{SinceID: st[1].ID, Limit: 2}, []mastodon.ID{st[4].ID, st[3].ID}},
		{"min_id", mastodon.Pagination{MinID: st[1].ID, Limit: 2}, []mastodon.ID{st[3].ID, st[2].ID}},
		{"max_id", mastodon.Pagination{MaxID: st[3].ID}, []mastodon.ID{st[2].ID, st[1].ID, st[0].ID}},
	} {
		got, err := c.GetAccountStatuses(ctx, f.me.ID, &tc.pg)
		if err != nil || !slices.Equal(ids(got), tc.want) {
			t.Errorf("%s: %v %v, want %v", tc.name, ids(got), err, tc.want)
		}
	}
	tagged, err := c.GetAccountStatusesParams(ctx, f.me.ID, url.Values{"tagged": {"nuttx"}, "exclude_replies": {"true"}}, nil)
	if err != nil || !slices.Equal(ids(tagged), []mastodon.ID{st[0].ID}) {
		t.Errorf("tagged: %v %v", ids(tagged), err)
	}

	followers, err := c.GetAccountFollowers(ctx, f.me.ID, nil)
	host := strings.TrimPrefix(f.alice.Server.URL, "http://")
	if err != nil || len(followers) != 1 || followers[0].Acct != "alice@"+host || followers[0].Username != "alice" ||
		followers[0].DisplayName != "Alice" || len(followers[0].ID) != 21 {
		t.Fatalf("followers: %+v %v", followers, err)
	}
	if a, err := c.GetAccount(ctx, followers[0].ID); err != nil || a.Acct != followers[0].Acct || a.URL == "" {
		t.Errorf("the follower's account: %+v %v", a, err)
	}
	if a, err := c.AccountLookup(ctx, "@nuttx_build@localhost:8080"); err != nil || a.ID != f.me.ID {
		t.Errorf("lookup: %+v %v", a, err)
	}

	thread, err := c.GetStatusContext(ctx, st[0].ID)
	if err != nil || len(thread.Ancestors) != 0 || len(thread.Descendants) != 2 {
		t.Fatalf("context: %+v %v", thread, err)
	}
	reply, answer := thread.Descendants[0], thread.Descendants[1]
	if reply.Account.ID != followers[0].ID || reply.InReplyToID != string(st[0].ID) || reply.InReplyToAccountID != string(f.me.ID) ||
		reply.URI != f.aliceNote || strings.Contains(reply.Content, "script") || !strings.Contains(reply.Content, "looking") {
		t.Errorf("alice's reply: %+v", reply)
	}
	if answer.Account.Acct != "bob@"+strings.TrimPrefix(f.bob.Server.URL, "http://") || answer.InReplyToID != string(reply.ID) ||
		answer.InReplyToAccountID != string(reply.Account.ID) {
		t.Errorf("bob's answer: %+v", answer)
	}
	up, err := c.GetStatusContext(ctx, answer.ID)
	if err != nil || !slices.Equal(ids(up.Ancestors), []mastodon.ID{st[0].ID, reply.ID}) || len(up.Descendants) != 0 {
		t.Errorf("context of bob's answer: %+v %v", up, err)
	}
	if own, err := c.GetStatusContext(ctx, st[3].ID); err != nil || !slices.Equal(ids(own.Ancestors), []mastodon.ID{st[2].ID}) {
		t.Errorf("context of the bot's own reply: %+v %v", own, err)
	}

	// Alice's reply and follow, not bob's answer to alice.
	notes := allPages(t, 1, func(pg *mastodon.Pagination) ([]*mastodon.Notification, error) { return c.GetNotifications(ctx, pg) },
		func(n *mastodon.Notification) mastodon.ID { return n.ID })
	all, err := c.GetNotifications(ctx, nil)
	if err != nil || len(all) != 2 || !slices.Equal(notes, []mastodon.ID{all[0].ID, all[1].ID}) ||
		all[0].Type != "mention" || all[0].Status == nil || all[0].Status.ID != reply.ID || all[0].Account.ID != followers[0].ID ||
		all[1].Type != "follow" || all[1].Status != nil || all[1].Account.ID != followers[0].ID {
		t.Fatalf("notifications %+v (by pages %v) %v", all, notes, err)
	}
	mentions, err := c.GetNotificationsExclude(ctx, &[]string{"follow"}, nil)
	if err != nil || len(mentions) != 1 || mentions[0].Type != "mention" {
		t.Errorf("without follows: %+v %v", mentions, err)
	}
	if one, err := c.GetNotification(ctx, all[1].ID); err != nil || one.Type != "follow" || !one.CreatedAt.Equal(all[1].CreatedAt) {
		t.Errorf("one notification: %+v %v", one, err)
	}
}

// TestAPIReadRaw: the Link header as Mastodon writes it, the filters, and
// the answers to unknown ids and hostile parameters: 404 and 400 in
// Mastodon's error shape, never a 500.
func TestAPIReadRaw(t *testing.T) {
	t.Parallel()
	f := startReadFixture(t)
	st, me, bearer := f.statuses, string(f.me.ID), "Bearer "+f.token
	base := adminBase + "/api/v1/accounts/" + me + "/statuses"

	req, _ := http.NewRequest("GET", f.url+"/api/v1/accounts/"+me+"/statuses?limit=2&exclude_replies=1", nil)
	h := send(t, req).header
	want := "<" + base + "?exclude_replies=1&limit=2&max_id=" + string(st[3].ID) + `>; rel="next", <` + base + "?exclude_replies=1&limit=2&min_id=" + string(st[4].ID) + `>; rel="prev"`
	if got := h.Get("Link"); got != want {
		t.Errorf("Link\n%s\nwant\n%s", got, want)
	}
	list := func(path, auth string) []any {
		t.Helper()
		req, _ := http.NewRequest("GET", f.url+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		a := send(t, req)
		var out []any
		if a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &out) != nil {
			t.Fatalf("%s: %d %s", path, a.status, a.body)
		}
		return out
	}
	for path, n := range map[string]int{
		"/api/v1/accounts/" + me + "/statuses?limit=abc":                       5, // not a number: the default, 20
		"/api/v1/accounts/" + me + "/statuses?limit=-2":                        2,
		"/api/v1/accounts/" + me + "/statuses?limit=99999999999999999999":      5,
		"/api/v1/accounts/" + me + "/statuses?limit=-9223372036854775808":      5,
		"/api/v1/accounts/" + me + "/statuses?limit=0":                         5,
		"/api/v1/accounts/" + me + "/statuses?only_media=true":                 0,
		"/api/v1/accounts/" + me + "/statuses?pinned=true":                     0,
		"/api/v1/accounts/" + me + "/statuses?max_id=" + string(st[0].ID):      0,
		"/api/v1/timelines/public?remote=true":                                 0,
		"/api/v1/timelines/public?local=true&limit=1":                          1,
		"/api/v1/notifications?types[]=follow":                                 1,
		"/api/v1/notifications?exclude_types[]=follow&exclude_types[]=mention": 0,
		"/api/v1/notifications?types[]=poll":                                   0, // a type nuttx-feed never makes
		"/api/v1/notifications?types[]=poll&types[]=mention":                   1,
	} {
		if got := list(path, bearer); len(got) != n {
			t.Errorf("%s: %d items, want %d", path, len(got), n)
		}
	}
	remoteAccount := list("/api/v1/accounts/"+me+"/followers", "")[0].(map[string]any)["id"].(string)
	if got := list("/api/v1/accounts/"+remoteAccount+"/statuses", ""); len(got) != 0 {
		t.Errorf("a remote account's statuses: %v", got)
	}

	for _, c := range []struct {
		path, auth string
		status     int
		err        string
	}{
		{"/api/v1/accounts/999", "", 404, "Record not found"},
		{"/api/v1/accounts/abc", "", 404, "Record not found"},
		{"/api/v1/accounts/-1", "", 404, "Record not found"},
		{"/api/v1/accounts/100000000000000000999", "", 404, "Record not found"},
		{"/api/v1/accounts/999/statuses", "", 404, "Record not found"},
		{"/api/v1/accounts/999/followers", "", 404, "Record not found"},
		{"/api/v1/accounts/lookup?acct=nobody", "", 404, "Record not found"},
		{"/api/v1/accounts/lookup?acct=nuttx_build@nuttx-feed.example", "", 404, "Record not found"},
		{"/api/v1/accounts/lookup", "", 404, "Record not found"},
		{"/api/v1/statuses/nope/context", "", 404, "Record not found"},
		{"/api/v1/statuses/100000000000000000999/context", "", 404, "Record not found"},
		{"/api/v1/accounts/" + me + "/statuses?max_id=nope", "", 400, `malformed request: max_id: no status "nope": use the id of a status this list gave, or a 32-hex-digit id whose first 12 digits are a time in Unix milliseconds`},
		{"/api/v1/timelines/public?since_id=%00", "", 400, `malformed request: since_id: no status "\x00": use the id of a status this list gave, or a 32-hex-digit id whose first 12 digits are a time in Unix milliseconds`},
		{"/api/v1/accounts/" + me + "/followers?min_id=x", "", 400, `malformed request: min_id: "x" is not an id of this list`},
		{"/api/v1/notifications?max_id=-5", bearer, 400, `malformed request: max_id: "-5" is not an id of this list`},
		{"/api/v1/notifications", "", 401, "The access token is invalid"},
		{"/api/v1/notifications/1", "", 401, "The access token is invalid"},
		{"/api/v1/notifications/abc", bearer, 404, "Record not found"},
		{"/api/v1/notifications/99999", bearer, 404, "Record not found"},
	} {
		code, doc, _ := f.request(t, "GET", c.path, c.auth, "", nil)
		if code != c.status || doc["error"] != c.err || len(doc) != 1 {
			t.Errorf("%s: %d %v, want %d {error: %s}", c.path, code, doc, c.status, c.err)
		}
	}

	// Hostile parameters on every read: a 200, 400 or 404 with JSON, never a 500.
	long := strings.Repeat("9", 5000)
	for _, path := range []string{"/api/v1/accounts/" + me + "/statuses", "/api/v1/accounts/" + me + "/followers", "/api/v1/timelines/public",
		"/api/v1/notifications", "/api/v1/statuses/" + string(st[0].ID) + "/context", "/api/v1/accounts/lookup", "/api/v1/notifications/" + long,
		"/api/v1/accounts/" + long, "/api/v1/accounts/" + long + "/statuses", "/api/v1/statuses/" + long + "/context"} {
		for _, query := range []string{"limit=%ff", "limit=1e9", "max_id=" + long, "since_id=%27%3B--", "min_id=-1&max_id=0", "types[]=&exclude_types[]=%00",
			"tagged=%00&exclude_replies=%ff&only_media=", "acct=@@@", "acct=" + long, "limit=1&limit=2&max_id=a&max_id=b"} {
			req, _ := http.NewRequest("GET", f.url+path+"?"+query, nil)
			req.Header.Set("Authorization", bearer)
			a := send(t, req)
			if a.status != 200 && a.status != 400 && a.status != 404 || !json.Valid([]byte(a.body)) {
				t.Errorf("%s?%s: %d %.200s", path, query, a.status, a.body)
			}
		}
	}

	// A deleted status has no context, and the lists go on past it.
	f.admin(t, "delete", string(st[2].ID))
	if code, doc, _ := f.request(t, "GET", "/api/v1/statuses/"+string(st[2].ID)+"/context", "", "", nil); code != 404 {
		t.Errorf("context of a deleted status: %d %v", code, doc)
	}
	if got := list("/api/v1/accounts/"+me+"/statuses?max_id="+string(st[2].ID), ""); len(got) != 2 {
		t.Errorf("past a deleted status: %d statuses, want 2", len(got))
	}
	// Alice unfollows: her follow is no longer a notification, she is
	// still an account.
	f.admin(t, "followers remove", f.alice.ActorID())
	if got := list("/api/v1/notifications", bearer); len(got) != 1 {
		t.Errorf("after the unfollow: %d notifications, want 1", len(got))
	}
	if code, doc, _ := f.request(t, "GET", "/api/v1/accounts/"+remoteAccount, "", "", nil); code != 200 || doc["id"] != remoteAccount {
		t.Errorf("a former follower: %d %v", code, doc)
	}
}

// TestAPIContextIsBounded: a chain of 65 statuses lists 40 ancestors and
// 60 descendants to a request without a token, the closest ones, and all
// of them to one with a token; a page of statuses holds 40 at most.
func TestAPIContextIsBounded(t *testing.T) {
	t.Parallel()
	s := startAPIServer(t)
	c := s.client()
	anonymous := mastodon.NewClient(&mastodon.Config{Server: s.url})
	// go-mastodon sends "Bearer " without a token: Mastodon reads that as no token, and so do we.
	ctx := t.Context()
	var chain []mastodon.ID
	for i := range 65 {
		toot := &mastodon.Toot{Status: "link " + strconv.Itoa(i)}
		if i > 0 {
			toot.InReplyToID = chain[i-1]
		}
		st, err := c.PostStatus(ctx, toot)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, st.ID)
	}
	me, err := c.GetAccountCurrentUser(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if page, err := c.GetAccountStatuses(ctx, me.ID, &mastodon.Pagination{Limit: 100}); err != nil || len(page) != 40 {
		t.Errorf("limit=100: %d statuses (%v), want Mastodon's most, 40", len(page), err)
	}
	for _, tc := range []struct {
		name     string
		client   *mastodon.Client
		up, down []mastodon.ID
	}{
		{"anonymous", anonymous, chain[24:64], chain[1:61]},
		{"with a token", c, chain[:64], chain[1:]},
	} {
		last, err := tc.client.GetStatusContext(ctx, chain[64])
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(ids(last.Ancestors), tc.up) || len(last.Descendants) != 0 {
			t.Errorf("%s: %d ancestors, %d descendants of the last", tc.name, len(last.Ancestors), len(last.Descendants))
		}
		first, err := tc.client.GetStatusContext(ctx, chain[0])
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(ids(first.Descendants), tc.down) || len(first.Ancestors) != 0 {
			t.Errorf("%s: %d descendants, %d ancestors of the first", tc.name, len(first.Descendants), len(first.Ancestors))
		}
	}
}

// TestAPINotificationsAreTheTokensAccounts: a token acting as another
// local account reads that account's notifications, not the bot's.
func TestAPINotificationsAreTheTokensAccounts(t *testing.T) {
	t.Parallel()
	s, _ := startFollowedAPIServer(t) // alice follows the bot
	s.addActor(t, "alerts")
	alerts := s.newToken(t, "--account", "alerts", "alerts")
	for _, c := range []struct {
		name, token string
		want        int
	}{{"the bot's token", s.token, 1}, {"the alerts token", alerts, 0}} {
		a := send(t, authorized(t, s.url+"/api/v1/notifications", c.token))
		var list []map[string]any
		if a.status != 200 || json.Unmarshal([]byte(a.body), &list) != nil || len(list) != c.want {
			t.Errorf("%s: %d, %s; want %d notifications", c.name, a.status, a.body, c.want)
		}
	}
}

// authorized is a GET of u with the token.
func authorized(t *testing.T, u, token string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}
