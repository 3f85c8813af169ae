package feed

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// describeEchoes writes echoes as "account: [digest] target target...".
func describeEchoes(es []echo) string {
	var lines []string
	for _, e := range es {
		var ts []string
		for _, b := range e.targets {
			ts = append(ts, b.Target)
		}
		d := ""
		if e.digest {
			d = fmt.Sprintf("digest of %d builds ", len(e.builds))
		}
		lines = append(lines, e.account.Username+": "+d+strings.Join(ts, " "))
	}
	return strings.Join(lines, "\n")
}

// TestEchoesOfRenamedArch: a target's news also goes to the followed
// accounts that have a thread of it, though its labels no longer name them
// (its architecture was renamed while it failed), each once.
func TestEchoesOfRenamedArch(t *testing.T) {
	mips := store.FollowedFeedAccount{ActorID: 20, Username: "arch.mips"}
	citest := store.FollowedFeedAccount{ActorID: 1, Username: "rv-virt.citest"}
	followed := map[string]store.FollowedFeedAccount{"rv-virt.citest": citest, "arch.risc-v": {ActorID: 3, Username: "arch.risc-v"}}
	one := news{builds: []Build{fail("rv-virt:citest", "nuttxpr", "n1")}, one: Formatter.Recovery}
	for _, c := range []struct {
		name      string
		followed  map[string]store.FollowedFeedAccount
		threading map[string][]store.FollowedFeedAccount
		want      string
	}{
		{"labels and threads", followed, map[string][]store.FollowedFeedAccount{"rv-virt:citest": {mips, citest}},
			"arch.mips: rv-virt:citest\narch.risc-v: rv-virt:citest\nrv-virt.citest: rv-virt:citest"},
		{"threads alone", nil, map[string][]store.FollowedFeedAccount{"rv-virt:citest": {mips}}, "arch.mips: rv-virt:citest"},
		{"a thread of another target", followed, map[string][]store.FollowedFeedAccount{"sim:nsh": {mips}},
			"arch.risc-v: rv-virt:citest\nrv-virt.citest: rv-virt:citest"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := describeEchoes(echoesOf(c.followed, c.threading, one, 2)); got != c.want {
				t.Errorf("echoes:\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

// TestRenamedArchGetsTheRecovery: a target fails as arch mips and
// recovers labelled mips32: @arch.mips, which announced the failure, gets
// the recovery in its thread too (and @arch.mips32 its own note).
func TestRenamedArchGetsTheRecovery(t *testing.T) {
	t.Parallel()
	e := newFarmEnv(t)
	e.feedAccount("arch.mips", store.KindArch, "ann@a.example")
	e.feedAccount("arch.mips32", store.KindArch, "bob@b.example")
	l := failing("pic32mz", "nsh", "nuttxpr", "aaaa0001", "bbbb0001")
	l["arch"] = "mips"
	e.push(l, 0)
	e.poll()
	ok := failing("pic32mz", "nsh", "nuttxpr", "aaaa0002", "bbbb0002")
	ok["arch"], ok["timestamp"], ok["msg"] = "mips32", "2024-12-07T01:00:00", ""
	e.push(ok, 1)
	if res := e.poll(); res.Posts != 1 {
		t.Fatalf("the recovery: %+v, want one post", res)
	}
	ns := e.accountNotes("arch.mips")
	if len(ns) != 2 || ns[1].InReplyTo == "" || !strings.Contains(ns[1].Source, "pic32mz") {
		t.Fatalf("arch.mips: %d notes (%+v), want the failure and the recovery replying to it", len(ns), ns)
	}
	if ns := e.accountNotes("arch.mips32"); len(ns) != 1 {
		t.Errorf("arch.mips32: %d notes, want the recovery", len(ns))
	}
}

// TestEchoesOf: which accounts echo a firehose note, and how: the
// target's, its board's and its arch's that have followers; one note, or
// per account one note per target up to the burst threshold, else a
// digest (when the news has a text of several).
func TestEchoesOf(t *testing.T) {
	followed := map[string]store.FollowedFeedAccount{}
	for i, h := range []string{"rv-virt.citest", "rv-virt", "arch.risc-v", "sim.nsh", "sim", "arch.sim", "lonely"} {
		followed[h] = store.FollowedFeedAccount{ActorID: int64(i + 1), Username: h}
	}
	withArch := func(b Build, arch string) Build { b.Arch = arch; return b }
	one := news{builds: []Build{fail("rv-virt:citest", "nuttxpr", "n1")}, one: failureText(false)}
	digest := func(bs ...Build) news {
		return news{builds: bs, one: failureText(false), many: Formatter.Digest, startsThreads: true}
	}
	for _, c := range []struct {
		name     string
		followed map[string]store.FollowedFeedAccount
		news     news
		want     string
	}{
		{"a failure: its target, board and arch", followed, one,
			"arch.risc-v: rv-virt:citest\nrv-virt: rv-virt:citest\nrv-virt.citest: rv-virt:citest"},
		{"no account followed: nothing", nil, one, ""},
		{"accounts without followers are not there: nothing", map[string]store.FollowedFeedAccount{"sim.nsh": followed["sim.nsh"]}, one, ""},
		{"no arch label: no arch account", followed, news{builds: []Build{withArch(fail("sim:nsh", "u", "n1"), "")}, one: failureText(false)},
			"sim: sim:nsh\nsim.nsh: sim:nsh"},
		{"a target without config has its board's account only", followed,
			news{builds: []Build{{Target: "lonely", Board: "lonely", User: "u"}}, one: failureText(false)}, "lonely: lonely"},
		{"a digest: one per target up to the threshold, else a digest of the account's", followed,
			digest(fail("rv-virt:a", "u", "n1"), fail("rv-virt:b", "u", "n1"), fail("rv-virt:b", "v", "n1"), fail("rv-virt:c", "u", "n1"),
				withArch(fail("sim:nsh", "u", "n1"), "sim"), withArch(fail("sim:ostest", "u", "n1"), "sim")),
			"arch.risc-v: digest of 4 builds rv-virt:a rv-virt:b rv-virt:c\narch.sim: sim:nsh sim:ostest\n" +
				"rv-virt: digest of 4 builds rv-virt:a rv-virt:b rv-virt:c\nsim: sim:nsh sim:ostest\nsim.nsh: sim:nsh"},
		{"news of one build per note is never a digest", followed,
			news{builds: []Build{fail("rv-virt:a", "u", "n1"), fail("rv-virt:b", "u", "n1"), fail("rv-virt:c", "u", "n1")}, one: Formatter.Recovery},
			"arch.risc-v: rv-virt:a rv-virt:b rv-virt:c\nrv-virt: rv-virt:a rv-virt:b rv-virt:c"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := describeEchoes(echoesOf(c.followed, nil, c.news, 2)); got != c.want {
				t.Errorf("echoes:\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

// testKeys is one key pair for the feed accounts of this package's tests
// (a key of their own each would only cost time: deliveries are counted,
// not sent; server/echo_test.go gives each account its own).
var testKeys = sync.OnceValues(func() (priv, pub string) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	privDER, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})), fedtest.PublicKeyPEM(&key.PublicKey)
})

// feedAccount creates the actor of a feed account, as it is made on
// first need, with followers (followers), and returns its row id.
func (e *env) feedAccount(handle, kind string, followers ...string) int64 {
	e.t.Helper()
	priv, pub := testKeys()
	err := e.db.Update(e.ctx, func(tx *store.Tx) error {
		_, err := tx.CreateActor(&store.Actor{Username: handle, Kind: kind, DisplayName: handle + " builds", PrivateKeyPEM: priv, PublicKeyPEM: pub})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.followers(handle, followers...)
}

// followers makes the local actor handle followed by followers
// ("user@host": each server has its shared inbox, https://host/inbox),
// and returns its row id.
func (e *env) followers(handle string, followers ...string) int64 {
	e.t.Helper()
	var id int64
	err := e.db.Update(e.ctx, func(tx *store.Tx) error {
		a, err := tx.Actor(handle)
		if err != nil {
			return err
		}
		id = a.ID
		for _, f := range followers {
			user, host, _ := strings.Cut(f, "@")
			iri := "https://" + host + "/users/" + user
			if err := tx.SaveFollower(store.Follower{ActorID: id, IRI: iri, Inbox: iri + "/inbox", SharedInbox: "https://" + host + "/inbox", FollowID: iri + "#follow"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// accountNotes returns the notes of the actor handle, deleted ones left
// out, oldest first.
func (e *env) accountNotes(handle string) []*store.Note {
	e.t.Helper()
	var ns []*store.Note
	err := e.db.View(e.ctx, func(tx *store.Tx) error {
		a, err := tx.Actor(handle)
		if err != nil {
			return err
		}
		page, err := tx.Notes(store.NoteFilter{ActorID: a.ID}, store.Page{FromOldest: true, Limit: 100})
		for i := len(page.Notes) - 1; i >= 0; i-- {
			ns = append(ns, page.Notes[i])
		}
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return ns
}

// inboxes returns the inboxes that the activity typ of the note seq is
// queued to, sorted and joined by spaces.
func (e *env) inboxes(seq int64, typ string) string {
	e.t.Helper()
	rows, err := e.db.SQL.Query(`SELECT d.inbox FROM deliveries d JOIN activities a ON a.id = d.activity_id
		WHERE a.note_id = ? AND a.type = ? ORDER BY d.inbox`, seq, typ)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// firehoseNote returns the stored note of the firehose at iri.
func (e *env) firehoseNote(iri string) *store.Note {
	e.t.Helper()
	var n *store.Note
	err := e.db.View(e.ctx, func(tx *store.Tx) (err error) {
		n, err = tx.NoteByPublicID(iri[strings.LastIndex(iri, "/")+1:])
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestEchoesOfAFailure: a failure of rv-virt:citest is echoed by the
// followed accounts of its target, board and arch (and by no other), each
// a note of its own with the firehose's text and a link to its note,
// queued once per distinct inbox of its followers; a later failure
// replies in each account's thread, a deleted root starts a new one, and
// deleting the firehose note deletes its echoes with a Delete each to
// their followers.
func TestEchoesOfAFailure(t *testing.T) {
	t.Parallel()
	e := newFarmEnv(t)
	e.feedAccount("rv-virt.citest", store.KindTarget, "ann@a.example")
	e.feedAccount("rv-virt", store.KindBoard, "bob@a.example", "cat@a.example") // one server, one shared inbox
	e.feedAccount("arch.risc-v", store.KindArch, "dan@b.example", "eve@c.example")
	e.feedAccount("sim.nsh", store.KindTarget, "fay@d.example")
	e.feedAccount("rv-virt.nsh", store.KindTarget) // no follower

	l := failing("rv-virt", "citest", "nuttxpr", "0481533a1b2c", "b08c296d3e4f")
	e.push(l, 0)
	if res := e.poll(); res.Posts != 1 || res.Echoes != 3 {
		t.Fatalf("poll: %+v, want 1 post and 3 echoes", res)
	}
	firehose := e.wantNotes(1)[0]
	fn := e.firehoseNote(firehose.ID)
	wantInboxes := map[string]string{
		"rv-virt.citest": "https://a.example/inbox",
		"rv-virt":        "https://a.example/inbox",
		"arch.risc-v":    "https://b.example/inbox https://c.example/inbox",
	}
	roots := map[string]string{}
	for handle, inboxes := range wantInboxes {
		ns := e.accountNotes(handle)
		if len(ns) != 1 {
			t.Fatalf("%s: %d notes, want 1", handle, len(ns))
		}
		n := ns[0]
		roots[handle] = e.svc.NoteIRI(n)
		if n.InReplyTo != "" || n.EchoOf != fn.Seq {
			t.Errorf("%s: in reply to %q, echo of %d; want a thread root echoing %d", handle, n.InReplyTo, n.EchoOf, fn.Seq)
		}
		if want := firehose.Source + "\n\n" + firehoseLink + firehose.ID; n.Source != want {
			t.Errorf("%s: text\n%s\nwant\n%s", handle, n.Source, want)
		}
		if got := e.inboxes(n.Seq, "Create"); got != inboxes {
			t.Errorf("%s: Create queued to %q, want %q", handle, got, inboxes)
		}
	}
	for _, handle := range []string{"sim.nsh", "rv-virt.nsh"} {
		if ns := e.accountNotes(handle); len(ns) != 0 {
			t.Errorf("%s posted %d notes about rv-virt:citest", handle, len(ns))
		}
	}
	var threads int
	e.db.SQL.QueryRow(`SELECT COUNT(*) FROM feed_account_threads`).Scan(&threads)
	if threads != 3 {
		t.Errorf("%d account threads, want 3", threads)
	}

	// A new commit fails: each account replies in its thread.
	l["nuttx_hash"], l["timestamp"] = "1111111aaaa", "2024-12-07T00:00:00"
	e.push(l, 0)
	if res := e.poll(); res.Posts != 1 || res.Echoes != 3 {
		t.Fatalf("second failure: %+v", res)
	}
	for handle, root := range roots {
		if ns := e.accountNotes(handle); len(ns) != 2 || ns[1].InReplyTo != root {
			t.Errorf("%s: second note replies to %q, want its thread %s", handle, ns[len(ns)-1].InReplyTo, root)
		}
	}

	// The target account's root is deleted: its next note starts a new
	// thread; the others reply in theirs.
	if _, err := e.svc.DeleteNote(e.ctx, roots["rv-virt.citest"]); err != nil {
		t.Fatal(err)
	}
	l["nuttx_hash"], l["timestamp"] = "2222222bbbb", "2024-12-08T00:00:00"
	e.push(l, 0)
	e.poll()
	if ns := e.accountNotes("rv-virt.citest"); len(ns) != 2 || ns[1].InReplyTo != "" {
		t.Errorf("rv-virt.citest after its root was deleted: %d notes, the last replying to %q; want a new root", len(ns), ns[len(ns)-1].InReplyTo)
	}
	if ns := e.accountNotes("rv-virt"); len(ns) != 3 || ns[2].InReplyTo != roots["rv-virt"] {
		t.Errorf("rv-virt: third note replies to %q, want %s", ns[len(ns)-1].InReplyTo, roots["rv-virt"])
	}

	// Deleting the firehose's third note deletes its three echoes.
	third := e.wantNotes(3)[2]
	echoes := map[string]*store.Note{}
	for handle := range wantInboxes {
		ns := e.accountNotes(handle)
		echoes[handle] = ns[len(ns)-1]
	}
	d, err := e.svc.DeleteNote(e.ctx, third.ID)
	if err != nil || d.Echoes != 3 || d.Queued != 4 {
		t.Fatalf("delete: %+v %v; want 3 echoes deleted, 4 deliveries (the firehose has no follower)", d, err)
	}
	for handle, n := range echoes {
		var deleted bool
		e.db.SQL.QueryRow(`SELECT deleted_at IS NOT NULL FROM notes WHERE id = ?`, n.Seq).Scan(&deleted)
		if !deleted {
			t.Errorf("%s: its echo of the deleted note stands", handle)
		}
		if got := e.inboxes(n.Seq, "Delete"); got != wantInboxes[handle] {
			t.Errorf("%s: Delete queued to %q, want %q", handle, got, wantInboxes[handle])
		}
	}
	if ns := e.accountNotes("rv-virt"); len(ns) != 2 {
		t.Errorf("rv-virt has %d notes standing, want 2", len(ns))
	}
}

// TestEchoBurstPerAccount: in a digest of 5 targets (burst threshold 2),
// the board rv-virt with 3 of them echoes one digest, which becomes their
// thread in its outbox; the board sim with 2 echoes one note per target.
// Their recovery digest replies, in rv-virt's outbox, to its digest;
// sim's recoveries reply to each target's note.
func TestEchoBurstPerAccount(t *testing.T) {
	t.Parallel()
	e := newFarmEnv(t, func(c *Config) { c.BurstThreshold = 2 })
	rv := e.feedAccount("rv-virt", store.KindBoard, "ann@a.example")
	e.feedAccount("sim", store.KindBoard, "bob@b.example")
	var labels []map[string]string
	for _, target := range []string{"rv-virt:a", "rv-virt:b", "rv-virt:c", "sim:nsh", "sim:ostest"} {
		board, config, _ := strings.Cut(target, ":")
		l := failing(board, config, "nuttxpr", "0481533a1b2c", "b08c296d3e4f")
		e.push(l, 0)
		labels = append(labels, l)
	}
	if res := e.poll(); res.Posts != 1 || res.Echoes != 3 {
		t.Fatalf("burst: %+v, want one digest and 3 echoes", res)
	}
	digest := e.wantNotes(1)[0]
	rvNotes := e.accountNotes("rv-virt")
	if len(rvNotes) != 1 || !strings.HasPrefix(rvNotes[0].Source, "3 NuttX targets failed to build (nuttxpr)") ||
		!strings.HasSuffix(rvNotes[0].Source, firehoseLink+digest.ID) {
		t.Fatalf("rv-virt: %d notes, want its digest of 3 targets:\n%v", len(rvNotes), rvNotes)
	}
	rvDigest := e.svc.NoteIRI(rvNotes[0])
	for _, target := range []string{"rv-virt:a", "rv-virt:b", "rv-virt:c"} {
		var thread string
		e.db.SQL.QueryRow(`SELECT thread FROM feed_account_threads WHERE actor_id = ? AND target = ?`, rv, target).Scan(&thread)
		if thread != rvDigest {
			t.Errorf("rv-virt's thread of %s is %q, want its digest", target, thread)
		}
	}
	simNotes := e.accountNotes("sim")
	if len(simNotes) != 2 || !strings.HasPrefix(simNotes[0].Source, "sim : NSH - Build Failed") || !strings.HasPrefix(simNotes[1].Source, "sim : OSTEST - Build Failed") {
		t.Fatalf("sim: %d notes, want one per target", len(simNotes))
	}

	for _, l := range labels {
		l["nuttx_hash"], l["timestamp"], l["msg"] = "c0ffee1", "2024-12-07T00:00:00", ""
		e.push(l, 1)
	}
	if res := e.poll(); res.Posts != 1 || res.Echoes != 3 {
		t.Fatalf("recoveries: %+v, want one recovery digest and 3 echoes", res)
	}
	if ns := e.accountNotes("rv-virt"); len(ns) != 2 || !strings.HasPrefix(ns[1].Source, "3 NuttX targets build again") || ns[1].InReplyTo != rvDigest {
		t.Errorf("rv-virt's recoveries: %d notes, the last replying to %q:\n%s", len(ns), ns[len(ns)-1].InReplyTo, ns[len(ns)-1].Source)
	}
	ns := e.accountNotes("sim")
	if len(ns) != 4 {
		t.Fatalf("sim: %d notes, want 2 failures and 2 recoveries", len(ns))
	}
	for i, want := range []string{"sim : NSH - Build Recovered", "sim : OSTEST - Build Recovered"} {
		if n := ns[2+i]; !strings.HasPrefix(n.Source, want) || n.InReplyTo != e.svc.NoteIRI(simNotes[i]) {
			t.Errorf("sim's recovery %d: replies to %q: %s", i, n.InReplyTo, firstLine(n.Source))
		}
	}
}

// TestEchoWithinMaxChars: an echo of a long failure stays within
// --max-chars as Mastodon counts it, link to the firehose included, by
// cutting the build message; published, it ends with that link.
func TestEchoWithinMaxChars(t *testing.T) {
	t.Parallel()
	e := newFarmEnv(t, func(c *Config) { c.Format.MaxChars = 300 })
	e.feedAccount("rv-virt.citest", store.KindTarget, "ann@a.example")
	l := failing("rv-virt", "citest", "nuttxpr", "0481533a1b2c", "b08c296d3e4f")
	l["msg"] = strings.Repeat("error: far too long ", 40)
	e.push(l, 0)
	e.poll()
	ns, firehose := e.accountNotes("rv-virt.citest"), e.wantNotes(1)[0]
	if len(ns) != 1 || !strings.Contains(ns[0].Source, "…") || !strings.HasSuffix(ns[0].Source, firehoseLink+firehose.ID) {
		t.Fatalf("echo of a long failure: %d notes\n%v", len(ns), ns)
	}
	// The same content, counted as Mastodon counts it (a link is 23).
	b, _ := buildFromSample(sample(l, 0))
	ap := &applier{f: e.feed}
	if c := withLink(failureText(false)(ap.echoFormat(firehose.ID), b), firehose.ID); c.Length() > 300 || c.PlainText() != ns[0].Source {
		t.Errorf("echo counts %d characters, more than 300, or differs from the one published:\n%s", c.Length(), c.PlainText())
	}
}

// failingEchoes publishes through Publisher but fails every note of an
// account other than the firehose.
type failingEchoes struct {
	Publisher
	firehose string
}

var errEcho = errors.New("the echo failed")

func (p failingEchoes) Publish(tx *store.Tx, username string, post activitypub.Post) (*store.Note, error) {
	if username != p.firehose {
		return nil, errEcho
	}
	return p.Publisher.Publish(tx, username, post)
}

// TestFailedEchoRollsBack: an echo that fails rolls the whole action back:
// no firehose note, no claim, nothing queued; the next poll posts it all.
func TestFailedEchoRollsBack(t *testing.T) {
	t.Parallel()
	e := newFarmEnv(t)
	e.feedAccount("arch.risc-v", store.KindArch, "ann@a.example")
	// The target is in the catalog already: the poll's one change is the
	// action's.
	if err := e.db.Update(e.ctx, func(tx *store.Tx) error {
		_, err := tx.SeeTargets([]store.CatalogTarget{{Target: "rv-virt:citest", Board: "rv-virt", Config: "citest", Arch: "risc-v"}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e.push(failing("rv-virt", "citest", "nuttxpr", "0481533a1b2c", "b08c296d3e4f"), 0)
	before := dump(t, e)
	good := e.feed
	var err error
	if e.feed, err = New(e.cfg, e.db.Store, failingEchoes{Publisher: e.svc, firehose: "nuttx_build"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.feed.Poll(e.ctx); !errors.Is(err, errEcho) || !strings.Contains(err.Error(), "echo by arch.risc-v") {
		t.Fatalf("poll with a failing echo: %v", err)
	}
	if after := dump(t, e); after != before {
		t.Fatalf("a failed echo left changes:\n%s\n->\n%s", before, after)
	}
	e.feed = good
	if res := e.poll(); res.Posts != 1 || res.Echoes != 1 {
		t.Fatalf("poll after: %+v", res)
	}
}

// TestUnfollowedAccountsPublishNothing: accounts without followers (one
// whose follower left) publish nothing and store nothing.
func TestUnfollowedAccountsPublishNothing(t *testing.T) {
	t.Parallel()
	e := newFarmEnv(t)
	e.feedAccount("rv-virt.citest", store.KindTarget)
	e.feedAccount("rv-virt", store.KindBoard)
	arch := e.feedAccount("arch.risc-v", store.KindArch, "ann@a.example")
	if err := e.db.Update(e.ctx, func(tx *store.Tx) error {
		_, err := tx.RemoveFollower(arch, "https://a.example/users/ann")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e.push(failing("rv-virt", "citest", "nuttxpr", "0481533a1b2c", "b08c296d3e4f"), 0)
	if res := e.poll(); res.Posts != 1 || res.Echoes != 0 {
		t.Fatalf("poll: %+v, want the firehose's post alone", res)
	}
	var notes, threads int
	e.db.SQL.QueryRow(`SELECT COUNT(*) FROM notes`).Scan(&notes)
	e.db.SQL.QueryRow(`SELECT COUNT(*) FROM feed_account_threads`).Scan(&threads)
	if notes != 1 || threads != 0 {
		t.Errorf("%d notes and %d account threads, want the firehose's note alone", notes, threads)
	}
}

// TestEchoAsVisibleAsFirehose: with the firehose's posts unlisted, its
// echoes are unlisted too, whatever their account's own setting.
func TestEchoAsVisibleAsFirehose(t *testing.T) {
	t.Parallel()
	e := newFarmEnv(t)
	unlisted := store.Unlisted
	if _, err := e.svc.EditProfile(e.ctx, "nuttx_build", activitypub.ProfileEdit{Visibility: &unlisted}); err != nil {
		t.Fatal(err)
	}
	e.feedAccount("rv-virt.citest", store.KindTarget, "ann@a.example") // public, as created
	e.push(failing("rv-virt", "citest", "nuttxpr", "0481533a1b2c", "b08c296d3e4f"), 0)
	e.poll()
	if ns := e.accountNotes("rv-virt.citest"); len(ns) != 1 || ns[0].Visibility != store.Unlisted {
		t.Fatalf("echo of an unlisted note: %d notes, %+v", len(ns), ns)
	}
}
