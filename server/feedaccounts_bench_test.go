package server

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// firstFollowAccounts is how many accounts each run of
// BenchmarkFirstFollow creates.
const firstFollowAccounts = 200

// BenchmarkFirstFollow measures the time a feed account takes to be
// created on first need: a GET of its actor document on loopback, which
// generates its RSA-2048 key and stores its row before answering, for
// firstFollowAccounts new accounts a run, one after another. It reports
// the p50 and p99 of those GETs, and of a plain rsa.GenerateKey(2048) loop
// of as many keys measured in the same run, and the ratio of the p50s.
func BenchmarkFirstFollow(b *testing.B) {
	ln := listen(b)
	s := runBenchServer(b, startConfig(b, ln), ln)
	base := "http://" + s.Addr()

	var fetches, keys []time.Duration
	for run := range b.N {
		targets := make([]store.CatalogTarget, firstFollowAccounts)
		for i := range targets {
			board := fmt.Sprintf("board%d-%d", run, i)
			targets[i] = store.CatalogTarget{Target: board + ":nsh", Board: board, Config: "nsh", Arch: "risc-v"}
		}
		if err := s.store.Update(b.Context(), func(tx *store.Tx) error { _, err := tx.SeeTargets(targets); return err }); err != nil {
			b.Fatal(err)
		}
		for _, t := range targets {
			req, _ := http.NewRequest(http.MethodGet, base+"/users/"+t.Board+".nsh", nil)
			req.Header.Set("Accept", apAccept)
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			fetches = append(fetches, time.Since(start))
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("GET %s: %d", req.URL, resp.StatusCode)
			}
		}
	}
	b.StopTimer()
	for range len(fetches) {
		start := time.Now()
		if _, err := rsa.GenerateKey(rand.Reader, 2048); err != nil {
			b.Fatal(err)
		}
		keys = append(keys, time.Since(start))
	}
	var rows int
	s.store.View(b.Context(), func(tx *store.Tx) (err error) { rows, err = tx.ActorCount(); return err })
	if rows != len(fetches)+1 {
		b.Fatalf("%d actors after %d first fetches, want one each and the bot", rows, len(fetches))
	}
	fetchP50, keyP50 := percentile(fetches, 50), percentile(keys, 50)
	b.ReportMetric(millis(fetchP50), "first-fetch-p50-ms")
	b.ReportMetric(millis(percentile(fetches, 99)), "first-fetch-p99-ms")
	b.ReportMetric(millis(keyP50), "rsa-keygen-p50-ms")
	b.ReportMetric(millis(percentile(keys, 99)), "rsa-keygen-p99-ms")
	b.ReportMetric(float64(fetchP50)/float64(keyP50), "ratio-p50")
}

// percentile returns the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

// millis is d in milliseconds.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// runBenchServer opens and runs a server of cfg on ln, without logs, until
// the benchmark ends.
func runBenchServer(b *testing.B, cfg Config, ln net.Listener) *Server {
	b.Helper()
	s, err := Open(b.Context(), cfg, slog.New(slog.DiscardHandler), WithListener(ln))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	return s
}
