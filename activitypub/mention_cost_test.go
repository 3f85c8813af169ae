package activitypub

import (
	"strconv"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
)

// mentioning returns a public Create by r of the note statuses/id (no
// inReplyTo) whose tags are Mentions of hrefs.
func mentioning(r *fedtest.Remote, id string, hrefs []string) map[string]any {
	a := r.NoteActivity("Create", r.ActorID()+"/statuses/"+id, "", "<p>hi</p>")
	note := a["object"].(map[string]any)
	delete(note, "inReplyTo")
	tags := make([]any, len(hrefs))
	for i, h := range hrefs {
		tags[i] = map[string]any{"type": "Mention", "href": h}
	}
	note["tag"] = tags
	return a
}

// numbered returns n IRIs: prefix followed by 0 to n-1.
func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

// BenchmarkManyMentionTags: a signed Create (within the 1 MiB body) whose
// Note tags 15,000 Mentions of unknown actors under our base URL
// (https://OUR-HOST/users/xN), against one of the same size mentioning
// 15,000 remote actors: only the first maxLocalMentions distinct usernames
// of ours are looked up (TestMentionLookupsDistinctAndCapped), so the two
// cost about the same. (Before, each was one database query: 33.7 s
// against 0.99 s for the same request.)
func BenchmarkManyMentionTags(b *testing.B) {
	e := newEnv(b)
	eve := e.remote("eve", fedtest.Mastodon)
	if err := e.send(eve, eve.NoteActivity("Create", eve.ActorID()+"/statuses/0", "", "<p>hi</p>")); err != nil {
		b.Fatal(err) // fetches and caches eve's key
	}
	const tags = 15000
	for name, prefix := range map[string]string{"remote": "https://elsewhere.example/users/x", "ours": testBase + "/users/x"} {
		hrefs := numbered(prefix, tags)
		b.Run(name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				if err := e.send(eve, mentioning(eve, name+strconv.Itoa(i), hrefs)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Mentions of our actors are looked up once per username and only the
// first maxLocalMentions usernames: a note naming one unknown username of
// ours 15,000 times and then our actor is stored as its mention; one
// naming maxLocalMentions other usernames of ours first is not.
func TestMentionLookupsDistinctAndCapped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	eve := e.remote("eve", fedtest.Mastodon)
	us := e.s.site.Actor("nuttx_build")
	repeated := append(make([]string, 0, 15001), us)
	for range 15000 {
		repeated = append(repeated[:len(repeated)-1], testBase+"/users/nobody", us)
	}
	cases := []struct {
		name  string
		hrefs []string
		kept  bool
	}{
		{"one username 15,000 times, then ours", repeated, true},
		{"ours in another case", []string{testBase + "/users/NUTTX_BUILD"}, true},
		{"19 others, then ours", append(numbered(testBase+"/users/x", maxLocalMentions-1), us), true},
		{"20 others, then ours", append(numbered(testBase+"/users/x", maxLocalMentions), us), false},
		{"20 others on other hosts, then ours", append(numbered("https://elsewhere.example/users/x", maxLocalMentions), us), true},
	}
	for i, c := range cases {
		a := mentioning(eve, strconv.Itoa(i+1), c.hrefs)
		if err := e.send(eve, a); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		r := e.storedReply(eve.ActorID() + "/statuses/" + strconv.Itoa(i+1))
		if kept := r != nil; kept != c.kept {
			t.Errorf("%s: stored %v, want %v", c.name, kept, c.kept)
		} else if kept && r.Thread != us {
			t.Errorf("%s: stored under %s, want %s", c.name, r.Thread, us)
		}
	}
}
