package activitypub

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
)

// webFingerServer starts a server whose WebFinger answers every query
// with status and, for 200, a JRD of subject and a self link to self; it
// counts the queries.
func webFingerServer(t *testing.T, status int, subject, self func() string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var queries atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/webfinger" {
			http.NotFound(w, r)
			return
		}
		queries.Add(1)
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/jrd+json")
		json.NewEncoder(w).Encode(map[string]any{"subject": subject(),
			"links": []any{map[string]any{"rel": "self", "type": "application/activity+json", "href": self()}}})
	}))
	t.Cleanup(srv.Close)
	return srv, &queries
}

// host is a test server's host:port.
func host(srv *httptest.Server) string { return strings.TrimPrefix(srv.URL, "http://") }

// The operator posts "@alice@liar". liar's WebFinger names another
// server's actor (the victim's alice) as acct:alice@liar; the victim's
// server, asked for acct:alice@VICTIM, names its account alice@VICTIM, not
// alice@liar: the post fails, naming the handle, and nothing is stored or
// sent. (Before, the post was tagged "@alice@liar" but addressed and
// delivered to the victim.)
func TestMentionDelegatedToAnotherServersActorRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	victim := e.remote("alice", fedtest.Mastodon)
	liar, _ := webFingerServer(t, http.StatusOK, func() string { return "acct:alice@liar" }, victim.ActorID)
	handle := "@alice@" + host(liar)
	before := e.snapshot()
	n, err := e.resolveAndPublish("thanks "+handle, "")
	if err == nil {
		t.Fatalf("%s resolved to %+v: another server's actor, named %s in the tag and sent the Create", handle, n.Mentions, handle)
	}
	t.Logf("refused: %v", err)
	if !strings.Contains(err.Error(), "cannot mention "+handle) || !strings.Contains(err.Error(), "alice@"+host(victim.Server)) {
		t.Errorf("error %q does not name the handle and the account its actor is", err)
	}
	e.sameSnapshot(before, "a post mentioning an unconfirmed handle")
}

// A split domain works: @alice@FRONT, whose WebFinger names the actor
// served by another host (as example.com's names social.example.com's),
// is mentioned when that host confirms it: asked for acct:alice@HOST, it
// names the same actor and the account alice@FRONT.
func TestMentionSplitDomainConfirmed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.remote("alice", fedtest.Mastodon)
	var front *httptest.Server
	front, _ = webFingerServer(t, http.StatusOK, func() string { return "acct:alice@" + host(front) }, alice.ActorID)
	alice.AccountDomain = host(front)
	handle := "@alice@" + host(front)
	n, err := e.resolveAndPublish("thanks "+handle, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Mentions) != 1 || n.Mentions[0].Href != alice.ActorID() || n.Mentions[0].Name != handle {
		t.Errorf("mentions %+v, want %s named %s", n.Mentions, alice.ActorID(), handle)
	}
}

// confirmHandle accepts an actor on the handle's host without a query,
// and one on another host only when that host's WebFinger, asked for
// acct:USERNAME@HOST, names the same actor and the handle as its account.
// Every other answer fails with a line saying why.
func TestConfirmHandle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := richtext.Mention{User: "alice", Host: "front.example"}
	cases := []struct {
		name            string
		status          int
		subject, self   string // "ACTOR" stands for the actor's id
		username        string
		sameHost        bool
		wantErr, wantIn string
	}{
		{name: "on the handle's host", status: http.StatusOK, username: "alice", sameHost: true},
		{name: "confirmed", status: http.StatusOK, subject: "acct:Alice@Front.example", self: "ACTOR", username: "alice"},
		{name: "unknown there", status: http.StatusNotFound, username: "alice", wantErr: "which does not confirm it"},
		{name: "another actor there", status: http.StatusOK, subject: "acct:alice@front.example", self: "https://elsewhere.example/users/alice", username: "alice", wantErr: "names https://elsewhere.example/users/alice"},
		{name: "another account", status: http.StatusOK, subject: "acct:alice@victim.example", self: "ACTOR", username: "alice", wantErr: "whose account is alice@victim.example"},
		{name: "no preferredUsername", status: http.StatusOK, username: "", wantErr: "no preferredUsername"},
	}
	for _, c := range cases {
		var actor string
		srv, queries := webFingerServer(t, c.status, func() string { return c.subject }, func() string { return strings.ReplaceAll(c.self, "ACTOR", actor) })
		actor = srv.URL + "/users/alice"
		hc := h
		if c.sameHost {
			hc.Host = host(srv)
		}
		err := e.s.confirmHandle(e.ctx, hc, actor, c.username)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v, want confirmed", c.name, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.wantErr)
		}
		if c.sameHost && queries.Load() != 0 {
			t.Errorf("%s: %d WebFinger queries, want none", c.name, queries.Load())
		}
	}
}
