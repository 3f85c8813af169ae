package store_test

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// TestTargetHistory: a target's history lists its failures, recoveries
// and breaks newest first within the limit, counts every failure by
// build host, and sums its ended incidents, each from its first failure to
// its recovery; another target's rows stay out.
func TestTargetHistory(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(sec int, fn func(tx *store.Tx) error) {
		t.Helper()
		if err := db.Update(context.Background(), func(tx *store.Tx) error {
			tx.Now = start.Add(time.Duration(sec) * time.Second)
			return fn(tx)
		}); err != nil {
			t.Fatal(err)
		}
	}
	fail := func(sec int, target, user, hash string) {
		at(sec, func(tx *store.Tx) error {
			_, err := tx.ClaimFailure(store.FailureID{Target: target, User: user, NuttxHash: hash}, store.FailureRecord{Score: 1, URL: "https://log/" + hash, Msg: "error " + hash + strings.Repeat("é", 2000), Note: "note-" + hash})
			return err
		})
	}
	recovered := func(sec int, target string) {
		at(sec, func(tx *store.Tx) error {
			return tx.EndIncident(store.Recovery{Target: target, User: "a", NuttxHash: "r"})
		})
	}
	fail(0, "b:c", "a", "1")
	fail(10, "b:c", "b", "2")
	fail(20, "other:c", "a", "x")
	recovered(60, "b:c") // 60 s
	fail(100, "b:c", "a", "3")
	recovered(130, "b:c")      // 30 s
	fail(200, "b:c", "a", "4") // ongoing: not an ended incident
	at(210, func(tx *store.Tx) error {
		_, err := tx.ClaimBreak(store.BreakID{Target: "b:c", BadNuttx: "bad"}, "good", "", "note-break")
		return err
	})

	var h *store.TargetHistory
	if err := db.View(context.Background(), func(tx *store.Tx) (err error) {
		h, err = tx.TargetHistory("b:c", 3)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if h.Incidents != 2 || h.FailedFor != 90*time.Second {
		t.Errorf("%d incidents lasting %v, want 2 lasting 1m30s", h.Incidents, h.FailedFor)
	}
	if h.FailureCount != 4 || len(h.Failures) != 3 || h.Failures[0].NuttxHash != "4" || h.Failures[2].NuttxHash != "2" {
		t.Errorf("failures: %d in all, listed %+v; want 4, the last 3 newest first", h.FailureCount, h.Failures)
	}
	if f := h.Failures[0]; f.URL != "https://log/4" || f.Note != "note-4" || !f.Seen.Equal(start.Add(200*time.Second)) ||
		!strings.HasPrefix(f.Msg, "error 4é") || utf8.RuneCountInString(f.Msg) != 1024 || !utf8.ValidString(f.Msg) {
		t.Errorf("the latest failure: %+v", f)
	}
	if len(h.Hosts) != 2 || h.Hosts[0].User != "a" || h.Hosts[0].Failures != 3 || h.Hosts[1].User != "b" || h.Hosts[1].Failures != 1 {
		t.Errorf("hosts: %+v", h.Hosts)
	}
	if len(h.Recoveries) != 2 || !h.Recoveries[0].Seen.Equal(start.Add(130*time.Second)) {
		t.Errorf("recoveries: %+v", h.Recoveries)
	}
	if len(h.Breaks) != 1 || h.Breaks[0].BadNuttx != "bad" || h.Breaks[0].GoodNuttx != "good" || h.Breaks[0].Note != "note-break" {
		t.Errorf("breaks: %+v", h.Breaks)
	}

	var last map[string]store.TargetFailure
	var logs map[string]string
	if err := db.View(context.Background(), func(tx *store.Tx) (err error) {
		if last, err = tx.LastFailures([]string{"b:c", "other:c", "none:c"}); err != nil {
			return err
		}
		logs, err = tx.LastFailureURLs([]string{"b:c", "other:c", "none:c"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(last) != 2 || last["b:c"].NuttxHash != "4" || last["other:c"].NuttxHash != "x" {
		t.Errorf("last failures: %+v", last)
	}
	if len(logs) != 2 || logs["b:c"] != last["b:c"].URL || logs["other:c"] != last["other:c"].URL || logs["b:c"] != "https://log/4" {
		t.Errorf("last failure URLs: %q", logs)
	}
}

// TestTargetHistoryOfUnknownTarget: a target without rows has an empty
// history, not an error.
func TestTargetHistoryOfUnknownTarget(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	if err := db.View(context.Background(), func(tx *store.Tx) error {
		h, err := tx.TargetHistory("none:c", 10)
		if err == nil && (h.FailureCount != 0 || h.Incidents != 0 || h.FailedFor != 0 || len(h.Hosts) != 0) {
			t.Errorf("history of nothing: %+v", h)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
