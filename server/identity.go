package server

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// The identity (base URL and username) is fixed by the first serve (or
// import) and kept in the database; every later command takes it from
// there. A flag or environment variable may repeat it, never change it.

// errNoDatabase is why a command other than serve and import stops on a
// data folder without a database: it never makes a new bot with a new key
// because of a mistyped --data. It says where to point the command: most
// often it ran outside the service's folder (docs/deploy.md).
func errNoDatabase(dir string) error {
	return fmt.Errorf("no nuttx-feed database in %s; pass --data DIR or set NUTTX_FEED_DATA to the service's data folder "+
		"(or run the command beside the service, as docs/deploy.md shows), or run serve first to make one", dir)
}

// adoptIdentity settles cfg's base URL and username with the identity
// stored in st. When none is stored, formerIdentity makes one (serve and
// import, with create, store it). A base URL or username given on the
// command line or in the environment that differs from the stored one is
// refused with the reason.
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
		given := cfg.isGiven("base-url")
		if create {
			err = st.Update(ctx, func(tx *store.Tx) (err error) {
				if id, err = formerIdentity(tx, site, given, cfg.Username); err != nil {
					return err
				}
				id, err = tx.SetIdentity(id.BaseURL, id.Username)
				return err
			})
		} else {
			err = st.View(ctx, func(tx *store.Tx) (err error) {
				id, err = formerIdentity(tx, site, given, "")
				return err
			})
		}
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

// formerIdentity is the identity of a database that has none stored: an
// older one, whose activities tell the base URL it published under (the
// given one when some of them used it, as a post without --base-url could
// mint an id under the default; else the most used), or a new one, which
// takes cfg's (username "" means that a new database is an error). Only
// serve and import store it: another command's defaults never become an
// identity.
func formerIdentity(tx *store.Tx, site urls.Site, given bool, username string) (*store.Identity, error) {
	bases, former, err := tx.FormerIdentity()
	if err != nil {
		return nil, err
	}
	if former != "" {
		username = former
	}
	if username == "" {
		return nil, errors.New("this database has no bot yet; run serve first")
	}
	base := site.Base()
	if len(bases) > 0 && (!given || !slices.Contains(bases, base)) {
		base = bases[0]
	}
	return &store.Identity{BaseURL: base, Username: username}, nil
}
