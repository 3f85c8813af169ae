package server

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/mastodon"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

const importUsage = `Usage: nuttx-feed import mastodon [flags]

  mastodon   takes over an account of a Mastodon server from its PostgreSQL database
             (read only): its key, profile, followers and, with --statuses, its posts

Run "nuttx-feed import mastodon --help" for the flags.
`

// runImport is `nuttx-feed import mastodon`.
func runImport(args []string, stdout, stderr io.Writer) int {
	if _, code, ok := subcommand("import", importUsage, []string{"mastodon"}, args, stdout, stderr); !ok {
		return code
	}
	var cfg Config
	var apply, statuses bool
	cmd := newCommand("import mastodon", &cfg)
	cmd.addBool(&apply, "apply", "write the import into the database; without it, print what it would do and change nothing")
	cmd.addBool(&statuses, "statuses", "also import the account's public and unlisted posts, which keep their URLs")
	if err := cmd.parseAndCheck(args[1:], stdout, &cfg, ""); err != nil {
		return usageError(stderr, "import mastodon", err)
	}
	switch {
	case cfg.MastodonDatabaseURL == "":
		return usageError(stderr, "import mastodon", errors.New("--mastodon-database-url (or NUTTX_FEED_MASTODON_DATABASE_URL) is required: postgres://USER:PASSWORD@HOST/mastodon_production"))
	case !databaseExists(cfg.DataDir) && !cfg.isGiven("base-url"):
		return usageError(stderr, "import mastodon", errors.New("--base-url is required for a new database: the https://WEB_DOMAIN of the Mastodon server, under which its followers know the account"))
	}
	log := newLogger(cfg.LogFormat, stderr, slog.LevelWarn)
	if err := importMastodon(context.Background(), cfg, apply, statuses, stdout); err != nil {
		log.Error("import failed", "err", err)
		return 1
	}
	return 0
}

// importMastodon reads the account from Mastodon, then writes it into
// the database, or with apply false reports what it would write. A
// database is made only once Mastodon's account was read (a refused import
// leaves nothing), and a dry run without one works on a scratch copy that
// it removes.
func importMastodon(ctx context.Context, cfg Config, apply, statuses bool, out io.Writer) error {
	var t *importTarget
	if databaseExists(cfg.DataDir) { // its stored base URL is the one to check Mastodon's against
		var err error
		if t, err = openImportTarget(ctx, cfg.DataDir, &cfg); err != nil {
			return err
		}
		defer t.close()
	}
	ex, err := readMastodon(ctx, cfg, statuses)
	if err != nil {
		return err
	}
	im, skipped, err := importOf(ex, cfg.Username)
	if err != nil {
		return err
	}
	if t == nil {
		dir := cfg.DataDir
		if !apply {
			scratch, err := os.MkdirTemp("", "nuttx-feed-import-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(scratch)
			dir = scratch
		}
		if t, err = openImportTarget(ctx, dir, &cfg); err != nil {
			return err
		}
		defer t.close()
	}
	svc, err := activitypub.New(activitypub.Options{BaseURL: cfg.BaseURL, Store: t.st, Version: Version})
	if err != nil {
		return err
	}
	r, err := svc.ImportAccount(ctx, im, apply)
	if err != nil {
		return err
	}
	printImport(out, svc.Site(), cfg.DataDir, ex, im, skipped, r, apply)
	return nil
}

// importTarget is the database an import writes into, locked as serve
// locks it: the import replaces the bot's key, which no server may be
// signing with meanwhile.
type importTarget struct {
	lock *os.File
	st   *store.Store
}

// openImportTarget locks and opens (creating it if needed) the database
// in dir, and settles cfg's identity with it.
func openImportTarget(ctx context.Context, dir string, cfg *Config) (_ *importTarget, err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	t := &importTarget{}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	if t.lock, err = lockDatabase(dir); err != nil {
		return nil, fmt.Errorf("%w (stop it first: the import replaces the bot's key)", err)
	}
	if t.st, err = openStore(ctx, dir, store.Options{}); err != nil {
		return nil, err
	}
	return t, adoptIdentity(ctx, t.st, cfg, true)
}

// close closes the store, then releases the lock (see lockDatabase).
func (t *importTarget) close() {
	if t.st != nil {
		t.st.Close()
	}
	if t.lock != nil {
		t.lock.Close()
	}
}

// readMastodon reads the account from Mastodon's database.
func readMastodon(ctx context.Context, cfg Config, statuses bool) (*mastodon.Export, error) {
	db, err := mastodon.Open(ctx, cfg.MastodonDatabaseURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.Read(ctx, mastodon.Request{Username: cfg.Username, BaseURL: cfg.BaseURL, Statuses: statuses})
}

// skippedField is a profile field of Mastodon that nuttx-feed cannot
// show: its links are name=URL.
type skippedField struct{ name, value string }

// importOf is what ex becomes in nuttx-feed, with the profile fields left
// out.
func importOf(ex *mastodon.Export, username string) (activitypub.Import, []skippedField, error) {
	a := ex.Account
	if a.Username != username {
		return activitypub.Import{}, nil, fmt.Errorf("the Mastodon account is %q: its followers know /users/%s, and nuttx-feed's usernames are lower case", a.Username, a.Username)
	}
	priv, pub, err := a.KeyPair()
	if err != nil {
		return activitypub.Import{}, nil, err
	}
	name := strings.TrimSpace(a.DisplayName)
	if name == "" {
		name = a.Username
	}
	if utf8.RuneCountInString(name) > activitypub.MaxDisplayName {
		name = string([]rune(name)[:activitypub.MaxDisplayName])
	}
	im := activitypub.Import{
		Profile:       activitypub.Profile{Username: username, DisplayName: name, Summary: a.Note, Fields: []store.Field{}},
		PrivateKeyPEM: priv,
		PublicKeyPEM:  pub,
	}
	var skipped []skippedField
	for _, f := range a.Fields {
		if v := strings.TrimSpace(f.Value); f.Name != "" && (strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://")) &&
			len(im.Profile.Fields) < activitypub.MaxFields {
			im.Profile.Fields = append(im.Profile.Fields, store.Field{Name: f.Name, URL: v})
		} else {
			skipped = append(skipped, skippedField{f.Name, f.Value})
		}
	}
	for _, f := range ex.Followers {
		im.Followers = append(im.Followers, store.Follower{IRI: f.ActorURI, Inbox: f.Inbox, SharedInbox: f.SharedInbox, FollowID: f.FollowURI, CreatedAt: f.CreatedAt})
	}
	for _, s := range ex.Statuses {
		text := s.Text
		if s.SpoilerText != "" { // nuttx-feed's notes have no content warning: it heads the text
			text = "CW: " + s.SpoilerText + "\n\n" + text
		}
		visibility := store.Public
		if s.Visibility == mastodon.Unlisted {
			visibility = store.Unlisted
		}
		im.Notes = append(im.Notes, activitypub.ImportedNote{ID: strconv.FormatInt(s.ID, 10), Text: text, Published: s.CreatedAt,
			InReplyTo: s.InReplyTo, Visibility: visibility})
	}
	return im, skipped, nil
}

// printImport reports what the import did (or, without apply, would do).
func printImport(w io.Writer, site urls.Site, dir string, ex *mastodon.Export, im activitypub.Import, skipped []skippedField, r activitypub.ImportResult, apply bool) {
	a := ex.Account
	servers := map[string]bool{}
	for _, f := range ex.Followers {
		servers[urls.DomainOf(f.ActorURI)] = true
	}
	fmt.Fprintf(w, "Mastodon account @%s (id %d, schema %s):\n", a.Username, a.ID, orNone(ex.SchemaVersion))
	fmt.Fprintf(w, "  key:        RSA, SHA-256 %s, signing as %s\n", keyFingerprint(im.PublicKeyPEM), site.KeyID(im.Profile.Username))
	fmt.Fprintf(w, "  profile:    %q, %d profile links\n", im.Profile.DisplayName, len(im.Profile.Fields))
	for _, f := range skipped {
		fmt.Fprintf(w, "              left out: field %q = %q (nuttx-feed's profile links are NAME=URL, at most %d)\n", f.name, f.value, activitypub.MaxFields)
	}
	fmt.Fprintf(w, "  followers:  %d on %d servers (left out: %d local, %d suspended, %d OStatus, %d incomplete)\n",
		len(ex.Followers), len(servers), ex.Skipped.Local, ex.Skipped.Suspended, ex.Skipped.OStatus, ex.Skipped.Incomplete)
	if ex.Statuses != nil {
		fmt.Fprintf(w, "  posts:      %d public and unlisted\n", len(ex.Statuses))
	}
	bot := "updated"
	switch {
	case r.ActorCreated:
		bot = "created with the imported key"
	case r.KeyReplaced:
		bot = "its key replaced by the imported one"
	case !r.ProfileChanged:
		bot = "already imported: key and profile unchanged"
	}
	verb := "Into"
	if !apply {
		verb = "Would write into"
	}
	fmt.Fprintf(w, "%s nuttx-feed (%s, %s):\n  the bot:    %s", verb, dir, site.Actor(im.Profile.Username), bot)
	if r.ProfileChanged && !r.ActorCreated {
		fmt.Fprint(w, ", profile taken from Mastodon")
	}
	fmt.Fprintf(w, "\n  followers:  %d added, %d already here\n", r.FollowersAdded, r.FollowersKept)
	if ex.Statuses != nil {
		fmt.Fprintf(w, "  posts:      %d added, %d already here\n", r.NotesAdded, r.NotesKept)
	}
	if !apply {
		fmt.Fprintln(w, "Dry run: nothing was written. Run again with --apply to import.")
		return
	}
	fmt.Fprintln(w, "Imported. Start nuttx-feed serve and point the tunnel at it: the next post goes to every follower, signed with the imported key.")
}

// keyFingerprint is the SHA-256 of a PEM public key's DER, in hex.
func keyFingerprint(pemText string) string {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return "?"
	}
	if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		return "?"
	}
	sum := sha256.Sum256(block.Bytes)
	return fmt.Sprintf("%x", sum[:8])
}
