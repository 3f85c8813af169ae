// Package server wires nuttx-feed together: configuration and commands,
// the database, the echo router and its handlers, and the lifecycle of the
// HTTP server and background workers. It is the only package that touches
// echo.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/safehttp"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// Version is set at build time with -ldflags "-X .../server.Version=v1.2.3".
var Version = "dev"

const mainUsage = `nuttx-feed: an ActivityPub bot that posts failed Apache NuttX builds to the Fediverse.

Usage: nuttx-feed COMMAND [flags]

Commands:
  serve          run the server (WebFinger, actor, inbox, outbox, delivery, the feed)
  post           publish a note from the command line and print its URL
  feed preview   run the feed's query now and print what it would post (changes nothing)
  feed status    list the targets failing now, since when, and their threads
  followers list|remove ACTOR
                 list the followers (handle, server, last delivery), or remove one: a
                 Reject of their Follow goes to their server
  block add|remove|list DOMAIN
                 block a server and its subdomains: followers removed, requests refused
  delete NOTE    delete a post: a Delete goes to every follower's server; its URL answers 410
  deliveries [--failed]
                 the delivery queue per server: pending, next attempt, breaker, last error
  deliveries retry HOST
                 send again what is held for a server whose deliveries kept failing
  profile show|set
                 print or change the bot's profile (name, bio, links, images, visibility)
  import mastodon
                 take over a Mastodon account: key, profile, followers, posts
  token create|list|revoke NAME
                 tokens for the API and the Alertmanager receiver (printed once, stored hashed)
  backup FILE    write a consistent copy of the database, while the server runs
  healthcheck    ask the local server for /health; exit 0 when it is healthy
  version        print the version

Run "nuttx-feed COMMAND --help" for the flags of a command.
`

// Main runs the nuttx-feed command line and returns the exit status:
// 0 success, 1 failure, 2 a usage error (bad command, flag or value).
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage)
		return 2
	}
	switch args[0] {
	case "serve":
		return runServe(args[1:], stdout, stderr)
	case "post":
		return runPost(args[1:], stdin, stdout, stderr)
	case "feed":
		return runFeed(args[1:], stdout, stderr)
	case "deliveries":
		return runDeliveries(args[1:], stdout, stderr)
	case "profile":
		return runProfile(args[1:], stdin, stdout, stderr)
	case "import":
		return runImport(args[1:], stdout, stderr)
	case "followers":
		return runFollowers(args[1:], stdout, stderr)
	case "block":
		return runBlock(args[1:], stdout, stderr)
	case "delete":
		return runDelete(args[1:], stdout, stderr)
	case "token":
		return runToken(args[1:], stdout, stderr)
	case "backup":
		return runBackup(args[1:], stdout, stderr)
	case "healthcheck":
		return runHealthcheck(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "nuttx-feed", Version)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, mainUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "nuttx-feed: unknown command %q (run nuttx-feed --help)\n", args[0])
		return 2
	}
}

// subcommand returns the subcommand of a command group (`nuttx-feed feed
// preview`): args[0] when it is one of subs. Otherwise it prints the
// group's usage (to stdout for --help, exit 0) or a mistake (exit 2), and
// returns ok false with the exit status.
func subcommand(group, usage string, subs []string, args []string, stdout, stderr io.Writer) (sub string, code int, ok bool) {
	switch {
	case len(args) == 0:
		fmt.Fprint(stderr, usage)
		return "", 2, false
	case slices.Contains(subs, args[0]):
		return args[0], 0, true
	case slices.Contains([]string{"-h", "-help", "--help", "help"}, args[0]):
		fmt.Fprint(stdout, usage)
		return "", 0, false
	}
	fmt.Fprintf(stderr, "nuttx-feed %s: unknown subcommand %q (%s)\n", group, args[0], strings.Join(subs, " or "))
	return "", 2, false
}

// usageError prints err as one line and returns the usage exit status.
func usageError(stderr io.Writer, cmd string, err error) int {
	if errors.Is(err, errHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "nuttx-feed %s: %s\n", cmd, strings.ReplaceAll(err.Error(), "\n", " "))
	return 2
}

func runServe(args []string, stdout, stderr io.Writer) int {
	var cfg Config
	cmd := newCommand("serve", &cfg)
	if err := cmd.parseAndCheck(args, stdout, &cfg, ""); err != nil {
		return usageError(stderr, "serve", err)
	}
	level, _ := logLevel(cfg.LogLevel) // validated above
	log := newLogger(cfg.LogFormat, stderr, level)
	if path := os.Getenv("NUTTX_FEED_CPUPROFILE"); path != "" { // for bench/: a CPU profile of the whole run
		stopProfile, err := startCPUProfile(path)
		if err != nil {
			log.Error("cannot profile", "err", err)
			return 1
		}
		defer stopProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := Open(ctx, cfg, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if err := s.Run(ctx); err != nil {
		log.Error("server stopped with an error", "err", err)
		return 1
	}
	return 0
}

func runPost(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var cfg Config
	var inReplyTo string
	cmd := newCommand("post", &cfg)
	cmd.addString(&inReplyTo, "in-reply-to", "ID", "reply to this note: a local note's id or URL, or any note URL (a remote note is fetched and its author mentioned)")
	if err := cmd.parseAndCheck(args, stdout, &cfg, "TEXT (or - for standard input)"); err != nil {
		return usageError(stderr, "post", err)
	}
	text := cmd.fs.Arg(0)
	if text == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
		if err != nil {
			fmt.Fprintf(stderr, "nuttx-feed post: reading standard input: %v\n", err)
			return 1
		}
		text = string(b)
	}
	if strings.TrimSpace(text) == "" {
		return usageError(stderr, "post", errors.New("the text is empty"))
	}
	ctx := context.Background()
	log, st, svc, ok := startCommand(ctx, &cfg, stderr)
	if !ok {
		return 1
	}
	defer st.Close()
	post := activitypub.Post{Content: richtext.Parse(text), InReplyTo: inReplyTo}
	if err := svc.ResolveMentions(ctx, &post); err != nil { // network first: no write lock held meanwhile
		if errors.Is(err, activitypub.ErrInvalid) {
			return usageError(stderr, "post", err)
		}
		fmt.Fprintf(stderr, "nuttx-feed post: %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return 1
	}
	var note *store.Note
	err := st.Update(ctx, func(tx *store.Tx) (err error) {
		note, err = svc.Publish(tx, cfg.Username, post)
		return err
	})
	if err != nil {
		if errors.Is(err, activitypub.ErrInvalid) || errors.Is(err, activitypub.ErrNotFound) {
			return usageError(stderr, "post", err)
		}
		log.Error("cannot publish", "err", err)
		return 1
	}
	fmt.Fprintln(stdout, svc.NoteIRI(note))
	return 0
}

func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// startCommand makes a one-off command's logger (warnings and errors: a
// command prints its result, not chatter) and opens the database and the
// federation core (no delivery: the running server does that). The
// database must exist: a command never creates one. cfg's base URL and
// username become the stored ones (adoptIdentity). When it cannot, it logs
// why and returns ok false.
func startCommand(ctx context.Context, cfg *Config, stderr io.Writer) (log *slog.Logger, st *store.Store, svc *activitypub.Service, ok bool) {
	log = newLogger(cfg.LogFormat, stderr, slog.LevelWarn)
	if !databaseExists(cfg.DataDir) { // a plain line: the operator pointed the command at the wrong folder
		fmt.Fprintf(stderr, "nuttx-feed: %v\n", errNoDatabase(cfg.DataDir))
		return log, nil, nil, false
	}
	st, svc, err := openForCommand(ctx, cfg, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return log, nil, nil, false
	}
	return log, st, svc, true
}

// openForCommand opens the existing database and the federation core for
// a one-off command, with the stored identity.
func openForCommand(ctx context.Context, cfg *Config, log *slog.Logger) (*store.Store, *activitypub.Service, error) {
	if !databaseExists(cfg.DataDir) {
		return nil, nil, errNoDatabase(cfg.DataDir)
	}
	st, err := openStore(ctx, cfg.DataDir, store.Options{})
	if err != nil {
		return nil, nil, err
	}
	if err := adoptIdentity(ctx, st, cfg, false); err != nil {
		st.Close()
		return nil, nil, err
	}
	svc, err := activitypub.New(activitypub.Options{BaseURL: cfg.BaseURL, Store: st, Logger: log, Version: Version,
		// post fetches what it mentions: signed GETs, through the server's kind of client.
		Client:     safehttp.NewClient(safehttp.Options{AllowPrivateNetworks: cfg.AllowPrivateNetworks}),
		FetchActor: cfg.Username, AllowPrivateNetworks: cfg.AllowPrivateNetworks})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, svc, nil
}

// newLogger returns a log/slog logger writing text or JSON to w.
func newLogger(format string, w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
