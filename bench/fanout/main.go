// Command fanout measures the delivery of one post to many followers with
// the real nuttx-feed binary, and, in the same run, a plain RSA signing loop
// on the same machine (every delivery needs one signature).
//
//	go run ./bench/fanout -bin ./nuttx-feed -followers 10000 -hosts 1000
//	go run ./bench/fanout -bin ./nuttx-feed -fairness
//
// Followers have distinct personal inboxes and no shared inbox, spread over
// hosts 127.1.x.y (on Linux every 127/8 address is loopback), so the server
// opens real connections to -hosts distinct hosts under its per-host limit.
// The sink listens on each of those addresses (loopback only) and answers
// 202; it checks the signature of every 50th request with go-fed/httpsig.
// It prints one Markdown table row per measure.
package main

import (
	"crypto/rand"
	"crypto/rsa"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite"

	"github.com/nuttx-feed/nuttx-feed/bench/internal/measure"
	"github.com/nuttx-feed/nuttx-feed/bench/internal/proc"
	"github.com/nuttx-feed/nuttx-feed/internal/servetest"
)

func main() {
	bin := flag.String("bin", "./nuttx-feed", "nuttx-feed binary")
	followers := flag.Int("followers", 10000, "followers, each with its own inbox")
	hosts := flag.Int("hosts", 1000, "distinct inbox hosts")
	port := flag.Int("port", 18443, "port of the sink on every host")
	signFor := flag.Duration("sign-for", 4*time.Second, "how long each signing baseline runs")
	rounds := flag.Int("rounds", 3, "fan-out rounds, each after its own signing baseline")
	profile := flag.String("cpuprofile", "", "write the server's CPU profile here")
	fair := flag.Bool("fairness", false, "measure fairness instead (fairness.go): 1,000 followers in four set-ups, command to last delivery")
	flag.Parse()
	if *fair {
		fairness(*bin, *port, *rounds)
		return
	}
	if *hosts > 250*200 || *followers < *hosts {
		log.Fatal("bad -hosts/-followers")
	}

	dir, err := os.MkdirTemp("", "nuttx-feed-fanout-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The sink: one listener per host address, one handler.
	var received atomic.Int64
	var firstAt, lastAt atomic.Int64
	var checked, bad atomic.Int64
	var pub *rsa.PublicKey
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := received.Add(1)
		now := time.Now().UnixNano()
		firstAt.CompareAndSwap(0, now)
		lastAt.Store(now)
		if n%50 == 0 && pub != nil {
			checked.Add(1)
			if err := measure.Verify(r, body, pub); err != nil {
				bad.Add(1)
				log.Printf("bad delivery: %v", err)
			}
		}
		w.WriteHeader(http.StatusAccepted)
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	addrs := make([]string, *hosts)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("127.1.%d.%d:%d", i/250, i%250+1, *port)
		ln, err := net.Listen("tcp", addrs[i])
		if err != nil {
			log.Fatalf("listen %s: %v", addrs[i], err)
		}
		go srv.Serve(ln)
	}

	// A database with the bot, its followers and one post to fan out.
	if err := servetest.NewData(*bin, dir, "https://nuttx-feed.org"); err != nil {
		log.Fatal(err)
	}
	perHost := *followers / *hosts
	inboxes := make([]string, *followers)
	for i := range inboxes {
		inboxes[i] = fmt.Sprintf("http://%s/users/u%d/inbox", addrs[i/perHost%*hosts], i)
	}
	pemText, err := servetest.AddFollowers(dir, "nuttx_build", inboxes)
	if err != nil {
		log.Fatal(err)
	}
	if pub, err = measure.ParsePublicKey(pemText); err != nil {
		log.Fatal(err)
	}

	cmd := exec.Command(*bin, "serve", "--data", dir, "--base-url", "https://nuttx-feed.org", "--listen", "127.0.0.1:0", "--allow-private-networks")
	if *profile != "" {
		cmd.Env = append(os.Environ(), "NUTTX_FEED_CPUPROFILE="+*profile)
	}
	listen, err := servetest.Start(cmd, 10*time.Second) // stdout to /dev/null; the log read to its "started" line, then discarded
	if err != nil {
		log.Fatal(err)
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	waitHealthy(listen)
	idleRSS := proc.StatusKB(cmd.Process.Pid, "VmRSS")

	// Rounds alternate a signing baseline (server idle) with one fan-out,
	// so that both see the same machine at nearly the same moment.
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	var ratios, rates, pars []float64
	var cpuPerDelivery, sinkCPU []float64
	for round := 1; round <= *rounds; round++ {
		par := measure.SignRate(key, runtime.GOMAXPROCS(0), *signFor)
		before := received.Load()
		firstAt.Store(0)
		cpu0, self0 := proc.CPUTime(cmd.Process.Pid), proc.CPUTime(os.Getpid())
		run(*bin, "post", "--data", dir, "--base-url", "https://nuttx-feed.org", fmt.Sprintf("round %d: rv-virt:citest - Build Failed\nBuild Log: https://gist.github.com/nuttxpr/x #NuttX", round))
		deadline := time.Now().Add(10 * time.Minute)
		for received.Load() < before+int64(*followers) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := received.Load() - before; got < int64(*followers) {
			log.Fatalf("round %d: only %d of %d deliveries arrived", round, got, *followers)
		}
		window := time.Duration(lastAt.Load() - firstAt.Load())
		rate := float64(*followers) / window.Seconds()
		cpu := proc.CPUTime(cmd.Process.Pid) - cpu0
		sinkCPU = append(sinkCPU, (proc.CPUTime(os.Getpid())-self0).Seconds()/window.Seconds())
		rates, pars, ratios = append(rates, rate), append(pars, par), append(ratios, rate/par)
		cpuPerDelivery = append(cpuPerDelivery, cpu.Seconds()*1000/float64(*followers))
		fmt.Fprintf(os.Stderr, "round %d: %.0f deliveries/s in %.2f s, signing %.0f/s, ratio %.2f, %.2f ms CPU per delivery\n",
			round, rate, window.Seconds(), par, rate/par, cpuPerDelivery[len(cpuPerDelivery)-1])
	}
	peakRSS := proc.StatusKB(cmd.Process.Pid, "VmHWM")
	one := measure.SignRate(key, 1, *signFor)

	fmt.Printf("| fan-out | %d rounds of %d deliveries to %d hosts (%d per host), %d signatures checked by the sink, %d bad |\n",
		*rounds, *followers, *hosts, perHost, checked.Load(), bad.Load())
	fmt.Printf("| deliveries per second, per round | %s (median %.0f) |\n", measure.List(rates, "%.0f"), measure.Median(rates))
	fmt.Printf("| plain rsa.SignPKCS1v15 loop on %d goroutines, before each round | %s (median %.0f) |\n", runtime.GOMAXPROCS(0), measure.List(pars, "%.0f"), measure.Median(pars))
	fmt.Printf("| **ratio deliveries / signing, per round** | %s, **median %.2f** (target >= 0.85) |\n", measure.List(ratios, "%.2f"), measure.Median(ratios))
	fmt.Printf("| plain rsa.SignPKCS1v15 loop on 1 goroutine | %.0f /s (ratio of the median fan-out to it: %.2f) |\n", one, measure.Median(rates)/one)
	fmt.Printf("| server CPU per delivery (user+sys) | %s ms (median %.2f); one signature costs %.2f ms of CPU |\n",
		measure.List(cpuPerDelivery, "%.2f"), measure.Median(cpuPerDelivery), 1000/one)
	fmt.Printf("| cores used by the sink (this process) during the fan-out | %s |\n", measure.List(sinkCPU, "%.2f"))
	fmt.Printf("| server RSS idle before the rounds / peak (VmHWM) | %.1f MB / %.1f MB (target < 100 MB) |\n", float64(idleRSS)/1024, float64(peakRSS)/1024)
}

// waitHealthy checks that the server, which has started, answers.
func waitHealthy(addr string) {
	resp, err := http.Get("http://" + addr + "/health")
	if err != nil {
		log.Fatalf("server started but does not answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		log.Fatalf("server started but is not healthy: %s", resp.Status)
	}
}

func run(bin string, args ...string) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		log.Fatalf("%s %v: %v\n%s", bin, args, err, out)
	}
}
