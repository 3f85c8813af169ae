// Command api measures the Mastodon-compatible API of the real binary
// (docs/BENCHMARKS.md, issue 10):
//
//   - POST /api/v1/statuses per second with the delivery of each status to
//     100 follower servers included: -posts statuses are posted by -c
//     clients, and the clock stops at the last delivery. Each round runs
//     after a plain RSA signing loop in the same process (every delivery
//     costs one signature), so their ratio is comparable across machines;
//
//   - GET /api/v1/accounts/:id/statuses per second on an account with
//     -statuses statuses (the first page, a page of 40 and a page deep in
//     the paging), between two runs of GET /health in the same run.
//
//     go run ./bench/api -bin ./nuttx-feed [-statuses 10000] [-posts 100] [-rounds 3] [-c 4] [-duration 10s]
//
// The statuses are made through the API itself (without followers, which is
// measured too), then 100 followers are added, one per host 127.2.0.x (on
// Linux every 127/8 address is loopback); the sink answers 202 and checks
// the signature of every 10th delivery with go-fed/httpsig. It prints
// Markdown table rows.
package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nuttx-feed/nuttx-feed/bench/internal/load"
	"github.com/nuttx-feed/nuttx-feed/bench/internal/measure"
	"github.com/nuttx-feed/nuttx-feed/bench/internal/proc"
	"github.com/nuttx-feed/nuttx-feed/internal/servetest"
)

const base = "https://nuttx-feed.org"

// options are the command's flags.
type options struct {
	bin                             string
	statuses, posts, rounds, follow int
	clients, port                   int
	duration, signFor               time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "./nuttx-feed", "nuttx-feed binary")
	flag.IntVar(&o.statuses, "statuses", 10000, "statuses of the account whose statuses are read")
	flag.IntVar(&o.posts, "posts", 100, "statuses posted per round with followers")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of posting with followers, each after its own signing baseline (0: none, the reads alone)")
	flag.IntVar(&o.follow, "followers", 100, "follower servers (one follower each)")
	flag.IntVar(&o.clients, "c", 4, "concurrent clients")
	flag.IntVar(&o.port, "port", 18543, "port of the sink on every follower host")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long each GET is loaded")
	flag.DurationVar(&o.signFor, "sign-for", 3*time.Second, "how long each signing baseline runs")
	flag.Parse()
	log.SetFlags(0)
	if err := run(o); err != nil {
		log.Fatal("api: ", err)
	}
}

// run does the whole measure.
func run(o options) error {
	dir, err := os.MkdirTemp("", "nuttx-feed-api-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := servetest.NewData(o.bin, dir, base); err != nil {
		return err
	}
	out, err := exec.Command(o.bin, "token", "create", "--data", dir, "bench").Output()
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	token := lines[len(lines)-1]

	// Without followers: make the account's statuses, then read them.
	srv, err := start(o.bin, dir, token)
	if err != nil {
		return err
	}
	c := newClient(srv.addr, token)
	t0 := time.Now()
	ids, lat, err := c.postMany(o.statuses, o.clients, "seed")
	if err != nil {
		srv.stop()
		return err
	}
	seedRate := float64(o.statuses) / time.Since(t0).Seconds()
	fmt.Printf("| api: POST /api/v1/statuses, no followers, %d statuses by %d clients | %.0f /s; p50 %s, p99 %s |\n",
		o.statuses, o.clients, seedRate, pct(lat, 50), pct(lat, 99))
	err = readStatuses(o, srv, c, ids)
	srv.stop()
	if err != nil {
		return err
	}

	if o.rounds == 0 { // -rounds 0: the reads alone
		return nil
	}
	// With followers: post and wait for every delivery.
	sk, err := newSink(o.follow, o.port)
	if err != nil {
		return err
	}
	defer sk.close()
	pemText, err := servetest.AddFollowers(dir, "nuttx_build", sk.inboxes)
	if err != nil {
		return err
	}
	if sk.pub, err = measure.ParsePublicKey(pemText); err != nil {
		return err
	}
	if srv, err = start(o.bin, dir, token); err != nil {
		return err
	}
	defer srv.stop()
	return postWithFollowers(o, srv, newClient(srv.addr, token), sk)
}

// readStatuses loads GET /api/v1/accounts/:id/statuses and prints its rows.
func readStatuses(o options, srv *server, c *client, ids []string) error {
	id, err := c.accountID()
	if err != nil {
		return err
	}
	// ids are in posting order (nearly: 4 clients post at once); a status
	// near the middle has thousands of older ones to page through.
	path := "/api/v1/accounts/" + id + "/statuses"
	pages := []load.Page{
		{Name: "GET /health (the baseline)", Path: "/health"},
		{Name: "GET " + path + " (20 statuses)", Path: path},
		{Name: "GET " + path + "?limit=40", Path: path + "?limit=40"},
		{Name: "GET " + path + "?max_id=(the middle)", Path: path + "?max_id=" + url.QueryEscape(ids[len(ids)/2])},
	}
	if err := c.checkPage(path+"?max_id="+url.QueryEscape(ids[len(ids)/2]), 20); err != nil {
		return err
	}
	ld := &load.Loader{Server: "http://" + srv.addr, Header: map[string]string{"Authorization": "Bearer " + c.token, "Accept": "application/json"},
		Clients: 8, Duration: o.duration}
	for i := range pages {
		if err := ld.Check(&pages[i]); err != nil {
			return err
		}
	}
	var results []load.Result
	for _, p := range append(pages, pages[0]) {
		results = append(results, ld.Run(p))
	}
	before, after := results[0], results[len(results)-1]
	ref := (before.RPS() + after.RPS()) / 2
	fmt.Printf("| api: %s, before / after, 8 clients | %.0f / %.0f /s |\n", before.Page.Name, before.RPS(), after.RPS())
	for _, r := range results[1 : len(results)-1] {
		fmt.Printf("| api: %s, %d statuses | %.0f /s%s (%.3f of the baseline); p50 %s, p99 %s; %d bytes |\n",
			r.Page.Name, len(ids), r.RPS(), r.Failed(), r.RPS()/ref, r.P(50), r.P(99), r.Page.Bytes)
	}
	fmt.Printf("| api: server RSS after the reads / peak | %.1f / %.1f MB |\n",
		float64(proc.StatusKB(srv.pid(), "VmRSS"))/1024, float64(proc.StatusKB(srv.pid(), "VmHWM"))/1024)
	return nil
}

// postWithFollowers runs the rounds of posting with followers and prints
// their rows.
func postWithFollowers(o options, srv *server, c *client, sk *sink) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	want := int64(o.posts * o.follow)
	var rates, signs, ratios []float64
	var lats []time.Duration
	for round := 1; round <= o.rounds; round++ {
		sign := measure.SignRate(key, runtime.GOMAXPROCS(0), o.signFor)
		before := sk.received.Load()
		t0 := time.Now()
		_, lat, err := c.postMany(o.posts, o.clients, fmt.Sprintf("round %d", round))
		if err != nil {
			return err
		}
		lats = append(lats, lat...)
		for deadline := time.Now().Add(5 * time.Minute); sk.received.Load() < before+want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				return fmt.Errorf("round %d: %d of %d deliveries arrived", round, sk.received.Load()-before, want)
			}
		}
		took := time.Duration(sk.lastAt.Load() - t0.UnixNano())
		rate := float64(o.posts) / took.Seconds()
		rates, signs = append(rates, rate), append(signs, sign)
		ratios = append(ratios, rate*float64(o.follow)/sign)
		log.Printf("round %d: %.1f statuses/s delivered to %d servers in %.2f s; signing %.0f/s", round, rate, o.follow, took.Seconds(), sign)
	}
	slices.Sort(lats)
	fmt.Printf("| api: POST /api/v1/statuses with %d follower servers, %d rounds of %d statuses by %d clients, to the last delivery; %d signatures checked, %d bad | %s statuses/s (median %.1f); POST p50 %s, p99 %s |\n",
		o.follow, o.rounds, o.posts, o.clients, sk.checked.Load(), sk.bad.Load(), measure.List(rates, "%.1f"), measure.Median(rates), pct(lats, 50), pct(lats, 99))
	fmt.Printf("| api: plain rsa.SignPKCS1v15 loop on %d goroutines, before each round | %s /s |\n", runtime.GOMAXPROCS(0), measure.List(signs, "%.0f"))
	fmt.Printf("| **api: deliveries per second of the posted statuses / signing loop** | %s, **median %.2f** |\n", measure.List(ratios, "%.2f"), measure.Median(ratios))
	fmt.Printf("| api: server RSS after the posts / peak | %.1f / %.1f MB |\n",
		float64(proc.StatusKB(srv.pid(), "VmRSS"))/1024, float64(proc.StatusKB(srv.pid(), "VmHWM"))/1024)
	return nil
}

// pct is the q-th percentile of sorted latencies, in milliseconds.
func pct(lat []time.Duration, q int) string {
	if len(lat) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f ms", float64(lat[len(lat)*q/100].Microseconds())/1000)
}

// server is a running `nuttx-feed serve`.
type server struct {
	cmd  *exec.Cmd
	addr string
}

// start serves dir without a rate limit or a build feed.
func start(bin, dir, token string) (*server, error) {
	cmd := exec.Command(bin, "serve", "--data", dir, "--base-url", base, "--listen", "127.0.0.1:0",
		"--rate-limit", "0", "--prometheus-url", "", "--allow-private-networks")
	addr, err := servetest.Start(cmd, 30*time.Second)
	if err != nil {
		return nil, err
	}
	return &server{cmd: cmd, addr: addr}, nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop stops the server and waits for it.
func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	s.cmd.Wait()
}

// client calls the API with a token.
type client struct {
	base, token string
	http        *http.Client
}

func newClient(addr, token string) *client {
	return &client{base: "http://" + addr, token: token,
		http: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
}

// do sends a request with the token and decodes a 200 answer into v.
func (c *client) do(method, path string, form url.Values, v any) error {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, b)
	}
	return json.Unmarshal(b, v)
}

// accountID is the id of the token's account.
func (c *client) accountID() (string, error) {
	var a struct{ ID string }
	err := c.do(http.MethodGet, "/api/v1/accounts/verify_credentials", nil, &a)
	return a.ID, err
}

// checkPage checks that path answers want statuses.
func (c *client) checkPage(path string, want int) error {
	var sts []struct{ ID string }
	if err := c.do(http.MethodGet, path, nil, &sts); err != nil {
		return err
	}
	if len(sts) != want {
		return fmt.Errorf("GET %s: %d statuses, want %d", path, len(sts), want)
	}
	return nil
}

// postMany posts n statuses with clients clients and returns their ids
// and the latencies of the POSTs, sorted.
func (c *client) postMany(n, clients int, label string) ([]string, []time.Duration, error) {
	var mu sync.Mutex
	var ids []string
	var lat []time.Duration
	var next atomic.Int64
	var firstErr error
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				var st struct{ ID string }
				form := url.Values{"status": {fmt.Sprintf("%s %d: rv-virt:citest - Build Failed #NuttX", label, i)}}
				t := time.Now()
				err := c.do(http.MethodPost, "/api/v1/statuses", form, &st)
				d := time.Since(t)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				ids, lat = append(ids, st.ID), append(lat, d)
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(lat)
	return ids, lat, firstErr
}

// sink is the follower servers: one listener per host, one handler.
type sink struct {
	inboxes          []string
	pub              *rsa.PublicKey
	received, lastAt atomic.Int64
	checked, bad     atomic.Int64
	srv              *http.Server
}

// newSink listens on n hosts 127.2.0.x:port.
func newSink(n, port int) (*sink, error) {
	sk := &sink{}
	sk.srv = &http.Server{Handler: http.HandlerFunc(sk.serve), ReadHeaderTimeout: 10 * time.Second}
	for i := range n {
		addr := fmt.Sprintf("127.2.%d.%d:%d", i/250, i%250+1, port)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			sk.close()
			return nil, fmt.Errorf("listen %s: %w", addr, err)
		}
		go sk.srv.Serve(ln)
		sk.inboxes = append(sk.inboxes, fmt.Sprintf("http://%s/users/f%d/inbox", addr, i))
	}
	return sk, nil
}

// serve takes a delivery; every 10th has its signature checked.
func (sk *sink) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	n := sk.received.Add(1)
	sk.lastAt.Store(time.Now().UnixNano())
	if n%10 == 0 && sk.pub != nil {
		sk.checked.Add(1)
		if err := measure.Verify(r, body, sk.pub); err != nil {
			sk.bad.Add(1)
			log.Printf("bad delivery: %v", err)
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

func (sk *sink) close() { sk.srv.Close() }
