package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/nuttx-feed/nuttx-feed/feed"
)

const feedUsage = `Usage: nuttx-feed feed preview|status [flags]

  preview   runs the feed's query against Prometheus now and prints the posts that
            would be published, as text; changes nothing (for checking a new --query)
  status    lists the targets failing now, since when, and their thread URL

Run "nuttx-feed feed preview --help" for the flags.
`

// runFeed is `nuttx-feed feed preview|status`.
func runFeed(args []string, stdout, stderr io.Writer) int {
	sub, code, ok := subcommand("feed", feedUsage, []string{"preview", "status"}, args, stdout, stderr)
	if !ok {
		return code
	}
	var cfg Config
	cmd := newCommand("feed "+sub, &cfg)
	if err := cmd.parseAndCheck(args[1:], stdout, &cfg, ""); err != nil {
		return usageError(stderr, "feed "+sub, err)
	}
	if sub == "preview" && cfg.PrometheusURL == "" {
		return usageError(stderr, "feed preview", errors.New("--prometheus-url is empty: nothing to preview"))
	}
	ctx := context.Background()
	log, st, svc, ok := startCommand(ctx, &cfg, stderr)
	if !ok {
		return 1
	}
	defer st.Close()
	f, err := feed.New(cfg.feedConfig(), st, svc, log)
	if err != nil {
		return usageError(stderr, "feed "+sub, err)
	}
	if sub == "status" {
		return printStatus(ctx, f, stdout, log)
	}
	planned, err := f.Preview(ctx)
	if err != nil {
		log.Error("preview failed", "err", err)
		return 1
	}
	if len(planned) == 0 {
		fmt.Fprintln(stdout, "Nothing new to post.")
		return 0
	}
	for i, p := range planned {
		where := "a new thread"
		if p.InReplyTo != "" {
			where = "a reply to " + p.InReplyTo
		}
		fmt.Fprintf(stdout, "--- post %d of %d, by @%s, %s\n%s\n", i+1, len(planned), p.Username, where, p.Text)
	}
	return 0
}

func printStatus(ctx context.Context, f *feed.Feed, w io.Writer, log *slog.Logger) int {
	targets, err := f.Status(ctx)
	if err != nil {
		log.Error("cannot read the feed's state", "err", err)
		return 1
	}
	if len(targets) == 0 {
		fmt.Fprintln(w, "No target is failing.")
		return 0
	}
	fmt.Fprintf(w, "%d failing targets:\n", len(targets))
	for _, t := range targets {
		fmt.Fprintf(w, "%-40s since %s (%s ago)  hosts: %s\n    %s\n", t.Target, t.Since.Format(time.RFC3339),
			time.Since(t.Since).Round(time.Minute), strings.Join(t.Users, ", "), t.Thread)
	}
	return 0
}
