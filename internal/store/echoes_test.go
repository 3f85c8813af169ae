package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// TestEchoesStore: the followed feed accounts among some names (not the
// bot, not those without followers, any case); a note keeps the note it
// echoes, and EchoesOf lists the echoes standing; lists of every actor's
// notes and the search leave echoes out; an account's thread of a target
// is stored and replaced.
func TestEchoesStore(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	ctx := context.Background()
	ids := map[string]int64{}
	err := db.Update(ctx, func(tx *store.Tx) error {
		for name, kind := range map[string]string{"nuttx_build": store.KindBot, "rv-virt.citest": store.KindTarget, "rv-virt": store.KindBoard,
			"arch.risc-v": store.KindArch, "sim": store.KindBoard} {
			if _, err := tx.CreateActor(&store.Actor{Username: name, Kind: kind, PrivateKeyPEM: "k", PublicKeyPEM: "k"}); err != nil {
				return err
			}
			a, err := tx.Actor(name)
			if err != nil {
				return err
			}
			ids[name] = a.ID
			if name != "arch.risc-v" { // it has no follower
				if err := tx.SaveFollower(store.Follower{ActorID: a.ID, IRI: "https://a.example/users/ann", Inbox: "https://a.example/users/ann/inbox"}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	var followed map[string]store.FollowedFeedAccount
	if err := db.View(ctx, func(tx *store.Tx) (err error) {
		followed, err = tx.FollowedFeedAccountsAmong([]string{"nuttx_build", "rv-virt.citest", "RV-VIRT", "arch.risc-v", "nobody"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(followed) != 2 || followed["rv-virt.citest"].ActorID != ids["rv-virt.citest"] || followed["rv-virt"].Kind != store.KindBoard {
		t.Errorf("followed among the names: %+v", followed)
	}

	now := time.Now()
	err = db.Update(ctx, func(tx *store.Tx) error {
		src := &store.Note{PublicID: "01", ActorID: ids["nuttx_build"], Content: "<p>boom</p>", Source: "boom", Published: now, Tags: []string{"NuttX"}}
		if err := tx.InsertNote(src); err != nil {
			return err
		}
		for i, name := range []string{"rv-virt.citest", "rv-virt"} {
			n := &store.Note{PublicID: "0" + string(rune('2'+i)), ActorID: ids[name], Content: "<p>boom</p>", Source: "boom", Published: now, Tags: []string{"NuttX"}, EchoOf: src.Seq}
			if err := tx.InsertNote(n); err != nil {
				return err
			}
		}
		if _, _, err := tx.DeleteNote(src.Seq+2, []byte("{}")); err != nil { // rv-virt's echo
			return err
		}
		echoes, err := tx.EchoesOf(src.Seq)
		if err != nil {
			return err
		}
		if len(echoes) != 1 || echoes[0].Username != "rv-virt.citest" || echoes[0].EchoOf != src.Seq {
			t.Errorf("echoes standing: %+v", echoes)
		}
		if none, err := tx.EchoesOf(echoes[0].Seq); err != nil || len(none) != 0 {
			t.Errorf("echoes of an echo: %v %v", none, err)
		}
		// An echo's source is the firehose note; a note that echoes none
		// has none, and an echo of a note gone is not found.
		if got, err := tx.EchoSource(echoes[0]); err != nil || got.Seq != src.Seq || got.Username != "nuttx_build" {
			t.Errorf("the source of the echo: %+v, %v", got, err)
		}
		for _, n := range []*store.Note{src, {PublicID: "x", EchoOf: src.Seq + 1000}} {
			if got, err := tx.EchoSource(n); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the source of %+v: %+v, %v", n, got, err)
			}
		}

		// Lists of every actor's notes and the search show the firehose's
		// note alone; an account's own list shows its echo.
		for _, f := range []store.NoteFilter{{Tag: "nuttx"}, {PublicOnly: true}, {ActorID: ids["rv-virt.citest"]}} {
			page, err := tx.Notes(f, store.Page{})
			if err != nil {
				return err
			}
			want := src.Seq
			if f.ActorID != 0 {
				want = echoes[0].Seq
			}
			if len(page.Notes) != 1 || page.Notes[0].Seq != want {
				t.Errorf("notes of %+v: %d, want note %d alone", f, len(page.Notes), want)
			}
		}
		found, err := tx.SearchNotes("boom", 1)
		if err != nil {
			return err
		}
		if len(found.Results) != 1 || found.Results[0].Note.Seq != src.Seq {
			t.Errorf("search found %d notes, want the firehose's alone", len(found.Results))
		}

		if _, err := tx.AccountThread(ids["rv-virt"], "rv-virt:citest"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a thread never set: %v", err)
		}
		for _, th := range []store.AccountThread{{Thread: "https://x/1", LastNote: "https://x/1"}, {Thread: "https://x/1", LastNote: "https://x/2"}} {
			if err := tx.SetAccountThread(ids["rv-virt"], "rv-virt:citest", th); err != nil {
				return err
			}
			if got, err := tx.AccountThread(ids["rv-virt"], "rv-virt:citest"); err != nil || got != th {
				t.Errorf("thread: %+v %v, want %+v", got, err, th)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
