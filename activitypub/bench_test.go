package activitypub

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
)

// BenchmarkFanOut delivers one post to 10,000 followers with distinct
// inboxes on 1,000 loopback hosts (127.2.x.y), in process, and reports
// deliveries per second next to the RSA signing rate measured in the same
// run. bench/fanout measures the real binary; this one is for profiling.
func BenchmarkFanOut(b *testing.B) {
	const followers, hosts = 10000, 1000
	var received atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		w.WriteHeader(202)
	})}
	addrs := make([]string, hosts)
	for i := range addrs {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.2.%d.%d:0", i/250, i%250+1))
		if err != nil {
			b.Skipf("cannot listen on 127.2/16: %v", err)
		}
		addrs[i] = ln.Addr().String()
		go srv.Serve(ln)
	}
	defer srv.Close()
	e := newEnv(b)
	e.addFollowers(followers, func(i int) string { return fmt.Sprintf("http://%s/users/u%d/inbox", addrs[i/(followers/hosts)], i) })
	e.runDelivery()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		want := received.Load() + followers
		if _, err := publishNow(e.ctx, e.s, "nuttx_build", Post{Content: richtext.Parse("rv-virt:citest - Build Failed #NuttX")}); err != nil {
			b.Fatal(err)
		}
		for received.Load() < want {
			time.Sleep(time.Millisecond)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	rate := float64(b.N*followers) / elapsed.Seconds()
	b.ReportMetric(rate, "deliveries/s")
	b.ReportMetric(rate/signingRate(b), "ratio-to-signing")
}

// signingRate runs a plain rsa.SignPKCS1v15 loop on every core for 3 s.
func signingRate(b *testing.B) float64 {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	h := sha256.Sum256([]byte("x"))
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for time.Since(start) < 3*time.Second {
				rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// BenchmarkInboxFollow measures verified Follows per second through
// HandleInbox with the signer's key cached: parse, signature and Digest
// checks, RSA verification, the follower upsert and the queued Accept. The
// requests are signed before the timer starts. It also reports a plain
// rsa.VerifyPKCS1v15 loop measured in the same run.
func BenchmarkInboxFollow(b *testing.B) {
	e := newEnv(b, func(o *Options) { o.InboxRate = Rate{PerSecond: -1} }) // verification, not the limit
	r := e.remote("bench", fedtest.Mastodon)
	if err := e.s.HandleInbox(e.ctx, "", inbound(b, r, "/inbox", r.FollowActivity(testBase+"/users/nuttx_build"))); err != nil {
		b.Fatal(err) // warms the key cache
	}
	reqs := make([]InboundRequest, b.N)
	for i := range reqs {
		reqs[i] = inbound(b, r, "/inbox", r.FollowActivity(testBase+"/users/nuttx_build"))
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if err := e.s.HandleInbox(e.ctx, "", reqs[i]); err != nil {
			b.Fatal(err)
		}
	}
	rate := float64(b.N) / time.Since(start).Seconds()
	b.StopTimer()
	b.ReportMetric(rate, "follows/s")
	b.ReportMetric(verifyRate(), "rsa-verify/s")
}

func verifyRate() float64 {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	h := sha256.Sum256([]byte("x"))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	n, start := 0, time.Now()
	for time.Since(start) < time.Second {
		rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, h[:], sig)
		n++
	}
	return float64(n) / time.Since(start).Seconds()
}
