package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// windowedClaimSQL is the claim as one SQL statement (a window function
// ranks each domain's rows; a join applies the rooms), as it was written
// before the rooms moved to Go: the oracle of TestClaimAsTheWindowedSQL.
const windowedClaimSQL = `SELECT id FROM (
		SELECT w.id, w.next_attempt_at,
		       ROW_NUMBER() OVER (PARTITION BY w.domain ORDER BY w.next_attempt_at, w.id) AS nth,
		       COALESCE(r.room, ?1) AS room
		FROM (SELECT id, domain, next_attempt_at FROM deliveries
		      WHERE state = 'pending' AND claimed = 0 AND next_attempt_at <= ?2
		        AND domain NOT IN (SELECT value->>0 FROM json_each(?3) WHERE value->>1 <= 0)
		        AND domain NOT IN (SELECT domain FROM delivery_hosts WHERE state <> 'failing')
		      ORDER BY next_attempt_at, id LIMIT ?4) w
		LEFT JOIN (SELECT value->>0 AS domain, value->>1 AS room FROM json_each(?3)) r ON r.domain = w.domain)
	WHERE nth <= room ORDER BY nth, next_attempt_at, id LIMIT ?5`

// errRollback undoes a trial's claim.
var errRollback = errors.New("rollback")

// TestClaimAsTheWindowedSQL: on a random queue (600 rows over 60 domains,
// some claimed, failed, held or failing), with 40 random clocks, limits
// and rooms, the claim takes exactly the rows the windowed SQL selects.
func TestClaimAsTheWindowedSQL(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	a := actor(t, db, "bot")
	act := &store.Activity{IRI: "https://bot.example/1", ActorID: a.ID, Type: "Create", Body: []byte("{}")}
	update(t, db, func(tx *store.Tx) error {
		if err := tx.InsertActivity(act); err != nil {
			return err
		}
		for i := range 600 {
			if err := tx.QueueDelivery(act.ID, fmt.Sprintf("https://h%d.d%d.example/inbox", i, i%60), ""); err != nil {
				return err
			}
		}
		return nil
	})
	for _, q := range []string{
		`UPDATE deliveries SET next_attempt_at = abs(random()) % 1000, claimed = CASE WHEN abs(random()) % 10 = 0 THEN 1 ELSE 0 END`,
		`UPDATE deliveries SET state = 'failed' WHERE abs(random()) % 10 = 0`,
		`INSERT INTO delivery_hosts (domain, state, failures, failing_since, probes, changed_at)
			VALUES ('d7.example', 'held', 5, 0, 0, 0), ('d8.example', 'failing', 2, 0, 0, 0)`,
	} {
		if _, err := db.SQL.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 40 {
		c := store.Claim{Limit: 1 + r.IntN(100), PerDomain: r.IntN(5), Room: map[string]int{}}
		if trial%10 != 0 { // every tenth: no rooms at all
			for d := range 60 {
				if r.IntN(3) == 0 {
					c.Room[fmt.Sprintf("d%d.example", d)] = r.IntN(8) - 3
				}
			}
		}
		var rooms [][2]any
		for d, n := range c.Room {
			rooms = append(rooms, [2]any{d, n})
		}
		roomJSON, _ := json.Marshal(rooms)
		now := r.IntN(1100)
		want := oracleClaim(t, db, c.PerDomain, now, string(roomJSON), 4*c.Limit, c.Limit)

		var got []int64
		err := db.Update(t.Context(), func(tx *store.Tx) error {
			tx.Now = time.UnixMilli(int64(now)).UTC()
			claimed, err := tx.ClaimDeliveries(c)
			for _, d := range claimed {
				got = append(got, d.ID)
			}
			if err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d (limit %d, per domain %d, %d rooms, now %d): claimed %d rows, the windowed SQL %d",
				trial, c.Limit, c.PerDomain, len(c.Room), now, len(got), len(want))
		}
	}
}

// oracleClaim runs windowedClaimSQL and returns the ids it selects, sorted.
func oracleClaim(t *testing.T, db *storetest.DB, args ...any) []int64 {
	t.Helper()
	rows, err := db.SQL.Query(windowedClaimSQL, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
