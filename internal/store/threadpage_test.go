package store_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// TestThreadRepliesPage: a thread's local and remote replies come in the
// order published, a deleted local one and another thread's left out; a
// page holds what fits its byte budget (at least one reply), and the
// cursors lead through every reply exactly once.
func TestThreadRepliesPage(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	a := actor(t, db, "bot")
	const root, other = "https://bot.example/root", "https://bot.example/other"
	at := func(minute int) time.Time { return time.Date(2026, 11, 29, 10, minute, 0, 0, time.UTC) }
	big := "<p>" + strings.Repeat("x", 10_000) + "</p>"
	update(t, db, func(tx *store.Tx) error {
		for i, minute := range []int{1, 4, 6} {
			n := &store.Note{PublicID: fmt.Sprint("local", i), ActorID: a.ID, Content: fmt.Sprintf("<p>local %d</p>", minute), InReplyTo: root, Published: at(minute)}
			if minute == 6 {
				n.Content = big
			}
			if err := tx.InsertNote(n); err != nil {
				return err
			}
		}
		gone := &store.Note{PublicID: "gone", ActorID: a.ID, Content: "<p>gone</p>", InReplyTo: root, Published: at(5)}
		if err := tx.InsertNote(gone); err != nil {
			return err
		}
		if _, _, err := tx.DeleteNote(gone.Seq, []byte("{}")); err != nil {
			return err
		}
		for _, minute := range []int{2, 3, 7, 8} {
			r := remoteReply(fmt.Sprint("https://remote.example/n/", minute), "https://remote.example/users/alice", root, minute)
			if minute == 7 {
				r.Content = big
			}
			if err := tx.SaveRemoteReply(r); err != nil {
				return err
			}
		}
		return tx.SaveRemoteReply(remoteReply("https://remote.example/n/elsewhere", "https://remote.example/users/alice", other, 0))
	})
	// text gives a page's replies as "l1 r2 ...": local or remote, and the
	// minute each was published.
	text := func(p *store.ThreadPage) string {
		var out []string
		for _, it := range p.Items {
			if it.Note != nil {
				out = append(out, fmt.Sprint("l", it.Note.Published.Minute()))
			} else {
				out = append(out, fmt.Sprint("r", it.Remote.Published.Minute()))
			}
		}
		return strings.Join(out, " ")
	}
	page := func(after store.ThreadCursor, budget int) *store.ThreadPage {
		t.Helper()
		var p *store.ThreadPage
		err := db.View(t.Context(), func(tx *store.Tx) (err error) {
			p, err = tx.ThreadRepliesPage(root, after, budget)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := page(store.ThreadCursor{}, 1<<20); text(p) != "l1 r2 r3 l4 l6 r7 r8" || p.Next != nil {
		t.Fatalf("everything: %q (next %v), want l1 r2 r3 l4 l6 r7 r8 and no next page", text(p), p.Next)
	}
	// A budget of 11 KB holds the short replies or one long one.
	var got []string
	after := store.ThreadCursor{}
	for range 10 {
		p := page(after, 11_000)
		got = append(got, text(p))
		if p.Next == nil {
			break
		}
		after = *p.Next
	}
	if strings.Join(got, " | ") != "l1 r2 r3 l4 | l6 | r7 | r8" {
		t.Errorf("pages of 11 KB: %q", got)
	}
	// Under one reply's cost, a page still shows one.
	if p := page(store.ThreadCursor{}, 1); text(p) != "l1" || p.Next == nil {
		t.Errorf("a budget of one byte: %q, next %v", text(p), p.Next)
	}
	if p := page(store.ThreadCursor{At: at(9).UnixMilli()}, 1<<20); len(p.Items) != 0 || p.Next != nil {
		t.Errorf("after the last reply: %q", text(p))
	}
}
