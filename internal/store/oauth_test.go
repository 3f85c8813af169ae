package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// TestAppsAreBounded: past store.MaxApps apps, registering is refused
// with ErrTooMany; a day later the apps that never got a token are gone
// and registering works again, while an app with a token stays.
func TestAppsAreBounded(t *testing.T) {
	t.Parallel()
	st, clk, _, update := clockedStore(t)
	register := func(i int) error {
		return st.Update(t.Context(), func(tx *store.Tx) error {
			return tx.RegisterApp(&store.App{ClientID: fmt.Sprint("c", i), Name: "app", RedirectURIs: []string{"urn:ietf:wg:oauth:2.0:oob"}, Scopes: "read"}, "secret")
		})
	}
	for i := range store.MaxApps {
		if err := register(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := register(store.MaxApps); !errors.Is(err, store.ErrTooMany) {
		t.Fatalf("app %d: %v, want ErrTooMany", store.MaxApps+1, err)
	}
	update(func(tx *store.Tx) error {
		a, err := tx.AppByClientID("c0")
		if err != nil {
			return err
		}
		_, err = tx.CreateAppToken(store.Token{Name: "app-app", Scopes: "read"}, "nfd_used", a.ID)
		return err
	})
	clk.Add(25 * time.Hour)
	if err := register(store.MaxApps); err != nil {
		t.Fatalf("a day later: %v", err)
	}
	update(func(tx *store.Tx) error {
		if _, err := tx.AppByClientID("c0"); err != nil {
			t.Errorf("the app with a token: %v", err)
		}
		if _, err := tx.AppByClientID("c1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an unused app a day later: %v, want ErrNotFound", err)
		}
		return nil
	})
}

// TestCodes: a code is taken once, not after it expired, and a wrong
// client secret does not check.
func TestCodes(t *testing.T) {
	t.Parallel()
	st, clk, _, update := clockedStore(t)
	var app store.App
	update(func(tx *store.Tx) error {
		app = store.App{ClientID: "cid", Name: "Tusky", RedirectURIs: []string{"tusky://oauth"}, Scopes: "read write"}
		return tx.RegisterApp(&app, "secret")
	})
	create := func(code string) {
		update(func(tx *store.Tx) error {
			return tx.CreateCode(store.Code{AppID: app.ID, Scopes: "read", RedirectURI: "tusky://oauth", Expires: clk.Now().Add(10 * time.Minute)}, code)
		})
	}
	take := func(code string) (store.Code, error) {
		var c store.Code
		err := st.Update(t.Context(), func(tx *store.Tx) (err error) { c, err = tx.TakeCode(code); return err })
		return c, err
	}
	create("one")
	if c, err := take("one"); err != nil || c.AppID != app.ID || c.Scopes != "read" || c.RedirectURI != "tusky://oauth" {
		t.Errorf("take: %+v %v", c, err)
	}
	if _, err := take("one"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("taken twice: %v, want ErrNotFound", err)
	}
	create("two")
	clk.Add(10 * time.Minute)
	if _, err := take("two"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired code: %v, want ErrNotFound", err)
	}
	update(func(tx *store.Tx) error {
		if _, err := tx.CheckApp("cid", "wrong"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a wrong secret: %v", err)
		}
		if a, err := tx.CheckApp("cid", "secret"); err != nil || a.Name != "Tusky" {
			t.Errorf("the right secret: %+v %v", a, err)
		}
		return nil
	})
}
