package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// The identity (base URL and username) is fixed by the first serve (or
// import) and kept in the database; every later command takes it from
// there. A flag or environment variable may repeat it, never change it.

// errNoDatabase is why a command other than serve and import stops on a
// data folder without a database: it never makes a new bot with a new key
// because of a mistyped --data.
func errNoDatabase(dir string) error {
	return fmt.Errorf("no nuttx-feed database in %s; run serve first", dir)
}

// adoptIdentity settles cfg's base URL and username with the identity
// stored in st. When none is stored, a database made before identities
// were kept gives its own (its first actor and the host of its first
// activity); otherwise, with create (serve, import), cfg's is stored, and
// without it the database has no bot yet: an error. A base URL or username
// given on the command line or in the environment that differs from the
// stored one is refused with the reason.
func adoptIdentity(ctx context.Context, st *store.Store, cfg *Config, create bool) error {
	site, err := urls.New(cfg.BaseURL)
	if err != nil {
		return err
	}
	var id *store.Identity
	err = st.View(ctx, func(tx *store.Tx) (err error) {
		id, err = tx.Identity()
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		err = st.Update(ctx, func(tx *store.Tx) (err error) {
			id, err = storeIdentity(tx, site, cfg.Username, create)
			return err
		})
	}
	if err != nil {
		return err
	}
	if cfg.isGiven("base-url") && site.Base() != id.BaseURL {
		return fmt.Errorf("--base-url %s: this database belongs to %s, the base URL of every id it has published and of every follow it holds; "+
			"the Fediverse cannot move an actor to another URL, so nuttx-feed keeps it (leave --base-url out, or start a new bot in another --data folder)",
			site.Base(), id.BaseURL)
	}
	if cfg.isGiven("username") && cfg.Username != id.Username {
		return fmt.Errorf("--username %s: this database's bot is %s, and an actor cannot be renamed on the Fediverse (leave --username out)",
			cfg.Username, id.Username)
	}
	cfg.BaseURL, cfg.Username = id.BaseURL, id.Username
	return nil
}

// storeIdentity stores the identity of a database that has none, in tx:
// see adoptIdentity.
func storeIdentity(tx *store.Tx, site urls.Site, cfgUsername string, create bool) (*store.Identity, error) {
	base, username, err := tx.FormerIdentity()
	if err != nil {
		return nil, err
	}
	if username == "" && !create {
		return nil, errors.New("this database has no bot yet; run serve first")
	}
	if base == "" {
		base = site.Base()
	}
	if username == "" {
		username = cfgUsername
	}
	return tx.SetIdentity(base, username)
}
