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
	"log"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nuttx-feed/nuttx-feed/bench/internal/load"
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

	ld := &load.Loader{Server: "http://" + listen, Host: host, Header: map[string]string{"Accept": "text/html,application/xhtml+xml"},
		Clients: o.clients, Duration: o.duration}
	pages := pagesOf(db)
	for i := range pages { // each answers 200 before the load
		if err := ld.Check(&pages[i]); err != nil {
			return err
		}
	}
	idle := proc.StatusKB(pid, "VmRSS")
	var results []load.Result
	for _, p := range append(pages, pages[0]) { // the baseline before and after the pages
		r := ld.Run(p)
		if len(r.Lat) == 0 {
			return fmt.Errorf("GET %s: no answer in %v", p.Path, o.duration)
		}
		results = append(results, r)
	}
	before, after := results[0], results[len(results)-1]
	ref := (before.RPS() + after.RPS()) / 2

	fmt.Printf("| pages: %d posts (%d polls of the real feed), %d targets (%d failing now), %d remote replies; %d clients, %v per page | |\n",
		db.Notes, db.Polls, db.Targets, db.FailingNow, db.Replies, o.clients, o.duration)
	fmt.Printf("| %s, before / after the pages | %.0f / %.0f /s; p99 %s / %s |\n", before.Page.Name, before.RPS(), after.RPS(), before.P(99), after.P(99))
	for _, r := range results[1 : len(results)-1] {
		fmt.Printf("| GET %s | %.0f /s%s (%.4f of the baseline); p50 %s, p99 %s; %d bytes |\n",
			r.Page.Name, r.RPS(), r.Failed(), r.RPS()/ref, r.P(50), r.P(99), r.Page.Bytes)
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

// pagesOf lists the pages: the baseline first.
func pagesOf(db *seeded) []load.Page {
	thread := strings.TrimPrefix(db.BusyThread, base)
	thread = strings.Replace(thread, "/users/"+username+"/statuses/", "/@"+username+"/", 1)
	search := func(q string) string { return "/search?q=" + url.QueryEscape(q) }
	return []load.Page{
		{Name: "pages: GET /health (the baseline)", Path: "/health"},
		{Name: "stylesheet /static/style.css", Path: "/static/style.css"},
		{Name: "profile page /@" + username + " (20 posts, the failing table)", Path: "/@" + username},
		{Name: fmt.Sprintf("profile page deep in the paging (?max_id=%d)", db.MiddleSeq), Path: fmt.Sprintf("/@%s?max_id=%d", username, db.MiddleSeq)},
		{Name: fmt.Sprintf("thread page with %d remote replies", db.Busy), Path: thread},
		{Name: fmt.Sprintf("target page %s (%d failures)", db.BusyTarget, db.BusyFailures), Path: "/targets/" + db.BusyTarget},
		{Name: "search page, a common word (error)", Path: search("error")},
		{Name: "search page, a rare word (tc397)", Path: search("tc397")},
		{Name: "search page, three words (implicit declaration riscv_exit.c)", Path: search("implicit declaration riscv_exit.c")},
	}
}
