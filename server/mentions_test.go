package server

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// postCLI runs `nuttx-feed post` against ts's database, as the operator
// does while the server runs, allowing the loopback remotes.
func postCLI(ts *testServer, args ...string) (int, string, string) {
	return run(slices.Concat([]string{"post", "--data", ts.Dir, "--base-url", ts.URL, "--allow-private-networks"}, args)...)
}

// mentionTags returns the Mention tags of a note as "href name".
func mentionTags(note map[string]any) []string {
	var out []string
	tags, _ := note["tag"].([]any)
	for _, raw := range tags {
		if tag, _ := raw.(map[string]any); tag["type"] == "Mention" {
			out = append(out, tag["href"].(string)+" "+tag["name"].(string))
		}
	}
	return out
}

// TestPostMentionsEndToEnd is the operator's story with the real command
// and a running server: `post` with @bob@host finds bob by WebFinger,
// bob's server receives the Create signed (checked with go-fed/httpsig),
// tagging and cc-ing him; the note served as JSON carries the Mention and
// its page links to bob's profile; its deletion reaches bob. A reply to
// alice's note mentions alice.
func TestPostMentionsEndToEnd(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	bob := fedtest.New(t, "bob", fedtest.Mastodon, fedtest.FetchKeys)
	bob.ProfileURL = bob.Server.URL + "/@bob"
	alice := fedtest.New(t, "alice", fedtest.GoToSocial, fedtest.FetchKeys)
	parent := alice.AddNote("7", "<p>is sim:nsh green again?</p>")

	code, out, errOut := postCLI(ts, "sim:nsh is fixed, thanks "+bob.Handle()+" #NuttX")
	if code != 0 {
		t.Fatalf("post: exit %d: %s", code, errOut)
	}
	noteURL := strings.TrimSpace(out)
	d := bob.WaitDeliveries(t, 1, 10*time.Second)[0]
	if d.VerifyErr != nil {
		t.Fatalf("bob's server rejects the Create: %v", d.VerifyErr)
	}
	obj, _ := d.Activity["object"].(map[string]any)
	wantTag := []string{bob.ActorID() + " " + bob.Handle()}
	if d.Activity["type"] != "Create" || obj["id"] != noteURL || d.Path != "/users/bob/inbox" ||
		!slices.Equal(mentionTags(obj), wantTag) || !slices.Contains(obj["cc"].([]any), any(bob.ActorID())) ||
		!slices.Contains(d.Activity["cc"].([]any), any(bob.ActorID())) {
		t.Fatalf("bob received at %s: %v", d.Path, d.Activity)
	}
	note := getJSON(t, noteURL)
	if !slices.Equal(mentionTags(note), wantTag) || !slices.Contains(note["cc"].([]any), any(bob.ActorID())) {
		t.Errorf("the served note: tag %v, cc %v", note["tag"], note["cc"])
	}
	page := getPage(t, strings.Replace(noteURL, "/users/nuttx_build/statuses/", "/@nuttx_build/", 1), 200)
	if link := page.Find(`span.h-card a.u-url.mention[href="` + bob.ProfileURL + `"]`); link.Text() != "@bob" {
		t.Errorf("the note page has no link to bob's profile: %q", link.Text())
	}

	// The operator deletes the note: bob's server hears of it too.
	db := ts.sql(t)
	eventually.True(t, 10*time.Second, "the Create recorded as delivered", func() bool { // else the Delete waits for it
		return storetest.Count(t, db, "deliveries WHERE state = 'pending'") == 0
	})
	if code, _, errOut := run("delete", "--data", ts.Dir, noteURL); code != 0 {
		t.Fatalf("delete: exit %d: %s", code, errOut)
	}
	if d := bob.WaitDeliveries(t, 2, 10*time.Second)[1]; d.VerifyErr != nil || d.Activity["type"] != "Delete" ||
		!slices.Contains(d.Activity["cc"].([]any), any(bob.ActorID())) {
		t.Errorf("bob's second delivery: %v (%v), want the Delete addressed to him", d.Activity, d.VerifyErr)
	}

	code, out, errOut = postCLI(ts, "--in-reply-to", parent, "yes, since apache/nuttx#1234")
	if code != 0 {
		t.Fatalf("reply: exit %d: %s", code, errOut)
	}
	d = alice.WaitDeliveries(t, 1, 10*time.Second)[0]
	obj, _ = d.Activity["object"].(map[string]any)
	if d.VerifyErr != nil || obj["id"] != strings.TrimSpace(out) || obj["inReplyTo"] != parent ||
		!slices.Equal(mentionTags(obj), []string{alice.ActorID() + " " + alice.Handle()}) {
		t.Errorf("alice received %v (%v), want the reply mentioning her", d.Activity, d.VerifyErr)
	}
}

// TestPostUnresolvableMention: a handle nobody answers for, or a parent
// that cannot be read, fails the command with one line naming it, and
// nothing is stored or queued.
func TestPostUnresolvableMention(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	bob := fedtest.New(t, "bob", fedtest.Mastodon, fedtest.FetchKeys)
	host := strings.TrimPrefix(bob.Server.URL, "http://")
	before := ts.snapshot(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"hello @nobody@" + host}, "nuttx-feed post: cannot mention @nobody@" + host + ": "},
		{[]string{"--in-reply-to", bob.Server.URL + "/users/bob/statuses/gone", "hello"}, "nuttx-feed post: cannot reply to " + bob.Server.URL + "/users/bob/statuses/gone: "},
	} {
		code, out, errOut := postCLI(ts, tt.args...)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, tt.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("post %q: exit %d, stdout %q, stderr %q; want exit 1 and one line starting %q", tt.args, code, out, errOut, tt.want)
		}
	}
	if after := ts.snapshot(t); !maps.Equal(before, after) {
		t.Errorf("failed posts changed the database: %v -> %v", before, after)
	}
	// Without --allow-private-networks the loopback server is not asked.
	gets := len(bob.Gets())
	code, _, errOut := run("post", "--data", ts.Dir, "--base-url", ts.URL, "hello "+bob.Handle())
	if code != 1 || !strings.Contains(errOut, "cannot mention "+bob.Handle()) || len(bob.Gets()) != gets {
		t.Errorf("post to a loopback handle without --allow-private-networks: exit %d, %q, %d requests", code, errOut, len(bob.Gets())-gets)
	}
}
