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
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
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
	case cfg.DatabaseURL == "":
		return usageError(stderr, "import mastodon", errors.New("--database-url (or NUTTX_FEED_DATABASE_URL) is required: postgres://USER:PASSWORD@HOST/mastodon_production"))
	case !databaseExists(cfg.DataDir) && !cfg.isGiven("base-url"):
		return usageError(stderr, "import mastodon", errors.New("--base-url is required for a new database: the https://WEB_DOMAIN of the Mastodon server, under which its followers know the account"))
	}
	log := newLogger(cfg.LogFormat, stderr, slog.LevelWarn)
	// Interrupted, it still removes its scratch copy, which holds the key.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := importMastodon(ctx, cfg, apply, statuses, stdout); err != nil {
		log.Error("import failed", "err", err)
		return 1
	}
	return 0
}

// importMastodon reads the account from Mastodon and imports it first
// into a scratch copy of the database (a snapshot, read without touching
// the database, or a new one): what it reports is exactly what an import
// does, and whatever is refused is refused before the database is touched.
// With apply it then imports into the database, holding serve's lock.
func importMastodon(ctx context.Context, cfg Config, apply, statuses bool, out io.Writer) error {
	scratch, err := os.MkdirTemp("", "nuttx-feed-import-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch) // it holds the imported key
	if databaseExists(cfg.DataDir) {
		if err := store.Snapshot(ctx, dbFile(cfg.DataDir), dbFile(scratch)); err != nil {
			return err
		}
	}
	trial := cfg
	r, ex, im, report, err := importInto(ctx, scratch, &trial, statuses, nil)
	if err != nil {
		return err
	}
	if apply {
		if r, _, _, _, err = importInto(ctx, cfg.DataDir, &cfg, statuses, ex); err != nil {
			return err
		}
	}
	printImport(out, cfg.DataDir, trial, ex, im, report, r, apply)
	return nil
}

// importInto imports the account into the database in dir, which it
// locks (and creates if needed), settling cfg's identity with it. It
// reads Mastodon's export unless ex is given.
func importInto(ctx context.Context, dir string, cfg *Config, statuses bool, ex *mastodon.Export) (
	r activitypub.ImportResult, _ *mastodon.Export, im activitypub.Import, report importReport, err error) {
	t, err := openImportTarget(ctx, dir, cfg)
	if err != nil {
		return r, nil, im, report, err
	}
	defer t.close()
	if ex == nil {
		if ex, err = readMastodon(ctx, *cfg, statuses); err != nil {
			return r, nil, im, report, err
		}
	}
	if im, report, err = importOf(ex, cfg.Username); err != nil {
		return r, nil, im, report, err
	}
	svc, err := activitypub.New(activitypub.Options{BaseURL: cfg.BaseURL, Store: t.st, Version: Version})
	if err != nil {
		return r, nil, im, report, err
	}
	r, err = svc.ImportAccount(ctx, im, true)
	return r, ex, im, report, err
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
	db, err := mastodon.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.Read(ctx, mastodon.Request{Username: cfg.Username, BaseURL: cfg.BaseURL, Statuses: statuses})
}

// importReport is what importOf changed or left out of Mastodon's
// account, for the operator to know.
type importReport struct {
	fields     []skippedField // profile fields that are not NAME=URL links, or beyond the fourth
	nameCut    bool           // the display name was cut to MaxDisplayName
	bioCut     bool           // the bio was cut to MaxSummary
	badInboxes int            // followers whose inbox is no http(s) URL
	mediaOnly  int            // posts without text (their media stay behind)
}

// skippedField is a profile field of Mastodon that nuttx-feed cannot show.
type skippedField struct{ name, value string }

// importOf is what ex becomes in nuttx-feed, and what had to give.
func importOf(ex *mastodon.Export, username string) (activitypub.Import, importReport, error) {
	var rep importReport
	a := ex.Account
	if a.Username != username {
		return activitypub.Import{}, rep, fmt.Errorf("the Mastodon account is %q: its followers know /users/%s, and nuttx-feed's usernames are lower case", a.Username, a.Username)
	}
	priv, pub, err := a.KeyPair()
	if err != nil {
		return activitypub.Import{}, rep, err
	}
	name := strings.TrimSpace(a.DisplayName)
	if name == "" {
		name = a.Username
	}
	name, rep.nameCut = cut(name, activitypub.MaxDisplayName)
	bio, bioCut := cut(a.Note, activitypub.MaxSummary)
	rep.bioCut = bioCut
	im := activitypub.Import{
		Profile:       activitypub.Profile{Username: username, DisplayName: name, Summary: bio, Fields: []store.Field{}},
		PrivateKeyPEM: priv,
		PublicKeyPEM:  pub,
	}
	for _, f := range a.Fields {
		if v := strings.TrimSpace(f.Value); f.Name != "" && isHTTP(v) && len(im.Profile.Fields) < activitypub.MaxFields {
			im.Profile.Fields = append(im.Profile.Fields, store.Field{Name: f.Name, URL: v})
		} else {
			rep.fields = append(rep.fields, skippedField{f.Name, f.Value})
		}
	}
	for _, f := range ex.Followers {
		if !isHTTP(f.Inbox) || (f.SharedInbox != "" && !isHTTP(f.SharedInbox)) {
			rep.badInboxes++
			continue
		}
		im.Followers = append(im.Followers, store.Follower{IRI: f.ActorURI, Inbox: f.Inbox, SharedInbox: f.SharedInbox, FollowID: f.FollowURI, CreatedAt: f.CreatedAt})
	}
	for _, s := range ex.Statuses {
		if strings.TrimSpace(s.Text) == "" {
			rep.mediaOnly++
			continue
		}
		visibility := store.Public
		if s.Visibility == mastodon.Unlisted {
			visibility = store.Unlisted
		}
		im.Notes = append(im.Notes, activitypub.ImportedNote{ID: strconv.FormatInt(s.ID, 10), Text: s.Text, Published: s.CreatedAt,
			InReplyTo: s.InReplyTo, Visibility: visibility, Summary: s.SpoilerText, Sensitive: s.Sensitive})
	}
	return im, rep, nil
}

// cut returns s cut to at most n characters, and whether it was cut.
func cut(s string, n int) (string, bool) {
	if utf8.RuneCountInString(s) <= n {
		return s, false
	}
	return string([]rune(s)[:n]), true
}

// isHTTP reports whether s is an http(s) URL with a host.
func isHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// printImport reports what the import did (with apply) or would do.
func printImport(w io.Writer, dir string, cfg Config, ex *mastodon.Export, im activitypub.Import, rep importReport, r activitypub.ImportResult, apply bool) {
	site, _ := urls.New(cfg.BaseURL) // valid: the import went through
	a := ex.Account
	servers := map[string]bool{}
	for _, f := range im.Followers {
		servers[urls.DomainOf(f.IRI)] = true
	}
	fmt.Fprintf(w, "Mastodon account @%s (id %d, schema %s):\n", a.Username, a.ID, orNone(ex.SchemaVersion))
	fmt.Fprintf(w, "  key:        RSA, SHA-256 %s, signing as %s\n", keyFingerprint(im.PublicKeyPEM), site.KeyID(im.Profile.Username))
	fmt.Fprintf(w, "  profile:    %q, %d profile links\n", im.Profile.DisplayName, len(im.Profile.Fields))
	if rep.nameCut || rep.bioCut {
		fmt.Fprintf(w, "              cut to Mastodon's limits: display name %v, bio %v\n", rep.nameCut, rep.bioCut)
	}
	for _, f := range rep.fields {
		fmt.Fprintf(w, "              left out: field %q = %q (nuttx-feed's profile links are NAME=URL, at most %d)\n", f.name, f.value, activitypub.MaxFields)
	}
	fmt.Fprintf(w, "  followers:  %d on %d servers (left out: %d local, %d suspended, %d OStatus, %d incomplete, %d without an http(s) inbox)\n",
		len(im.Followers), len(servers), ex.Skipped.Local, ex.Skipped.Suspended, ex.Skipped.OStatus, ex.Skipped.Incomplete, rep.badInboxes)
	if ex.Statuses != nil {
		fmt.Fprintf(w, "  posts:      %d public and unlisted (left out: %d without text, whose media stay behind)\n", len(im.Notes), rep.mediaOnly)
	}
	if ex.LocalDomain != "" && ex.LocalDomain != site.Hostname() {
		fmt.Fprintf(w, "  warning:    Mastodon's handles end in @%s, nuttx-feed's in @%s: followers keep following (they follow %s), "+
			"but the handle changes unless %s answers WebFinger for nuttx-feed\n", ex.LocalDomain, site.Hostname(), site.Actor(im.Profile.Username), ex.LocalDomain)
	}
	bot := "key and profile already imported"
	switch {
	case r.ActorCreated:
		bot = "created with the imported key and profile"
	case r.KeyReplaced && r.ProfileChanged:
		bot = "its key and profile replaced by Mastodon's"
	case r.KeyReplaced:
		bot = "its key replaced by the imported one"
	case r.ProfileChanged:
		bot = "its profile replaced by Mastodon's"
	}
	verb := "Into"
	if !apply {
		verb = "Would write into"
	}
	fmt.Fprintf(w, "%s nuttx-feed (%s, %s):\n  the bot:    %s\n", verb, dir, site.Actor(im.Profile.Username), bot)
	if r.UpdateQueued > 0 {
		fmt.Fprintf(w, "              an Update of it to %d follower inboxes\n", r.UpdateQueued)
	}
	fmt.Fprintf(w, "  followers:  %d added, %d already here\n", r.FollowersAdded, r.FollowersKept)
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
