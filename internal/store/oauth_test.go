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
	authorize := func(clientID string) {
		update(func(tx *store.Tx) error {
			a, err := tx.AppByClientID(clientID)
			if err != nil {
				return err
			}
			_, err = tx.CreateAppToken(store.Token{Name: "app-app", Scopes: "read"}, "nfd_"+clientID, a.ID)
			return err
		})
	}
	for i := range store.MaxApps {
		if err := register(i); err != nil {
			t.Fatal(err)
		}
	}
	authorize("c0")
	update(func(tx *store.Tx) error { return tx.SetAppToken(mustApp(t, tx, "c1").ID, "nfa_client") }) // its own token: no authorization
	// A full table: the oldest app never authorized (c1) makes room.
	if err := register(store.MaxApps); err != nil {
		t.Fatalf("app %d: %v", store.MaxApps+1, err)
	}
	update(func(tx *store.Tx) error {
		if _, err := tx.AppByClientID("c0"); err != nil {
			t.Errorf("the authorized app: %v", err)
		}
		if _, err := tx.AppByClientID("c1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the oldest app never authorized: %v, want it gone", err)
		}
		return nil
	})
	clk.Add(25 * time.Hour)
	if err := register(store.MaxApps + 1); err != nil {
		t.Fatalf("a day later: %v", err)
	}
	update(func(tx *store.Tx) error {
		if _, err := tx.AppByClientID("c0"); err != nil {
			t.Errorf("the app with a token: %v", err)
		}
		if _, err := tx.AppByClientID("c2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an unused app a day later: %v, want ErrNotFound", err)
		}
		return nil
	})
	// Only authorized apps: the table is full for good, until the
	// operator revokes some.
	for i := range store.MaxApps - 2 {
		if err := register(2000 + i); err != nil {
			t.Fatal(err)
		}
		authorize(fmt.Sprint("c", 2000+i))
	}
	authorize(fmt.Sprint("c", store.MaxApps+1))
	if err := register(9999); !errors.Is(err, store.ErrTooMany) {
		t.Errorf("%d authorized apps and one more: %v, want ErrTooMany", store.MaxApps, err)
	}
}

// mustApp is the app clientID.
func mustApp(t *testing.T, tx *store.Tx, clientID string) *store.App {
	t.Helper()
	a, err := tx.AppByClientID(clientID)
	if err != nil {
		t.Fatal(err)
	}
	return a
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

// TestTokenKinds: a token given to an app is KindApp, one of token create
// KindOperator; an app's client_credentials token is listed as
// KindClient under "nfa:" and its id, and RevokeToken of that name ends
// it (once: then there is none; a name with no app id is none either).
func TestTokenKinds(t *testing.T) {
	t.Parallel()
	st, _, _, update := clockedStore(t)
	app := store.App{ClientID: "c", Name: "Elk", RedirectURIs: []string{"urn:ietf:wg:oauth:2.0:oob"}, Scopes: "read"}
	update(func(tx *store.Tx) error {
		if err := tx.RegisterApp(&app, "secret"); err != nil {
			return err
		}
		if err := tx.CreateToken(store.Token{Name: "ci", Scopes: "read"}, "nfd_ci"); err != nil {
			return err
		}
		if _, err := tx.CreateAppToken(store.Token{Name: "app-elk", Scopes: "read"}, "nfd_elk", app.ID); err != nil {
			return err
		}
		return tx.SetAppToken(app.ID, "nfa_elk")
	})
	client := fmt.Sprint(store.ClientTokenPrefix, app.ID)
	kinds := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		update(func(tx *store.Tx) error {
			tokens, err := tx.Tokens()
			for _, tk := range tokens {
				out[tk.Name] = tk.Kind + " " + tk.App
			}
			return err
		})
		return out
	}
	want := map[string]string{"ci": "operator ", "app-elk-1": "app ", client: "client Elk"}
	if got := kinds(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Tokens: %v, want %v", got, want)
	}
	if tk, err := st.CheckToken(t.Context(), "nfd_elk"); err != nil || tk.Kind != store.KindApp {
		t.Errorf("CheckToken of the app's token: %+v %v, want KindApp", tk, err)
	}
	update(func(tx *store.Tx) error {
		for name, want := range map[string]bool{client: true, store.ClientTokenPrefix + "x": false} {
			if ok, err := tx.RevokeToken(name); ok != want || err != nil {
				t.Errorf("RevokeToken(%s) = %v %v, want %v", name, ok, err, want)
			}
		}
		if ok, err := tx.RevokeToken(client); ok || err != nil {
			t.Errorf("RevokeToken(%s) again = %v %v, want false", client, ok, err)
		}
		if _, err := tx.AppByToken("nfa_elk"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the revoked client token still finds its app: %v", err)
		}
		return nil
	})
	delete(want, client)
	if got := kinds(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Tokens after revoking %s: %v, want %v", client, got, want)
	}
}
