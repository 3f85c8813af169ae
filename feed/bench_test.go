package feed

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/internal/promtest"
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
