// Package load drives a server with closed-loop clients for the benchmark
// programs: each client sends its next request when the previous one is
// answered, for a fixed time, and the latencies of the 200 answers are kept.
package load

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Loader loads the server at Server (http://ADDR) with Clients clients.
type Loader struct {
	Server   string
	Host     string            // the Host header (the base URL's host); "" for the address's
	Header   map[string]string // sent with every request (Accept, Authorization)
	Clients  int
	Duration time.Duration
	once     sync.Once
	http     *http.Client
}

// Page is a URL to measure.
type Page struct {
	Name, Path string
	Bytes      int // the size of its answer, set by Check
}

// Result is what one page's load measured.
type Result struct {
	Page    Page
	Elapsed time.Duration
	Lat     []time.Duration // of the 200 answers, sorted
	Errors  int             // other answers and failed requests
}

// RPS is the 200 answers per second.
func (r Result) RPS() float64 { return float64(len(r.Lat)) / r.Elapsed.Seconds() }

// P is the q-th percentile of the latencies, in milliseconds.
func (r Result) P(q int) string {
	return fmt.Sprintf("%.1f ms", float64(r.Lat[len(r.Lat)*q/100].Microseconds())/1000)
}

// Failed says how many requests failed, if any did.
func (r Result) Failed() string {
	if r.Errors == 0 {
		return ""
	}
	return fmt.Sprintf(" (ERRORS: %d requests failed)", r.Errors)
}

// Get fetches path and returns the status and the size of the body.
func (l *Loader) Get(path string) (int, int, error) {
	l.once.Do(func() {
		l.http = &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 4 * l.Clients}}
	})
	req, err := http.NewRequest(http.MethodGet, l.Server+path, nil)
	if err != nil {
		return 0, 0, err
	}
	if l.Host != "" {
		req.Host = l.Host
	}
	for k, v := range l.Header {
		req.Header.Set(k, v)
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, int(n), err
}

// Check fetches p once: it must answer 200; it sets p.Bytes.
func (l *Loader) Check(p *Page) error {
	code, n, err := l.Get(p.Path)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("HTTP %d", code)
	}
	if err != nil {
		return fmt.Errorf("GET %s: %w", p.Path, err)
	}
	p.Bytes = n
	return nil
}

// Run loads p with l.Clients clients for l.Duration.
func (l *Loader) Run(p Page) Result {
	var mu sync.Mutex
	res := Result{Page: p}
	var wg sync.WaitGroup
	t0 := time.Now()
	deadline := t0.Add(l.Duration)
	for range l.Clients {
		wg.Go(func() {
			var lat []time.Duration
			errs := 0
			for time.Now().Before(deadline) {
				s := time.Now()
				code, _, err := l.Get(p.Path)
				if err != nil || code != http.StatusOK {
					errs++
					continue
				}
				lat = append(lat, time.Since(s))
			}
			mu.Lock()
			res.Lat, res.Errors = append(res.Lat, lat...), res.Errors+errs
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(t0)
	slices.Sort(res.Lat)
	return res
}
