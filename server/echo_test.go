package server

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/promtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// createFeedAccount creates the actor of a feed account with a key of its
// own, as it is made on first need, and its target in the catalog.
func createFeedAccount(t *testing.T, ts *testServer, handle, kind string, target store.CatalogTarget) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	err = ts.store.Update(t.Context(), func(tx *store.Tx) error {
		if _, err := tx.SeeTargets([]store.CatalogTarget{target}); err != nil {
			return err
		}
		_, err := tx.CreateActor(&store.Actor{Username: handle, Kind: kind, DisplayName: handle + " builds",
			PrivateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), PublicKeyPEM: fedtest.PublicKeyPEM(&key.PublicKey)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// followAll makes r follow each account of ts (through its shared inbox)
// and waits for their Accepts.
func followAll(t *testing.T, ts *testServer, r *fedtest.Remote, accounts ...string) {
	t.Helper()
	for _, a := range accounts {
		if resp, err := r.Post(ts.URL+"/inbox", r.FollowActivity(ts.URL+"/users/"+a)); err != nil || resp.StatusCode != 202 {
			t.Fatalf("%s follows %s: %v %v", r.Username, a, resp, err)
		}
	}
	r.WaitDeliveries(t, len(accounts), 10*time.Second)
}

// creates returns the Creates r received after its first skip deliveries,
// by the account (actor) that sent them, failing t unless each was
// received once, at inbox, signed by its own account's key.
func creates(t *testing.T, r *fedtest.Remote, skip int, inbox string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	times := map[string]int{}
	for _, d := range r.Deliveries()[skip:] {
		actor, _ := d.Activity["actor"].(string)
		if d.VerifyErr != nil || !strings.Contains(d.Header.Get("Signature"), `keyId="`+actor+`#main-key"`) {
			t.Errorf("%s: a delivery of %s not signed by its own key: %v %s", r.Username, actor, d.VerifyErr, d.Header.Get("Signature"))
		}
		if d.Path != inbox {
			t.Errorf("%s: a delivery of %s at %s, want %s", r.Username, actor, d.Path, inbox)
		}
		times[d.Activity["id"].(string)]++
		if d.Activity["type"] == "Create" {
			out[strings.TrimPrefix(actor[strings.LastIndex(actor, "/"):], "/")] = d.Activity["object"].(map[string]any)
		}
	}
	for id, n := range times {
		if n != 1 {
			t.Errorf("%s: %s received %d times", r.Username, id, n)
		}
	}
	return out
}

func keysOf(m map[string]map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, " ")
}

// TestFeedAccountsEndToEnd is issue 11's: a failure of rv-virt:citest
// (arch risc-v) pushed to the Pushgateway reaches the followers of
// @rv-virt.citest, @rv-virt, @arch.risc-v and @nuttx_build, and not the
// follower of @sim.nsh. One user following four of them on one server gets
// each account's note once at its shared inbox, each signed by its own
// account's key; a user who follows @rv-virt.citest alone gets its note
// alone. A second failure replies in each account's thread, and deleting
// the firehose's note deletes its echoes on every follower's server.
func TestFeedAccountsEndToEnd(t *testing.T) {
	t.Parallel()
	stack := promtest.Start(t)
	ts := startServer(t, func(c *Config) {
		c.PrometheusURL, c.PollInterval, c.Query, c.PostRecoveries = stack.PromURL, time.Second, "build_score < 0.5", true
		c.BurstThreshold, c.MaxChars = 10, 500
	})
	rvCitest := store.CatalogTarget{Target: "rv-virt:citest", Board: "rv-virt", Config: "citest", Arch: "risc-v"}
	simNsh := store.CatalogTarget{Target: "sim:nsh", Board: "sim", Config: "nsh", Arch: "sim"}
	createFeedAccount(t, ts, "rv-virt.citest", store.KindTarget, rvCitest)
	createFeedAccount(t, ts, "rv-virt", store.KindBoard, rvCitest)
	createFeedAccount(t, ts, "arch.risc-v", store.KindArch, rvCitest)
	createFeedAccount(t, ts, "sim.nsh", store.KindTarget, simNsh)

	many := fedtest.New(t, "many", fedtest.Mastodon, fedtest.FetchKeys)
	many.SharedInbox = true
	followAll(t, ts, many, "nuttx_build", "rv-virt.citest", "rv-virt", "arch.risc-v")
	solo := fedtest.New(t, "solo", fedtest.GoToSocial, fedtest.FetchKeys) // no shared inbox
	followAll(t, ts, solo, "rv-virt.citest")
	simFan := fedtest.New(t, "simfan", fedtest.Mastodon, fedtest.FetchKeys)
	simFan.SharedInbox = true
	followAll(t, ts, simFan, "sim.nsh")

	labels := promtest.Labels{"user": "nuttxpr", "target": "rv-virt:citest", "board": "rv-virt", "config": "citest", "arch": "risc-v",
		"nuttx_hash": "0481533aaaa", "apps_hash": "b08c296bbbb", "timestamp": "2024-12-06T06:14:54",
		"url": "https://gist.github.com/nuttxpr/1#L1", "url_display": "gist.github.com/nuttxpr/1", "msg": "arch/risc-v/src/x.c:1: error: boom"}
	stack.Push(t, labels, 0)
	many.WaitDeliveries(t, 4+4, 30*time.Second)
	first := creates(t, many, 4, "/inbox")
	if got := keysOf(first); got != "arch.risc-v nuttx_build rv-virt rv-virt.citest" {
		t.Fatalf("the notes received by a follower of four accounts are of %q", got)
	}
	root := first["nuttx_build"]
	for account, note := range first {
		content := note["content"].(string)
		if !strings.HasPrefix(content, "<p>rv-virt : CITEST - Build Failed (nuttxpr)<br>") || note["inReplyTo"] != nil {
			t.Errorf("%s's note: in reply to %v: %s", account, note["inReplyTo"], content)
		}
		if account != "nuttx_build" && !strings.Contains(content, `Firehose post: <a href="`+root["id"].(string)+`"`) {
			t.Errorf("%s's note does not link to the firehose's: %s", account, content)
		}
		if note["attributedTo"] != ts.URL+"/users/"+account {
			t.Errorf("%s's note is attributed to %v", account, note["attributedTo"])
		}
	}
	solo.WaitDeliveries(t, 2, 10*time.Second)
	if got := keysOf(creates(t, solo, 1, "/users/solo/inbox")); got != "rv-virt.citest" {
		t.Errorf("the follower of rv-virt.citest alone received notes of %q", got)
	}

	// A new commit fails: every account replies in its thread.
	labels["nuttx_hash"], labels["timestamp"] = "1111111cccc", "2024-12-07T00:00:00"
	stack.Push(t, labels, 0)
	many.WaitDeliveries(t, 8+4, 30*time.Second)
	second := creates(t, many, 8, "/inbox")
	if got := keysOf(second); got != "arch.risc-v nuttx_build rv-virt rv-virt.citest" {
		t.Fatalf("the second failure's notes are of %q", got)
	}
	for account, note := range second {
		if note["inReplyTo"] != first[account]["id"] {
			t.Errorf("%s's second note replies to %v, want its first %v", account, note["inReplyTo"], first[account]["id"])
		}
	}

	// The operator deletes the firehose's second note: its echoes go too,
	// each with its Delete from its own account.
	db := ts.sql(t)
	eventually.True(t, 10*time.Second, "the Creates recorded as delivered", func() bool {
		return storetest.Count(t, db, "deliveries WHERE state = 'pending'") == 0
	})
	if code, out, errOut := run("delete", "--data", ts.Dir, second["nuttx_build"]["id"].(string)); code != 0 ||
		!strings.Contains(out, "with the 3 notes of feed accounts that repeated it: a Delete goes to 5 inboxes") {
		t.Fatalf("delete: exit %d: %s%s", code, out, errOut)
	}
	deleted := map[string]bool{}
	for _, d := range many.WaitDeliveries(t, 12+4, 10*time.Second)[12:] {
		obj, _ := d.Activity["object"].(map[string]any)
		actor := d.Activity["actor"].(string)
		account := actor[strings.LastIndex(actor, "/")+1:]
		if d.Activity["type"] != "Delete" || obj["id"] != second[account]["id"] || d.VerifyErr != nil || d.Path != "/inbox" {
			t.Errorf("after the delete: %v from %s (%v), want the Delete of its second note", d.Activity["type"], account, d.VerifyErr)
		}
		deleted[account] = true
	}
	if len(deleted) != 4 {
		t.Errorf("Deletes from %v, want the four accounts", deleted)
	}
	if d := solo.WaitDeliveries(t, 4, 10*time.Second)[3]; d.Activity["type"] != "Delete" {
		t.Errorf("the follower of rv-virt.citest alone got a %v", d.Activity["type"])
	}
	for _, n := range []string{"nuttx_build", "rv-virt.citest"} {
		if resp, _ := get(t, second[n]["id"].(string), apAccept); resp.StatusCode != http.StatusGone {
			t.Errorf("%s's deleted note answers %d, want 410", n, resp.StatusCode)
		}
	}

	// Nothing ever reached the follower of @sim.nsh but its Accept.
	eventually.True(t, 10*time.Second, "the queue drained", func() bool {
		return storetest.Count(t, db, "deliveries WHERE state = 'pending'") == 0
	})
	if n := len(simFan.Deliveries()); n != 1 {
		t.Errorf("the follower of sim.nsh received %d deliveries, want its Accept alone", n)
	}
	if n := len(many.Deliveries()) + len(solo.Deliveries()); n != 16+4 {
		t.Errorf("%d deliveries in all, want 20", n)
	}
}
