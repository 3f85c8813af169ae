// Command feedlatency measures the time from a Pushgateway push of a failed
// build to the note arriving at a follower's inbox, with the real binary, a
// real Prometheus (scraping every second) and Pushgateway, for each poll
// interval given. Each run pushes a new target at a random moment of the
// poll cycle; it prints the median and the spread as Markdown table rows.
//
//	go run ./bench/feedlatency -bin ./nuttx-feed -runs 5 -intervals 1s,30s
package main

import (
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite"

	"github.com/nuttx-feed/nuttx-feed/internal/promtest"
	"github.com/nuttx-feed/nuttx-feed/internal/servetest"
)

func main() {
	bin := flag.String("bin", "./nuttx-feed", "nuttx-feed binary")
	runs := flag.Int("runs", 5, "pushes per interval")
	intervals := flag.String("intervals", "1s,30s", "poll intervals to measure")
	flag.Parse()

	stack, err := promtest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer stack.Close()

	// The follower's inbox: it records when each note arrives.
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	sink := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, 64<<10)
		n, _ := r.Body.Read(body)
		mu.Lock()
		for _, key := range keysIn(string(body[:n])) {
			if _, seen := arrived[key]; !seen {
				arrived[key] = time.Now()
			}
		}
		mu.Unlock()
		w.WriteHeader(202)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go sink.Serve(ln)
	inbox := "http://" + ln.Addr().String() + "/inbox"

	for _, iv := range strings.Split(*intervals, ",") {
		interval, err := time.ParseDuration(iv)
		if err != nil {
			log.Fatal(err)
		}
		dir, _ := os.MkdirTemp("", "feedlatency-")
		if err := servetest.NewData(*bin, dir, "http://localhost:8080"); err != nil {
			log.Fatal(err)
		}
		if _, err := servetest.AddFollowers(dir, "nuttx_build", []string{inbox}); err != nil {
			log.Fatal(err)
		}
		cmd := exec.Command(*bin, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--allow-private-networks",
			"--prometheus-url", stack.PromURL, "--poll-interval", interval.String())
		if _, err := servetest.Start(cmd, 10*time.Second); err != nil {
			log.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		var lat []time.Duration
		for i := range *runs {
			time.Sleep(time.Duration(rand.Int64N(int64(interval)))) // a random moment of the poll cycle
			board := fmt.Sprintf("lat%s%02d", strings.ReplaceAll(iv, "s", ""), i)
			key := board + " : NSH"
			l := promtest.Labels{"user": "nuttxpr", "target": board + ":nsh", "board": board, "config": "nsh",
				"nuttx_hash": "abc" + board, "arch": "arm", "msg": "error: x"}
			pushed := time.Now()
			if err := stack.Send("nuttxpr", board+":nsh", promtest.Exposition(l, 0)); err != nil {
				log.Fatal(err)
			}
			deadline := pushed.Add(2*interval + 30*time.Second)
			for {
				mu.Lock()
				at, ok := arrived[key]
				mu.Unlock()
				if ok {
					lat = append(lat, at.Sub(pushed))
					break
				}
				if time.Now().After(deadline) {
					log.Fatalf("interval %v: %s never arrived", interval, key)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		os.RemoveAll(dir)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		var parts []string
		for _, d := range lat {
			parts = append(parts, fmt.Sprintf("%.2f", d.Seconds()))
		}
		fmt.Printf("| feed: push to follower inbox, --poll-interval %v (Prometheus scrapes every 1 s) | median %.2f s over %d runs (sorted: %s s) |\n",
			interval, lat[len(lat)/2].Seconds(), len(lat), strings.Join(parts, ", "))
	}
}

// keysIn finds "board : CONFIG" titles of notes in an activity body.
func keysIn(body string) []string {
	var keys []string
	for _, part := range strings.Split(body, "<p>")[1:] {
		title, _, _ := strings.Cut(part, " - Build")
		keys = append(keys, title)
	}
	return keys
}
