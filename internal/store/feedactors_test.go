package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// feedActorDB is a database with a firehose (nuttx_build, unlisted, with an
// avatar), one materialized feed account (rv-virt, public, with an avatar
// of its own that must never show) and the catalog of rv-virt:citest.
func feedActorDB(t *testing.T, identity bool) *storetest.DB {
	t.Helper()
	db := storetest.Open(t)
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		if identity {
			if _, err := tx.SetIdentity("https://feed.example", "nuttx_build"); err != nil {
				return err
			}
		}
		for _, a := range []*store.Actor{
			{Username: "nuttx_build", DisplayName: "NuttX Build", Visibility: store.Unlisted, PrivateKeyPEM: "k", PublicKeyPEM: "p"},
			{Username: "rv-virt", Kind: store.KindBoard, DisplayName: "rv-virt builds", PrivateKeyPEM: "k2", PublicKeyPEM: "p2"},
		} {
			if _, err := tx.CreateActor(a); err != nil {
				return err
			}
		}
		bot, err := tx.Actor("nuttx_build")
		if err != nil {
			return err
		}
		board, err := tx.Actor("rv-virt")
		if err != nil {
			return err
		}
		if err := tx.SetImage(bot.ID, store.Avatar, store.Image{ContentType: "image/png", Data: []byte("firehose")}); err != nil {
			return err
		}
		if err := tx.SetImage(board.ID, store.Avatar, store.Image{ContentType: "image/gif", Data: []byte("own")}); err != nil {
			return err
		}
		_, err = tx.SeeTargets([]store.CatalogTarget{{Target: "rv-virt:citest", Board: "rv-virt", Config: "citest", Arch: "risc-v"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestFeedActorsInheritTheFirehose: a feed account's actor reads the
// firehose's visibility and images, inside any transaction, and so do its
// image and the image of a feed account not materialized yet; the bot
// keeps its own; without an identity a feed account shows its own.
func TestFeedActorsInheritTheFirehose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := feedActorDB(t, true)
	err := db.View(ctx, func(tx *store.Tx) error {
		board, err := tx.Actor("RV-VIRT")
		if err != nil {
			return err
		}
		if board.Visibility != store.Unlisted || board.Avatar.ContentType != "image/png" || board.Header.ContentType != "" {
			t.Errorf("feed actor = visibility %q avatar %+v header %+v, want the firehose's (unlisted, png, none)", board.Visibility, board.Avatar, board.Header)
		}
		bot, err := tx.Actor("nuttx_build")
		if err != nil {
			return err
		}
		if bot.Visibility != store.Unlisted || bot.Avatar != board.Avatar {
			t.Errorf("bot = %q %+v, want unlisted with the avatar the feed actor shows (%+v)", bot.Visibility, bot.Avatar, board.Avatar)
		}
		byID, err := tx.ActorByID(board.ID)
		if err != nil {
			return err
		}
		if byID.Visibility != store.Unlisted || byID.Avatar != board.Avatar {
			t.Errorf("ActorByID = %q %+v, want as by name", byID.Visibility, byID.Avatar)
		}
		for _, name := range []string{"rv-virt", "rv-virt.citest", "arch.risc-v", "nuttx_build"} {
			img, err := tx.Image(name, store.Avatar)
			if err != nil {
				t.Errorf("Image(%s): %v", name, err)
			} else if string(img.Data) != "firehose" {
				t.Errorf("Image(%s) = %q, want the firehose's", name, img.Data)
			}
		}
		for _, c := range []struct{ name, kind string }{{"rv-virt", store.Header}, {"rv-virt.nsh", store.Avatar}, {"arch.arm", store.Avatar}, {"a/b", store.Avatar}} {
			if _, err := tx.Image(c.name, c.kind); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Image(%s, %s) = %v, want ErrNotFound", c.name, c.kind, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	alone := feedActorDB(t, false)
	err = alone.View(ctx, func(tx *store.Tx) error {
		board, err := tx.Actor("rv-virt")
		if err != nil {
			return err
		}
		if board.Visibility != store.Public || board.Avatar.ContentType != "image/gif" {
			t.Errorf("without an identity: %q %+v, want its own (public, gif)", board.Visibility, board.Avatar)
		}
		if _, err := tx.Image("rv-virt.citest", store.Avatar); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("template image without an identity: %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBlockRemovesFeedFollowers: blocking a server removes its followers
// of the feed accounts as well as of the bot, and no one else's.
func TestBlockRemovesFeedFollowers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := feedActorDB(t, true)
	err := db.Update(ctx, func(tx *store.Tx) error {
		for _, name := range []string{"nuttx_build", "rv-virt"} {
			a, err := tx.Actor(name)
			if err != nil {
				return err
			}
			for _, who := range []string{"https://blocked.example/users/a", "https://kept.example/users/b"} {
				if err := tx.SaveFollower(store.Follower{ActorID: a.ID, IRI: who, Inbox: who + "/inbox", FollowID: who + "#f-" + name}); err != nil {
					return err
				}
			}
		}
		b, _, err := tx.AddBlock("blocked.example")
		if err == nil && b.FollowersRemoved != 2 {
			t.Errorf("block removed %d followers, want 2 (of the bot and of rv-virt)", b.FollowersRemoved)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var left int
	db.SQL.QueryRow(`SELECT COUNT(*) FROM followers f JOIN actors a ON a.id = f.actor_id WHERE a.kind = 'board' AND f.follower LIKE 'https://kept.example/%'`).Scan(&left)
	if n := storetest.Count(t, db.SQL, "followers"); n != 2 || left != 1 {
		t.Errorf("%d followers left (%d of rv-virt on kept.example), want 2 (1)", n, left)
	}
}
