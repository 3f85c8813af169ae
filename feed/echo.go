package feed

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/handles"
	"github.com/nuttx-feed/nuttx-feed/internal/natsort"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// Echoes: when the firehose posts news of targets, each account of their
// boards, targets and architectures that has a follower publishes its own
// note about its targets (an echo), in the same transaction, linking to
// the firehose's note and threaded per target in its own outbox. An
// account with no follower publishes nothing and stores nothing.

// news is what a firehose note says, for its echoes: the builds it is
// about and the texts of one of them and of several.
type news struct {
	builds []Build
	one    func(Formatter, Build) *richtext.Content
	// many is the text of several targets of one account (a digest);
	// nil when the note is about one build.
	many func(Formatter, []Build) *richtext.Content
	// startsThreads tells that a digest starts the threads of its targets
	// (failures), rather than replying to their common thread
	// (recoveries).
	startsThreads bool
}

// echo is what one account publishes for a firehose note: one note per
// target, or a digest past the burst threshold.
type echo struct {
	account store.FollowedFeedAccount
	builds  []Build // the builds of its targets, as the firehose note has them
	targets []Build // the first build of each of its targets, in natural order
	digest  bool    // one note of builds (news.many), else one per target
}

// accountsOf returns the handles of the accounts concerned by b: its
// target's, its board's and its arch's (when it has those labels).
func accountsOf(b Build) []string {
	var out []string
	if b.Board != "" && b.Config != "" {
		out = append(out, handles.OfTarget(b.Board, b.Config))
	}
	if b.Board != "" {
		out = append(out, handles.OfBoard(b.Board))
	}
	if b.Arch != "" {
		out = append(out, handles.OfArch(b.Arch))
	}
	return out
}

// echoesOf decides, on paper, which followed accounts echo a note about
// builds and how: an account with one target posts one note; with several
// (a board's or an arch's, in a digest) one note per target up to
// burstThreshold, else one digest of them (when the text of several
// exists). By account name. Besides the accounts its labels name, a
// target's news goes to the followed accounts that have a thread of it
// (threading, by target): an architecture renamed while a target fails
// still gets the end of what it announced.
func echoesOf(followed map[string]store.FollowedFeedAccount, threading map[string][]store.FollowedFeedAccount, n news, burstThreshold int) []echo {
	if len(followed) == 0 && len(threading) == 0 {
		return nil
	}
	byAccount := map[string]*echo{}
	for _, b := range n.builds {
		names := accountsOf(b)
		for _, acct := range threading[b.Target] {
			if !slices.Contains(names, acct.Username) {
				names = append(names, acct.Username)
			}
		}
		for _, h := range names {
			acct, ok := followed[h]
			if !ok {
				acct, ok = threadingAccount(threading[b.Target], h)
			}
			if !ok {
				continue
			}
			e := byAccount[h]
			if e == nil {
				e = &echo{account: acct}
				byAccount[h] = e
			}
			e.builds = append(e.builds, b)
			if !hasTarget(e.targets, b.Target) {
				e.targets = append(e.targets, b)
			}
		}
	}
	out := make([]echo, 0, len(byAccount))
	for _, e := range byAccount {
		sort.SliceStable(e.targets, func(i, j int) bool { return natsort.Less(e.targets[i].Target, e.targets[j].Target) })
		e.digest = n.many != nil && len(e.targets) > burstThreshold
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].account.Username < out[j].account.Username })
	return out
}

// threadingAccount returns the account of accounts called name.
func threadingAccount(accounts []store.FollowedFeedAccount, name string) (store.FollowedFeedAccount, bool) {
	for _, a := range accounts {
		if a.Username == name {
			return a, true
		}
	}
	return store.FollowedFeedAccount{}, false
}

// accountsOfAll returns the handles of the accounts concerned by builds,
// each once.
func accountsOfAll(builds []Build) []string {
	seen := map[string]bool{}
	var out []string
	for _, b := range builds {
		for _, h := range accountsOf(b) {
			if !seen[h] {
				seen[h] = true
				out = append(out, h)
			}
		}
	}
	return out
}

// hasTarget tells whether one of bs is a build of target.
func hasTarget(bs []Build, target string) bool {
	for _, b := range bs {
		if b.Target == target {
			return true
		}
	}
	return false
}

// post publishes the firehose note c (replying to inReplyTo) about n, then
// its echoes, and returns the firehose note's IRI. Any failure fails the
// whole: the transaction rolls back, nothing is half-posted.
func (ap *applier) post(c *richtext.Content, inReplyTo string, n news) (string, error) {
	note, err := ap.pub.Publish(ap.tx, ap.f.cfg.Username, activitypub.Post{Content: c, InReplyTo: inReplyTo})
	if err != nil {
		return "", fmt.Errorf("feed: publish: %w", err)
	}
	iri := ap.pub.NoteIRI(note)
	followed, err := ap.tx.FollowedFeedAccountsAmong(accountsOfAll(n.builds))
	if err != nil {
		return "", err
	}
	targets := make([]string, len(n.builds))
	for i, b := range n.builds {
		targets[i] = b.Target
	}
	threading, err := ap.tx.FollowedFeedAccountsThreading(targets)
	if err != nil {
		return "", err
	}
	for _, e := range echoesOf(followed, threading, n, ap.f.cfg.BurstThreshold) {
		if err := ap.echo(e, n, note, iri); err != nil {
			return "", fmt.Errorf("feed: echo by %s: %w", e.account.Username, err)
		}
	}
	return iri, nil
}

// echo publishes e's notes, repeating the firehose note (at iri).
func (ap *applier) echo(e echo, n news, firehose *store.Note, iri string) error {
	format := ap.echoFormat(iri)
	if e.digest {
		return ap.publishEcho(e.account, e.targets, withLink(n.many(format, e.builds), iri), firehose, n.startsThreads)
	}
	for _, b := range e.targets {
		if err := ap.publishEcho(e.account, []Build{b}, withLink(n.one(format, b), iri), firehose, false); err != nil {
			return err
		}
	}
	return nil
}

// firehoseLink starts the line that links an echo to its firehose note
// (the @nuttx_build post it repeats).
const firehoseLink = "Firehose post: "

// withLink ends c with a paragraph linking to the firehose note at iri.
func withLink(c *richtext.Content, iri string) *richtext.Content {
	return c.Paragraph().Text(firehoseLink).Link(iri, "")
}

// echoFormat is the feed's Formatter with room left for the link to the
// firehose note at iri within MaxChars.
func (ap *applier) echoFormat(iri string) Formatter {
	f := ap.f.cfg.Format
	if f.MaxChars > 0 {
		link := withLink((&richtext.Content{}).Text("x"), iri).Length() - 1
		f.MaxChars = max(f.MaxChars-link, 1)
	}
	return f
}

// publishEcho publishes c as account's note about targets, repeating the
// firehose note, and records it in account's thread of each target. One
// target's note replies to its thread (a deleted root starts a new one).
// A digest starts the threads of its targets when startsThreads is set,
// else replies to their common thread, if they have one.
func (ap *applier) publishEcho(account store.FollowedFeedAccount, targets []Build, c *richtext.Content, firehose *store.Note, startsThreads bool) error {
	roots := make([]string, len(targets))
	common := ""
	for i, b := range targets {
		root, err := ap.accountThread(account.ActorID, b.Target)
		if err != nil {
			return err
		}
		roots[i] = root
		if i == 0 || root == common {
			common = root
		} else {
			common = ""
		}
	}
	if startsThreads {
		common = ""
	}
	// The echo is as visible as its firehose note: the accounts follow
	// the firehose's settings (public or unlisted).
	note, err := ap.pub.Publish(ap.tx, account.Username, activitypub.Post{Content: c, InReplyTo: common, EchoOf: firehose, Visibility: firehose.Visibility})
	if err != nil {
		return err
	}
	iri := ap.pub.NoteIRI(note)
	for i, b := range targets {
		root := roots[i]
		if root == "" || startsThreads {
			root = iri
		}
		if err := ap.tx.SetAccountThread(account.ActorID, b.Target, store.AccountThread{Thread: root, LastNote: iri}); err != nil {
			return err
		}
	}
	ap.echoes++
	return nil
}

// accountThread returns the root of target's thread in the outbox of the
// actor actorID, or "" when it has none or its root was deleted.
func (ap *applier) accountThread(actorID int64, target string) (string, error) {
	t, err := ap.tx.AccountThread(actorID, target)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	stands, err := ap.pub.NoteStands(ap.tx, t.Thread)
	if err != nil || !stands {
		return "", err
	}
	return t.Thread, nil
}
