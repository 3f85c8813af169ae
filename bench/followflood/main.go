// Command followflood measures how the database grows under a follow flood
// and steady posting, with and without pruning (docs/BENCHMARKS.md):
// 1,000 remote actors each Follow and Undo the bot over and over (100,000
// Follows and 100,000 Undos in all), while the bot posts 20 notes a day to
// 1,000 other followers, over ten simulated days. The same signed requests
// go to two servers side by side in one process: one prunes after a
// three-day retention, one keeps everything. Deliveries are recorded as
// delivered without a network (their rows are what grows).
//
//	go run ./bench/followflood [-days 10] [-actors 1000] [-follows-per-day 10]
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/clock"
	"github.com/nuttx-feed/nuttx-feed/internal/fedtest"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/safehttp"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

const base = "https://nuttx-feed.org"

func main() {
	days := flag.Int("days", 10, "simulated days")
	actors := flag.Int("actors", 1000, "remote actors that follow and unfollow")
	perDay := flag.Int("follows-per-day", 10, "Follow+Undo pairs per actor per day")
	notes := flag.Int("notes-per-day", 20, "notes a day to the steady followers")
	steady := flag.Int("followers", 1000, "steady followers, each with a personal inbox")
	retention := flag.Duration("retention", 72*time.Hour, "retention of the pruning server")
	profile := flag.String("cpuprofile", "", "write a CPU profile here")
	flag.Parse()
	log.SetFlags(0)
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}

	// The remote actors' server: 1,000 actors over 16 keys (1024-bit, to
	// keep the signing of 200,000 requests short; key size does not change
	// what is stored).
	keys := make([]*rsa.PrivateKey, 16)
	for i := range keys {
		keys[i], _ = rsa.GenerateKey(rand.Reader, 1024)
	}
	var remote *httptest.Server
	remote = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var i int
		if _, err := fmt.Sscanf(r.URL.Path, "/users/a%d", &i); err != nil {
			http.NotFound(w, r)
			return
		}
		id := fmt.Sprintf("%s/users/a%d", remote.URL, i)
		w.Header().Set("Content-Type", "application/activity+json")
		json.NewEncoder(w).Encode(map[string]any{"id": id, "type": "Person", "inbox": id + "/inbox",
			"publicKey": map[string]any{"id": id + "#main-key", "owner": id, "publicKeyPem": fedtest.PublicKeyPEM(&keys[i%len(keys)].PublicKey)}})
	}))
	defer remote.Close()

	clk := clock.At(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	pruned := newServer("pruned", clk, *retention, *steady)
	kept := newServer("kept", clk, 100*365*24*time.Hour, *steady)
	defer os.RemoveAll(pruned.dir)
	defer os.RemoveAll(kept.dir)

	fmt.Println("| day | Follows + Undos so far | notes so far | database with pruning | database without |")
	fmt.Println("|---|---|---|---|---|")
	follows, posted := 0, 0
	for day := 1; day <= *days; day++ {
		for round := range *perDay {
			reqs := signRound(remote.URL, keys, *actors, fmt.Sprintf("d%d-r%d", day, round))
			for _, s := range []*server{pruned, kept} {
				for _, r := range reqs {
					if err := s.svc.HandleInbox(context.Background(), "", r); err != nil {
						log.Fatalf("%s: %v", s.name, err)
					}
				}
			}
			follows += *actors
		}
		for _, s := range []*server{pruned, kept} {
			for n := range *notes {
				s.post(fmt.Sprintf("day %d note %d", day, n))
			}
			s.deliverAll()
		}
		posted += *notes
		if _, err := pruned.svc.Prune(context.Background()); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("| %d | %d + %d | %d | %s | %s |\n", day, follows, follows, posted, mb(pruned.size()), mb(kept.size()))
		clk.Add(24 * time.Hour)
	}
}

// signRound signs one Follow and one Undo of it for every actor.
func signRound(remoteURL string, keys []*rsa.PrivateKey, actors int, tag string) []activitypub.InboundRequest {
	reqs := make([]activitypub.InboundRequest, 2*actors)
	var wg sync.WaitGroup
	work := make(chan int)
	for range runtime.NumCPU() {
		wg.Go(func() {
			for i := range work {
				id := fmt.Sprintf("%s/users/a%d", remoteURL, i)
				follow := map[string]any{"id": fmt.Sprintf("%s/follow/%s", id, tag), "type": "Follow", "actor": id, "object": base + "/users/nuttx_build"}
				undo := map[string]any{"id": fmt.Sprintf("%s/undo/%s", id, tag), "type": "Undo", "actor": id, "object": follow}
				reqs[2*i] = sign(follow, id+"#main-key", keys[i%len(keys)])
				reqs[2*i+1] = sign(undo, id+"#main-key", keys[i%len(keys)])
			}
		})
	}
	for i := range actors {
		work <- i
	}
	close(work)
	wg.Wait()
	return reqs
}

func sign(activity map[string]any, keyID string, key *rsa.PrivateKey) activitypub.InboundRequest {
	body, _ := json.Marshal(activity)
	req, _ := http.NewRequest(http.MethodPost, base+"/inbox", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/activity+json")
	if err := fedtest.SignAs(req, body, fedtest.Mastodon, keyID, key); err != nil {
		log.Fatal(err)
	}
	return activitypub.InboundRequest{Method: "POST", RequestURI: "/inbox", Header: req.Header, Body: body}
}

type server struct {
	name string
	dir  string
	st   *store.Store
	svc  *activitypub.Service
}

func newServer(name string, clk *clock.Settable, retention time.Duration, followers int) *server {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "followflood-"+name)
	if err != nil {
		log.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(dir, store.FileName), store.Options{Now: clk.Now})
	if err != nil {
		log.Fatal(err)
	}
	svc, err := activitypub.New(activitypub.Options{
		BaseURL: base, Store: st, FetchActor: "nuttx_build",
		Client:               safehttp.NewClient(safehttp.Options{AllowPrivateNetworks: true}),
		AllowPrivateNetworks: true,
		InboxRate:            activitypub.Rate{PerSecond: -1}, // the flood is the point
		Retention:            retention,
	})
	if err != nil {
		log.Fatal(err)
	}
	a, _, err := svc.EnsureActor(ctx, activitypub.Profile{Username: "nuttx_build", DisplayName: "NuttX Build"})
	if err != nil {
		log.Fatal(err)
	}
	err = st.Update(ctx, func(tx *store.Tx) error {
		for i := range followers {
			inbox := fmt.Sprintf("https://f%d.example/users/u/inbox", i)
			if err := tx.SaveFollower(store.Follower{ActorID: a.ID, IRI: inbox + "#actor", Inbox: inbox, FollowID: inbox + "#follow"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	return &server{name: name, dir: dir, st: st, svc: svc}
}

func (s *server) post(text string) {
	err := s.st.Update(context.Background(), func(tx *store.Tx) error {
		_, err := s.svc.Publish(tx, "nuttx_build", activitypub.Post{Content: richtext.Parse(text)})
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
}

// deliverAll records every queued delivery as delivered at once, with one
// attempt each, as a healthy network would.
func (s *server) deliverAll() {
	for {
		var n int
		err := s.st.Update(context.Background(), func(tx *store.Tx) error {
			rows, err := tx.ClaimDeliveries(store.Claim{Limit: 5000, PerDomain: 5000})
			if err != nil {
				return err
			}
			n = len(rows)
			out := make([]store.Outcome, len(rows))
			for i, d := range rows {
				out[i] = store.Outcome{Delivery: d, State: store.Delivered, Status: 202, Started: tx.Now, Elapsed: 40 * time.Millisecond}
			}
			return tx.RecordOutcomes(out)
		})
		if err != nil {
			log.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// size is the database file and its WAL.
func (s *server) size() int64 {
	var total int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(filepath.Join(s.dir, store.FileName+suffix)); err == nil {
			total += fi.Size()
		}
	}
	return total
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
