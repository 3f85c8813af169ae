package feed

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/handles"
	"github.com/nuttx-feed/nuttx-feed/internal/promtest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// BenchmarkPoll measures one poll with 2,000 targets failing in a real
// Prometheus (the farm has about 1,600): the failure query, the recovery
// queries for the 2,000 targets this feed holds as failing, and the state
// lookups, in the steady state where nothing is new. BenchmarkPollFirst
// measures the poll that first sees them all (one digest).
func BenchmarkPoll(b *testing.B)      { benchmarkPoll(b, false) }
func BenchmarkPollFirst(b *testing.B) { benchmarkPoll(b, true) }

// benchStack is the benchmarks' stack, started when one first asks: it
// scrapes every second, as the deployment does (the tests' 100 ms is too
// short a timeout to scrape 2,000 series).
var benchStack = sync.OnceValues(func() (*promtest.Stack, error) {
	s, err := promtest.Launch(promtest.Options{})
	if err == nil {
		closeAtExit(s)
	}
	return s, err
})

func benchmarkPoll(b *testing.B, first bool) {
	const targets = 2000
	s, err := benchStack()
	stack := ready(b, s, err)
	stack.Reset(b)
	var text strings.Builder
	for i := range targets {
		l := failing(fmt.Sprintf("board%04d", i), "nsh", "nuttxpr", "0481533a1b2c", "b08c296d3e4f")
		l["arch"] = []string{"arm", "risc-v", "xtensa", "sim"}[i%4]
		text.Reset()
		text.WriteString(promtest.Exposition(l, 0))
		stack.PushText(b, "nuttxpr", l["target"], text.String())
	}
	stack.WaitCount(b, `build_score < 0.5`, targets)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		e := newEnvWith(b, stack)
		if !first {
			e.poll() // the digest: from now on nothing is new
		}
		b.StartTimer()
		res, err := e.feed.Poll(e.ctx)
		if err != nil {
			b.Fatal(err)
		}
		if want := map[bool]int{true: 1, false: 0}[first]; res.Posts != want || res.Failing != targets {
			b.Fatalf("poll: %+v", res)
		}
	}
}

// BenchmarkFanout measures the fan-out of one failure (issue 11): the
// action's transaction (the firehose's note and its echoes, their
// Creates and deliveries queued) with 1,600 target accounts, their 400
// boards and 8 arches existing, each followed by one user on one of 100
// servers (shared inboxes), side by side with the same failure and no
// feed accounts. The firehose has a follower on each of the 100 servers in
// both. Each iteration fails the same target at a new commit, a reply in
// its threads, in each set-up; ratio is the one's time over the other's.
func BenchmarkFanout(b *testing.B) {
	const servers = 100
	none, accounts := fanoutEnv(b, servers, false), fanoutEnv(b, servers, true)
	var tNone, tAccounts time.Duration
	var qNone, qAccounts int
	b.ResetTimer()
	for i := range b.N {
		f := Build{Target: "board0000:nsh", Board: "board0000", Config: "nsh", Arch: "arch0", User: "nuttxpr",
			NuttxHash: fmt.Sprintf("%012x", i), AppsHash: "b08c296d3e4f", Timestamp: "2024-12-06T06:14:54", Msg: "x.c:1: error: boom"}
		d, q := fanoutOnce(b, none, f)
		tNone, qNone = tNone+d, qNone+q
		d, q = fanoutOnce(b, accounts, f)
		tAccounts, qAccounts = tAccounts+d, qAccounts+q
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(tNone.Microseconds())/n, "µs/action-no-accounts")
	b.ReportMetric(float64(tAccounts.Microseconds())/n, "µs/action-accounts")
	b.ReportMetric(float64(tAccounts)/float64(tNone), "ratio")
	b.ReportMetric(float64(qNone)/n, "deliveries/action-no-accounts")
	b.ReportMetric(float64(qAccounts)/n, "deliveries/action-accounts")
}

// fanoutEnv is a feed whose firehose has a follower on each of servers,
// and with accounts, 1,600 target accounts (400 boards of 4 configs, 8
// arches) and their boards' and arches', each followed by one user on one
// of the servers.
func fanoutEnv(b *testing.B, servers int, accounts bool) *env {
	e := newEnvWith(b, nil, func(c *Config) { c.Source = &farm{} })
	var followers []string
	for s := range servers {
		followers = append(followers, fmt.Sprintf("fan%d@s%03d.example", s, s))
	}
	e.followers("nuttx_build", followers...)
	if !accounts {
		return e
	}
	priv, pub := testKeys()
	n := 0
	err := e.db.Update(e.ctx, func(tx *store.Tx) error {
		var catalog []store.CatalogTarget
		for i := range 1600 {
			board := fmt.Sprintf("board%04d", i/4)
			catalog = append(catalog, store.CatalogTarget{Target: fmt.Sprintf("%s:cfg%d", board, i%4), Board: board, Config: fmt.Sprintf("cfg%d", i%4), Arch: fmt.Sprintf("arch%d", i/4%8)})
		}
		catalog[0].Config, catalog[0].Target = "nsh", "board0000:nsh"
		if _, err := tx.SeeTargets(catalog); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, c := range catalog {
			for kind, h := range map[string]string{store.KindTarget: handles.OfTarget(c.Board, c.Config), store.KindBoard: handles.OfBoard(c.Board), store.KindArch: handles.OfArch(c.Arch)} {
				if seen[h] {
					continue
				}
				seen[h] = true
				if _, err := tx.CreateActor(&store.Actor{Username: h, Kind: kind, PrivateKeyPEM: priv, PublicKeyPEM: pub}); err != nil {
					return err
				}
				a, err := tx.Actor(h)
				if err != nil {
					return err
				}
				host := fmt.Sprintf("s%03d.example", n%servers)
				iri := fmt.Sprintf("https://%s/users/u%d", host, n)
				n++
				if err := tx.SaveFollower(store.Follower{ActorID: a.ID, IRI: iri, Inbox: iri + "/inbox", SharedInbox: "https://" + host + "/inbox", FollowID: iri + "#f"}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if n != 1600+400+8 {
		b.Fatalf("%d accounts", n)
	}
	return e
}

// fanoutOnce runs the failure f in e as one action and returns the time of
// its transaction and the deliveries it queued.
func fanoutOnce(b *testing.B, e *env, f Build) (time.Duration, int) {
	count := func() (n int) {
		e.db.SQL.QueryRow(`SELECT COUNT(*) FROM deliveries`).Scan(&n)
		return n
	}
	before := count()
	t0 := time.Now()
	res, err := e.feed.applyAll(e.ctx, []action{{kind: actFailure, builds: []Build{f}}})
	elapsed := time.Since(t0)
	if err != nil || res.Posts != 1 {
		b.Fatalf("action: %+v %v", res, err)
	}
	return elapsed, count() - before
}
