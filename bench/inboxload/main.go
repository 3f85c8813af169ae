// Command inboxload puts the real binary under mixed load (docs/BENCHMARKS.md):
// 500 clients POST signed Follows to the shared inbox as fast as they can
// (each from its own remote actor, each Follow a new id) while 200 clients,
// each from its own loopback address, GET WebFinger, the actor, the outbox,
// a note and the profile page, for 30 s. It reports the answers by status,
// the latency percentiles per endpoint and the server's peak RSS, then
// checks that every accepted Follow was stored exactly once: one Accept
// each, delivered to its actor's inbox.
//
//	go run ./bench/inboxload -bin ./nuttx-feed [-duration 30s] [-posters 500] [-getters 200]
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nuttx-feed/nuttx-feed/bench/internal/proc"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/servetest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

const (
	host = "nuttx-feed.test" // the base URL's host; requests go to the listen address
	base = "https://" + host
)

func main() {
	bin := flag.String("bin", "./nuttx-feed", "nuttx-feed binary")
	duration := flag.Duration("duration", 30*time.Second, "how long the load runs")
	posters := flag.Int("posters", 500, "concurrent inbox clients, one remote actor each")
	getters := flag.Int("getters", 200, "concurrent GET clients, one loopback address each")
	flag.Parse()
	log.SetFlags(0)

	dir, err := os.MkdirTemp("", "nuttx-feed-inboxload-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The remote server of every actor: their documents (16 keys of 1024
	// bits shared among them, so that signing leaves the 2 cores to the
	// server), and their inboxes, which count the Accepts.
	keys := make([]*rsa.PrivateKey, 16)
	for i := range keys {
		keys[i], _ = rsa.GenerateKey(rand.Reader, 1024)
	}
	ln, err := net.Listen("tcp", "127.2.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	remoteURL := "http://" + ln.Addr().String()
	var accepts atomic.Int64
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var i int
		if _, err := fmt.Sscanf(r.URL.Path, "/users/a%d", &i); err != nil {
			http.NotFound(w, r)
			return
		}
		id := fmt.Sprintf("%s/users/a%d", remoteURL, i)
		if r.Method == http.MethodPost {
			io.Copy(io.Discard, r.Body)
			accepts.Add(1)
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.Header().Set("Content-Type", "application/activity+json")
		json.NewEncoder(w).Encode(map[string]any{"id": id, "type": "Person", "inbox": id + "/inbox",
			"publicKey": map[string]any{"id": id + "#main-key", "owner": id, "publicKeyPem": fedtest.PublicKeyPEM(&keys[i%len(keys)].PublicKey)}})
	}))

	// The server, with a few notes to read.
	if err := servetest.NewData(*bin, dir, base); err != nil {
		log.Fatal(err)
	}
	var noteURL string
	for i := range 5 {
		out, err := exec.Command(*bin, "post", "--data", dir, "--base-url", base, fmt.Sprintf("note %d of the load test #NuttX", i)).Output()
		if err != nil {
			log.Fatalf("post: %v", err)
		}
		noteURL = strings.TrimSpace(string(out))
	}
	cmd := exec.Command(*bin, "serve", "--data", dir, "--base-url", base, "--listen", "127.0.0.1:0",
		"--allow-private-networks", "--inbox-rate", "0", "--prometheus-url", "")
	listen, err := servetest.Start(cmd, 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	server := "http://" + listen

	// Warm-up: every actor follows once, two at a time, so that the load
	// measures the inbox with keys known (the first fetches are bounded per
	// remote host on purpose).
	poster := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *posters}, Timeout: time.Minute}
	var followed atomic.Int64
	follow := func(i int, tag string) (int, time.Duration) {
		id := fmt.Sprintf("%s/users/a%d", remoteURL, i)
		act := map[string]any{"id": id + "/follow/" + tag, "type": "Follow", "actor": id, "object": base + "/users/nuttx_build"}
		body, _ := json.Marshal(act)
		req, _ := http.NewRequest(http.MethodPost, server+"/inbox", bytes.NewReader(body))
		req.Host = host
		req.Header.Set("Content-Type", "application/activity+json")
		if err := fedtest.SignAs(req, body, fedtest.Mastodon, id+"#main-key", keys[i%len(keys)]); err != nil {
			log.Fatal(err)
		}
		t0 := time.Now()
		resp, err := poster.Do(req)
		if err != nil {
			return 0, time.Since(t0)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusAccepted {
			followed.Add(1)
		}
		return resp.StatusCode, time.Since(t0)
	}
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 2 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < *posters; i = int(next.Add(1)) - 1 {
				if code, _ := follow(i, "warm"); code != http.StatusAccepted {
					log.Fatalf("warm-up Follow of a%d: HTTP %d", i, code)
				}
			}
		})
	}
	wg.Wait()
	before := stats(dir)

	// The load.
	rec := newRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	for i := range *posters {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				code, d := follow(i, fmt.Sprint(n))
				rec.add("POST /inbox (Follow)", code, d)
			}
		})
	}
	gets := []struct{ name, path, accept string }{
		{"GET WebFinger", "/.well-known/webfinger?resource=acct:nuttx_build@" + host, "application/jrd+json"},
		{"GET actor", "/users/nuttx_build", "application/activity+json"},
		{"GET outbox page", "/users/nuttx_build/outbox?page=true", "application/activity+json"},
		{"GET note", strings.TrimPrefix(noteURL, base), "application/activity+json"},
		{"GET profile page", "/@nuttx_build", "text/html"},
	}
	for i := range *getters {
		src := &net.TCPAddr{IP: net.IPv4(127, 3, byte(i/250), byte(i%250+1))}
		client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
			DialContext: (&net.Dialer{LocalAddr: src}).DialContext, MaxIdleConnsPerHost: 1}}
		wg.Go(func() {
			for n := i; ctx.Err() == nil; n++ {
				g := gets[n%len(gets)]
				req, _ := http.NewRequest(http.MethodGet, server+g.path, nil)
				req.Host = host
				req.Header.Set("Accept", g.accept)
				t0 := time.Now()
				resp, err := client.Do(req)
				code := 0
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				rec.add(g.name, code, time.Since(t0))
			}
		})
	}
	wg.Wait()
	peak := proc.StatusKB(cmd.Process.Pid, "VmHWM")

	// Every accepted Follow gets exactly one Accept.
	deadline := time.Now().Add(3 * time.Minute)
	for accepts.Load() < followed.Load() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // a duplicate would show by now
	after := stats(dir)

	fmt.Printf("| inbox and GET load: %d inbox clients and %d GET clients for %v, on the real binary | |\n", *posters, *getters, *duration)
	fmt.Println("| endpoint | answers by status | p50 | p99 | max |")
	fmt.Println("|---|---|---|---|---|")
	rec.print()
	fmt.Printf("| Follows accepted (202) during the load | %d (%.0f /s) |\n", followed.Load()-int64(*posters), float64(followed.Load()-int64(*posters))/duration.Seconds())
	fmt.Printf("| Accepts delivered, for %d accepted Follows in all (warm-up included) | %d |\n", followed.Load(), accepts.Load())
	fmt.Printf("| Accept activities stored during the load, for as many Follows accepted | %d for %d |\n", after.Activities-before.Activities, followed.Load()-int64(*posters))
	fmt.Printf("| followers stored (one per actor) | %d for %d actors |\n", after.Followers, *posters)
	fmt.Printf("| server peak RSS (VmHWM) | %.1f MB |\n", float64(peak)/1024)
}

// stats reads the server's database counts beside it (WAL: no lock taken).
func stats(dir string) store.Stats {
	st, err := store.Open(context.Background(), filepath.Join(dir, store.FileName), store.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	s, err := st.Stats(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	return s
}

// recorder keeps every answer's status and latency by endpoint.
type recorder struct {
	mu    sync.Mutex
	names []string
	lat   map[string][]time.Duration
	codes map[string]map[int]int
}

func newRecorder() *recorder {
	return &recorder{lat: map[string][]time.Duration{}, codes: map[string]map[int]int{}}
}

func (r *recorder) add(name string, code int, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.codes[name] == nil {
		r.names = append(r.names, name)
		r.codes[name] = map[int]int{}
	}
	r.codes[name][code]++
	r.lat[name] = append(r.lat[name], d)
}

func (r *recorder) print() {
	slices.Sort(r.names)
	for _, name := range r.names {
		lat := r.lat[name]
		slices.Sort(lat)
		var codes []string
		for _, c := range slices.Sorted(maps.Keys(r.codes[name])) {
			label := fmt.Sprint(c)
			if c == 0 {
				label = "no answer"
			}
			codes = append(codes, fmt.Sprintf("%s: %d", label, r.codes[name][c]))
		}
		fmt.Printf("| %s | %s | %s | %s | %s |\n", name, strings.Join(codes, ", "),
			ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]), ms(lat[len(lat)-1]))
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }
