package activitypub

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/eventually"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// TestWithdrawnProbeRearms: a probe claimed for a held host and
// given up (its note deleted) before it was sent must not leave the host
// without a next probe: the host's other held deliveries must still go.
func TestWithdrawnProbeRearms(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) {
		o.Delivery.Workers = 1
		o.Delivery.Backoff = []time.Duration{50 * time.Millisecond}
	})
	sink := newDownSink(t) // 127.0.0.1
	sink.down.Store(false) // it answers: any probe that goes closes the breaker
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.WriteHeader(202)
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	hangInbox := strings.Replace(hang.URL, "127.0.0.1", "localhost", 1) + "/inbox" // another domain
	a, _ := e.s.Actor(e.ctx, "nuttx_build")
	e.saveFollowers(
		store.Follower{ActorID: a.ID, IRI: sink.URL + "/x", Inbox: sink.URL + "/x/inbox", FollowID: sink.URL + "/x#f"},
		store.Follower{ActorID: a.ID, IRI: hangInbox + "#y", Inbox: hangInbox, FollowID: hangInbox + "#f"})
	if err := e.db.Update(e.ctx, func(tx *store.Tx) error { // 127.0.0.1 is held, its next probe far off
		return tx.SaveHost(store.Host{Domain: "127.0.0.1", State: store.HostHeld, Failures: 5, FailingSince: tx.Now, NextProbe: tx.Now.Add(time.Hour)})
	}); err != nil {
		t.Fatal(err)
	}
	first := e.publish("first") // to the sink: held; to localhost: hangs, taking the only worker
	e.runDelivery()
	eventually.True(t, 5*time.Second, "the only worker busy", func() bool {
		var n int
		e.db.SQL.QueryRow(`SELECT COUNT(*) FROM deliveries WHERE domain = 'localhost' AND claimed = 1`).Scan(&n)
		return n == 1
	})
	e.db.SQL.Exec(`UPDATE delivery_hosts SET next_probe_at = 0`) // the probe is due
	eventually.True(t, 5*time.Second, "the probe claimed", func() bool {
		var n int
		e.db.SQL.QueryRow(`SELECT COUNT(*) FROM deliveries WHERE domain = '127.0.0.1' AND claimed = 1`).Scan(&n)
		return n == 1
	})
	other, err := New(Options{BaseURL: testBase, Store: e.db.Store}) // the delete command
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.DeleteNote(e.ctx, first.PublicID); err != nil {
		t.Fatal(err)
	}
	close(release)
	second := e.publish("second") // held for 127.0.0.1 too
	// The Delete waits out the probe that was under way (inFlightGrace);
	// the second post must not wait for a restart.
	eventually.True(t, 10*time.Second, "the held host probed again and the second post delivered", func() bool {
		var delivered int
		e.db.SQL.QueryRow(`SELECT COUNT(*) FROM deliveries d JOIN activities a ON a.id = d.activity_id
			WHERE d.domain = '127.0.0.1' AND d.state = 'delivered' AND a.note_id = ?`, second.Seq).Scan(&delivered)
		return delivered == 1
	})
}
