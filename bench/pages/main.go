// Command pages measures the web pages of the real binary on a database of
// a realistic size (docs/BENCHMARKS.md, issue 9): 10,000 posts made by the
// real feed from a simulated build farm (1,600 board:config targets, about
// 250 failing at the end), and 2,000 remote replies. It drives each page
// with C concurrent clients for a fixed time, one page after the other,
// between two runs of a baseline (GET /health) in the same run, and prints
// Markdown table rows: requests per second, their ratio to the baseline,
// p50, p99, bytes per page, and the server's memory.
//
//	go run ./bench/pages -bin ./nuttx-feed [-c 8] [-duration 10s] [-data DIR] [-cpuprofile FILE]
//
// With -data, the database is built in DIR once and reused by later runs
// (bench/compare.sh builds one per tree).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nuttx-feed/nuttx-feed/bench/internal/proc"
	"github.com/nuttx-feed/nuttx-feed/internal/servetest"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

const (
	host     = "nuttx-feed.test" // the base URL's host; requests go to the listen address
	base     = "https://" + host
	username = "nuttx_build"
	infoFile = "bench-pages.json" // what seed built, beside the database
)

// options are the command's flags.
type options struct {
	bin, data, cpuprofile string
	clients               int
	duration              time.Duration
	size                  size
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "./nuttx-feed", "nuttx-feed binary")
	flag.IntVar(&o.clients, "c", 8, "concurrent clients")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long each page is loaded")
	flag.StringVar(&o.data, "data", "", "data folder: built there once and reused (default: a temporary one)")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write the server's CPU profile of the whole run to this file")
	flag.IntVar(&o.size.posts, "posts", 10000, "posts in the database")
	flag.IntVar(&o.size.targets, "targets", 1600, "build targets of the farm")
	flag.IntVar(&o.size.replies, "replies", 2000, "remote replies")
	flag.IntVar(&o.size.busy, "busy", 150, "remote replies in the busiest thread")
	flag.Parse()
	log.SetFlags(0)
	if err := run(context.Background(), o); err != nil {
		log.Fatal("pages: ", err)
	}
}

// run builds or reads the database, starts the server on it, loads each
// page and prints the rows.
func run(ctx context.Context, o options) error {
	dir := o.data
	if dir == "" {
		tmp, err := os.MkdirTemp("", "nuttx-feed-pages-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	db, err := database(ctx, o.bin, dir, o.size)
	if err != nil {
		return err
	}

	cmd := exec.Command(o.bin, "serve", "--data", dir, "--base-url", base, "--listen", "127.0.0.1:0",
		"--rate-limit", "0", "--prometheus-url", "")
	if o.cpuprofile != "" {
		abs, err := filepath.Abs(o.cpuprofile)
		if err != nil {
			return err
		}
		cmd.Env = append(os.Environ(), "NUTTX_FEED_CPUPROFILE="+abs)
	}
	listen, err := servetest.Start(cmd, 30*time.Second)
	if err != nil {
		return err
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	pid := cmd.Process.Pid

	ld := &loader{server: "http://" + listen, clients: o.clients, duration: o.duration}
	pages := pagesOf(db)
	for i := range pages { // each answers 200 before the load
		if err := ld.check(&pages[i]); err != nil {
			return err
		}
	}
	idle := proc.StatusKB(pid, "VmRSS")
	var results []result
	for _, p := range append(pages, pages[0]) { // the baseline before and after the pages
		r := ld.run(p)
		if len(r.lat) == 0 {
			return fmt.Errorf("GET %s: no answer in %v", p.path, o.duration)
		}
		results = append(results, r)
	}
	before, after := results[0], results[len(results)-1]
	ref := (before.rps() + after.rps()) / 2

	fmt.Printf("| pages: %d posts (%d polls of the real feed), %d targets (%d failing now), %d remote replies; %d clients, %v per page | |\n",
		db.Notes, db.Polls, db.Targets, db.FailingNow, db.Replies, o.clients, o.duration)
	fmt.Printf("| %s, before / after the pages | %.0f / %.0f /s; p99 %s / %s |\n", before.page.name, before.rps(), after.rps(), before.p(99), after.p(99))
	for _, r := range results[1 : len(results)-1] {
		fmt.Printf("| GET %s | %.0f /s%s (%.4f of the baseline); p50 %s, p99 %s; %d bytes |\n",
			r.page.name, r.rps(), r.failed(), r.rps()/ref, r.p(50), r.p(99), r.page.bytes)
	}
	fmt.Printf("| pages: server RSS idle / after the load / peak | %.1f / %.1f / %.1f MB |\n",
		float64(idle)/1024, float64(proc.StatusKB(pid, "VmRSS"))/1024, float64(proc.StatusKB(pid, "VmHWM"))/1024)
	return nil
}

// database builds the database in dir, or reads what an earlier run built
// there.
func database(ctx context.Context, bin, dir string, sz size) (*seeded, error) {
	info := filepath.Join(dir, infoFile)
	if b, err := os.ReadFile(info); err == nil {
		db := &seeded{}
		return db, json.Unmarshal(b, db)
	}
	if _, err := os.Stat(filepath.Join(dir, store.FileName)); err == nil {
		return nil, fmt.Errorf("%s holds a database that this program did not build (no %s)", dir, infoFile)
	}
	db, err := seed(ctx, bin, dir, sz)
	if err != nil {
		return nil, fmt.Errorf("build the database: %w", err)
	}
	log.Printf("pages: database built in %v: %d notes, %d targets, %d failing, %d replies",
		db.Took.Round(time.Second), db.Notes, db.Targets, db.FailingNow, db.Replies)
	b, _ := json.Marshal(db)
	return db, os.WriteFile(info, b, 0o600)
}

// page is a URL to measure.
type page struct {
	name, path string
	bytes      int // the size of its answer
}

// pagesOf lists the pages: the baseline first.
func pagesOf(db *seeded) []page {
	thread := strings.TrimPrefix(db.BusyThread, base)
	thread = strings.Replace(thread, "/users/"+username+"/statuses/", "/@"+username+"/", 1)
	search := func(q string) string { return "/search?q=" + url.QueryEscape(q) }
	return []page{
		{name: "pages: GET /health (the baseline)", path: "/health"},
		{name: "stylesheet /static/style.css", path: "/static/style.css"},
		{name: "profile page /@" + username + " (20 posts, the failing table)", path: "/@" + username},
		{name: fmt.Sprintf("profile page deep in the paging (?max_id=%d)", db.MiddleSeq), path: fmt.Sprintf("/@%s?max_id=%d", username, db.MiddleSeq)},
		{name: fmt.Sprintf("thread page with %d remote replies", db.Busy), path: thread},
		{name: fmt.Sprintf("target page %s (%d failures)", db.BusyTarget, db.BusyFailures), path: "/targets/" + db.BusyTarget},
		{name: "search page, a common word (error)", path: search("error")},
		{name: "search page, a rare word (tc397)", path: search("tc397")},
		{name: "search page, three words (implicit declaration riscv_exit.c)", path: search("implicit declaration riscv_exit.c")},
	}
}

// loader loads the server with closed-loop clients.
type loader struct {
	server   string
	clients  int
	duration time.Duration
	http     *http.Client
}

// result is what one page's load measured.
type result struct {
	page    page
	elapsed time.Duration
	lat     []time.Duration // of the 200 answers, sorted
	errors  int             // other answers and failed requests
}

func (r result) rps() float64 { return float64(len(r.lat)) / r.elapsed.Seconds() }

// p is the q-th percentile of the latencies, in milliseconds.
func (r result) p(q int) string {
	return fmt.Sprintf("%.1f ms", float64(r.lat[len(r.lat)*q/100].Microseconds())/1000)
}

// failed says how many requests failed, if any did.
func (r result) failed() string {
	if r.errors == 0 {
		return ""
	}
	return fmt.Sprintf(" (ERRORS: %d requests failed)", r.errors)
}

// get fetches path as a browser would and returns the status and the size
// of the body.
func (l *loader) get(path string) (int, int, error) {
	if l.http == nil {
		l.http = &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 4 * l.clients}}
	}
	req, err := http.NewRequest(http.MethodGet, l.server+path, nil)
	if err != nil {
		return 0, 0, err
	}
	req.Host = host
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, err := l.http.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, int(n), err
}

// check fetches p once: it must answer 200; it sets p.bytes.
func (l *loader) check(p *page) error {
	code, n, err := l.get(p.path)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("HTTP %d", code)
	}
	if err != nil {
		return fmt.Errorf("GET %s: %w", p.path, err)
	}
	p.bytes = n
	return nil
}

// run loads p with l.clients clients for l.duration.
func (l *loader) run(p page) result {
	var mu sync.Mutex
	res := result{page: p}
	var wg sync.WaitGroup
	t0 := time.Now()
	deadline := t0.Add(l.duration)
	for range l.clients {
		wg.Go(func() {
			var lat []time.Duration
			errs := 0
			for time.Now().Before(deadline) {
				s := time.Now()
				code, _, err := l.get(p.path)
				if err != nil || code != http.StatusOK {
					errs++
					continue
				}
				lat = append(lat, time.Since(s))
			}
			mu.Lock()
			res.lat, res.errors = append(res.lat, lat...), res.errors+errs
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(t0)
	slices.Sort(res.lat)
	return res
}
