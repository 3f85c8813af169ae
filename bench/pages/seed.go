package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"time"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/feed"
	"github.com/nuttx-feed/nuttx-feed/internal/servetest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// size is what the database holds.
type size struct {
	posts, targets, replies int
	busy                    int // replies on the busiest thread
}

// seeded is what seed built: the counts, and what the pages to measure
// need to know of it.
type seeded struct {
	Notes, Targets, FailingNow, Replies int
	Polls                               int
	Busy                                int    // replies in the busiest thread
	BusyThread                          string // IRI of the thread with the most replies
	BusyTarget                          string // the target with the most failures
	BusyFailures                        int
	MiddleSeq                           int64 // a note in the middle: a profile page deep in the paging
	Took                                time.Duration
}

// seed builds the database of data folder dir: bin makes the bot (as a
// first serve does), then the real feed polls the simulated farm, posting
// through activitypub.Service.Publish as the server's feed does, until it
// posted sz.posts notes; then sz.replies remote replies are stored as the
// inbox stores them (store.SaveRemoteReply), sz.busy of them in the
// thread of the target that failed most, the rest spread over other
// threads.
func seed(ctx context.Context, bin, dir string, sz size) (*seeded, error) {
	t0 := time.Now()
	if err := servetest.NewData(bin, dir, base); err != nil {
		return nil, err
	}
	// The farm's clock ends about now: 20 minutes a poll, about 22 posts a poll.
	f := newFarm(sz.targets, 9, time.Now().Add(-time.Duration(sz.posts/22)*20*time.Minute))
	st, err := store.Open(ctx, filepath.Join(dir, store.FileName), store.Options{Now: f.clock.now})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	svc, err := activitypub.New(activitypub.Options{BaseURL: base, Store: st})
	if err != nil {
		return nil, err
	}
	fd, err := feed.New(feed.Config{
		Source: f, Username: username, PostRecoveries: true, BurstThreshold: 30,
		Format: feed.Formatter{DashboardURL: feed.DefaultDashboardURL, HistoryTemplate: feed.DefaultHistoryTemplate, MaxChars: 500},
	}, st, svc, nil)
	if err != nil {
		return nil, err
	}
	out := &seeded{Busy: min(sz.busy, sz.replies)}
	// A first burst of 300 (one digest), then a few new failures a poll
	// while the failing ones fail again or recover: about 250 fail at any
	// time, and every target fails at least once.
	f.step(300, 0, 0)
	for out.Notes < sz.posts {
		res, err := fd.Poll(ctx)
		if err != nil {
			return nil, fmt.Errorf("poll %d: %w", f.polls, err)
		}
		out.Notes += res.Posts
		f.step(6, 0.03, 0.025)
	}
	out.Polls = f.polls
	if err := addReplies(ctx, st, f, sz, out); err != nil {
		return nil, err
	}
	err = st.View(ctx, func(tx *store.Tx) error {
		now, err := tx.FailingNow()
		out.FailingNow = len(now)
		return err
	})
	out.Took = time.Since(t0)
	return out, err
}

// addReplies stores the remote replies and sets what seed returns of the
// threads: the busiest target and its thread get sz.busy replies.
func addReplies(ctx context.Context, st *store.Store, f *farm, sz size, out *seeded) error {
	rng := rand.New(rand.NewPCG(7, 7))
	var threads []string
	err := st.View(ctx, func(tx *store.Tx) error {
		names := make([]string, len(f.targets))
		for i := range f.targets {
			names[i] = f.name(i)
		}
		targets, err := tx.FeedTargets(names)
		if err != nil {
			return err
		}
		out.Targets = len(targets)
		for _, name := range names {
			t, ok := targets[name]
			if !ok {
				continue
			}
			h, err := tx.TargetHistory(name, 1)
			if err != nil {
				return err
			}
			if h.FailureCount > out.BusyFailures {
				out.BusyTarget, out.BusyFailures, out.BusyThread = name, h.FailureCount, t.Thread
			}
			threads = append(threads, t.Thread)
		}
		oldest, err := tx.Notes(store.NoteFilter{}, store.Page{FromOldest: true, Limit: 1})
		if err != nil || len(oldest.Notes) == 0 {
			return fmt.Errorf("no notes: %v", err)
		}
		out.MiddleSeq = oldest.Notes[0].Seq + int64(out.Notes/2)
		return nil
	})
	if err != nil {
		return err
	}
	return st.Update(ctx, func(tx *store.Tx) error {
		for i := range sz.replies {
			thread := out.BusyThread
			if i >= sz.busy {
				thread = threads[rng.IntN(len(threads))]
			}
			if err := tx.SaveRemoteReply(remoteReply(i, thread, f.clock.t, rng)); err != nil {
				return err
			}
			out.Replies++
		}
		return nil
	})
}

// Where the replies come from.
var (
	replyHosts = []string{"mastodon.social", "fosstodon.org", "hachyderm.io", "floss.social", "social.kernel.org", "mstdn.jp"}
	replyTexts = []string{
		"Fixed by https://github.com/apache/nuttx/pull/%d, please check the next build.",
		"This one is on me: the Kconfig change forgot the default. Sorry!",
		"Same error here on my board with the latest master.",
		"Is it the toolchain? GCC 13 warns about this, GCC 12 does not.",
		"Thanks, looking into it. The <code>riscv_exit.c</code> change was meant for the kernel build only.",
		"Reverted in #%d.",
	}
)

// remoteReply is reply i in thread, as the inbox stores it: sanitized
// HTML that mentions the bot, from one of 300 authors.
func remoteReply(i int, thread string, now time.Time, rng *rand.Rand) *store.RemoteReply {
	author := i % 300
	host := replyHosts[author%len(replyHosts)]
	user := fmt.Sprintf("dev%d", author)
	id := fmt.Sprintf("https://%s/users/%s", host, user)
	text := replyTexts[rng.IntN(len(replyTexts))]
	if strings.Contains(text, "%d") {
		text = fmt.Sprintf(text, 10000+rng.IntN(20000))
	}
	published := now.Add(-time.Duration(rng.IntN(30*24)) * time.Hour)
	return &store.RemoteReply{
		NoteID: fmt.Sprintf("%s/statuses/%d", id, 100000+i), InReplyTo: thread, Thread: thread,
		Author: id, AuthorName: fmt.Sprintf("Developer %d", author), AuthorHandle: "@" + user + "@" + host,
		AuthorAvatar: fmt.Sprintf("https://%s/avatars/%s.png", host, user), AuthorURL: fmt.Sprintf("https://%s/@%s", host, user),
		Content: fmt.Sprintf(`<p><span class="h-card"><a href="%s/@%s" class="u-url mention" rel="nofollow noopener ugc">@<span>%s</span></a></span> %s</p>`,
			base, username, username, text),
		URL:       fmt.Sprintf("https://%s/@%s/%d", host, user, 100000+i),
		Published: published,
	}
}
