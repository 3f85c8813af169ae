package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync/atomic"
	"time"

	"github.com/nuttx-feed/nuttx-feed/bench/internal/measure"
	"github.com/nuttx-feed/nuttx-feed/internal/servetest"
)

// fairness measures, with the real binary, one post to 1,000 followers
// from the command to the last delivery, in four set-ups run side by side
// (alternating, rounds times): 1,000 hosts; 900 of them alone; the same 900
// with 100 more hosts that never answer (held until the server's 30 s
// timeout); 1,000 personal inboxes on one host; and, for the wake-up of
// the server by the command, one follower. It prints Markdown table rows.
func fairness(bin string, port, rounds int) {
	const hosts = 1000
	var received atomic.Int64
	var lastAt atomic.Int64
	var hanging atomic.Bool // the last 100 hosts never answer
	hang := map[string]bool{}
	addrs := make([]string, hosts)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("127.1.%d.%d:%d", i/250, i%250+1, port)
		if i >= 900 {
			hang[addrs[i]] = true
		}
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if hanging.Load() && hang[r.Host] {
			<-r.Context().Done() // the client gives up (or the server stops)
			return
		}
		received.Add(1)
		lastAt.Store(time.Now().UnixNano())
		w.WriteHeader(http.StatusAccepted)
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			log.Fatalf("listen %s: %v", a, err)
		}
		go srv.Serve(ln)
	}

	type setup struct {
		name    string
		inboxes func(i int) string
		n       int // followers
		healthy int // deliveries awaited
	}
	inbox := func(host string, i int) string { return fmt.Sprintf("http://%s/users/u%d/inbox", host, i) }
	setups := []setup{
		{"1,000 hosts, one inbox each", func(i int) string { return inbox(addrs[i], i) }, hosts, hosts},
		{"900 of those hosts alone", func(i int) string { return inbox(addrs[i], i) }, 900, 900},
		{"the 900 with 100 more hosts that never answer", func(i int) string { return inbox(addrs[i], i) }, hosts, 900},
		{"1,000 personal inboxes on one host", func(i int) string { return inbox(addrs[0], i) }, hosts, hosts},
		{"one follower", func(i int) string { return inbox(addrs[0], i) }, 1, 1},
	}
	times := make([][]float64, len(setups))
	for round := 1; round <= rounds; round++ {
		for k, s := range setups {
			hanging.Store(s.healthy < s.n)
			inboxes := make([]string, s.n)
			for i := range inboxes {
				inboxes[i] = s.inboxes(i)
			}
			d := commandToLast(bin, inboxes, s.healthy, &received, &lastAt)
			times[k] = append(times[k], d.Seconds())
			fmt.Fprintf(os.Stderr, "round %d: %s: %.2f s\n", round, s.name, d.Seconds())
		}
	}
	med := make([]float64, len(setups))
	for k, s := range setups {
		med[k] = measure.Median(times[k])
		fmt.Printf("| fairness: one post to %s, command to last delivery%s | %s s (median %.2f) |\n", s.name,
			map[bool]string{true: " (answering hosts)", false: ""}[s.healthy < s.n], measure.List(times[k], "%.2f"), med[k])
	}
	ratios := make([]float64, rounds)
	for r := range ratios {
		ratios[r] = times[2][r] / times[1][r]
	}
	fmt.Printf("| **fairness: the 900 answering hosts with 100 hanging / alone, per round** | %s, **median %.2f** (target <= 2) |\n", measure.List(ratios, "%.2f"), measure.Median(ratios))
	for r := range ratios {
		ratios[r] = times[3][r] / times[0][r]
	}
	fmt.Printf("| fairness: 1,000 inboxes on one host / on 1,000 hosts, per round | %s, median %.2f |\n", measure.List(ratios, "%.2f"), measure.Median(ratios))
}

// commandToLast seeds a fresh data folder with followers at inboxes,
// starts the server, runs `nuttx-feed post` and returns the time from the
// command's start to the want-th delivery.
func commandToLast(bin string, inboxes []string, want int, received, lastAt *atomic.Int64) time.Duration {
	dir, err := os.MkdirTemp("", "nuttx-feed-fairness-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := servetest.NewData(bin, dir, "https://nuttx-feed.org"); err != nil {
		log.Fatal(err)
	}
	if _, err := servetest.AddFollowers(dir, "nuttx_build", inboxes); err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--data", dir, "--base-url", "https://nuttx-feed.org", "--listen", "127.0.0.1:0", "--allow-private-networks")
	if _, err := servetest.Start(cmd, 10*time.Second); err != nil {
		log.Fatal(err)
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	before := received.Load()
	start := time.Now()
	run(bin, "post", "--data", dir, "--base-url", "https://nuttx-feed.org", "rv-virt:citest - Build Failed #NuttX")
	deadline := start.Add(5 * time.Minute)
	for received.Load() < before+int64(want) {
		if time.Now().After(deadline) {
			log.Fatalf("only %d of %d deliveries arrived", received.Load()-before, want)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Duration(lastAt.Load() - start.UnixNano())
}
