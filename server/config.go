package server

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/feed"
)

// Config is the configuration of nuttx-feed. Every field comes from a flag,
// or else from its NUTTX_FEED_* environment variable, or else from the
// default in configFlags.
type Config struct {
	BaseURL              string
	Listen               string
	DataDir              string
	Username             string
	DisplayName          string
	Summary              string
	AllowPrivateNetworks bool
	LogFormat            string

	// The Prometheus feed.
	PrometheusURL      string
	PollInterval       time.Duration
	Query              string
	PostRecoveries     bool
	BurstThreshold     int
	DashboardURL       string
	HistoryURLTemplate string
	MaxChars           int
}

// Defaults of the bot's profile.
const (
	defaultDisplayName = "NuttX Build"
	defaultSummary     = "Failed builds of Apache #NuttX from the NuttX build farm, one thread per board:config target. A bot: follow it to get build failures in your timeline."
)

// profileFields are the links on the bot's profile.
var profileFields = []activitypub.Field{
	{Name: "NuttX Dashboard", URL: "https://nuttx-dashboard.org"},
	{Name: "Source", URL: "https://github.com/apache/nuttx"},
	{Name: "Apps", URL: "https://github.com/apache/nuttx-apps"},
}

// flagSpec describes one configuration flag.
type flagSpec struct {
	name, env, def, usage, meta string
	isBool                      bool
	field                       func(*Config) any // *string or *bool
}

var configFlags = map[string]flagSpec{
	"base-url": {name: "base-url", env: "NUTTX_FEED_BASE_URL", def: "http://localhost:8080", meta: "URL",
		usage: "public URL of this server; the only source of every id and link", field: func(c *Config) any { return &c.BaseURL }},
	"listen": {name: "listen", env: "NUTTX_FEED_LISTEN", def: "127.0.0.1:8080", meta: "ADDR",
		usage: "address to listen on", field: func(c *Config) any { return &c.Listen }},
	"data": {name: "data", env: "NUTTX_FEED_DATA", def: "./data", meta: "DIR",
		usage: "folder holding the SQLite database (created if missing)", field: func(c *Config) any { return &c.DataDir }},
	"username": {name: "username", env: "NUTTX_FEED_USERNAME", def: "nuttx_build", meta: "NAME",
		usage: "the bot's username", field: func(c *Config) any { return &c.Username }},
	"display-name": {name: "display-name", env: "NUTTX_FEED_DISPLAY_NAME", def: defaultDisplayName, meta: "TEXT",
		usage: "the bot's display name", field: func(c *Config) any { return &c.DisplayName }},
	"summary": {name: "summary", env: "NUTTX_FEED_SUMMARY", def: defaultSummary, meta: "TEXT",
		usage: "the bot's bio (plain text; links and #hashtags are linked)", field: func(c *Config) any { return &c.Summary }},
	"allow-private-networks": {name: "allow-private-networks", env: "NUTTX_FEED_ALLOW_PRIVATE_NETWORKS", def: "false", isBool: true,
		usage: "allow outgoing requests to loopback and private addresses (tests, intranets)", field: func(c *Config) any { return &c.AllowPrivateNetworks }},
	"log-format": {name: "log-format", env: "NUTTX_FEED_LOG_FORMAT", def: "text", meta: "FORMAT",
		usage: "log format: text or json", field: func(c *Config) any { return &c.LogFormat }},

	"prometheus-url": {name: "prometheus-url", env: "NUTTX_FEED_PROMETHEUS_URL", def: "http://localhost:9090", meta: "URL",
		usage: "Prometheus to poll for failed builds; empty disables the feed", field: func(c *Config) any { return &c.PrometheusURL }},
	"poll-interval": {name: "poll-interval", env: "NUTTX_FEED_POLL_INTERVAL", def: "30s", meta: "DURATION",
		usage: "how often to poll Prometheus", field: func(c *Config) any { return &c.PollInterval }},
	"query": {name: "query", env: "NUTTX_FEED_QUERY", def: feed.DefaultQuery, meta: "PROMQL",
		usage: "the PromQL query for failed builds (exclude build hosts or configs here)", field: func(c *Config) any { return &c.Query }},
	"post-recoveries": {name: "post-recoveries", env: "NUTTX_FEED_POST_RECOVERIES", def: "true", isBool: true,
		usage: "reply \"recovered\" when a failing target builds again", field: func(c *Config) any { return &c.PostRecoveries }},
	"burst-threshold": {name: "burst-threshold", env: "NUTTX_FEED_BURST_THRESHOLD", def: "10", meta: "N",
		usage: "more targets newly failing than this in one poll make one digest post", field: func(c *Config) any { return &c.BurstThreshold }},
	"dashboard-url": {name: "dashboard-url", env: "NUTTX_FEED_DASHBOARD_URL", def: feed.DefaultDashboardURL, meta: "URL",
		usage: "the NuttX dashboard linked from every post", field: func(c *Config) any { return &c.DashboardURL }},
	"history-url-template": {name: "history-url-template", env: "NUTTX_FEED_HISTORY_URL_TEMPLATE", def: feed.DefaultHistoryTemplate, meta: "URL",
		usage: "a target's build history page; {board} and {config} are replaced", field: func(c *Config) any { return &c.HistoryURLTemplate }},
	"max-chars": {name: "max-chars", env: "NUTTX_FEED_MAX_CHARS", def: "500", meta: "N",
		usage: "cut a failure post to this many characters, counted as Mastodon does (a link is 23)", field: func(c *Config) any { return &c.MaxChars }},
}

// feedFlags are the flags of the Prometheus feed, in --help order.
var feedFlags = []string{"prometheus-url", "poll-interval", "query", "post-recoveries", "burst-threshold",
	"dashboard-url", "history-url-template", "max-chars"}

// command is a subcommand's flag set plus the order its flags are shown in.
type command struct {
	fs    *flag.FlagSet
	name  string // "serve", "post", ...
	args  string // positional arguments in the usage line
	about string
	shown []string
	extra []flagSpec // command-specific flags, not in Config
}

func newCommand(name, args, about string, cfg *Config, flags ...string) *command {
	c := &command{fs: flag.NewFlagSet(name, flag.ContinueOnError), name: name, args: args, about: about, shown: flags}
	c.fs.SetOutput(io.Discard) // errors are reported by parse, in one line
	for _, n := range flags {
		spec := configFlags[n]
		switch p := spec.field(cfg).(type) {
		case *string:
			c.fs.StringVar(p, n, spec.def, spec.usage)
		case *bool:
			c.fs.BoolVar(p, n, spec.def == "true", spec.usage)
		case *int:
			def, _ := strconv.Atoi(spec.def)
			c.fs.IntVar(p, n, def, spec.usage)
		case *time.Duration:
			def, _ := time.ParseDuration(spec.def)
			c.fs.DurationVar(p, n, def, spec.usage)
		}
	}
	return c
}

// addString adds a command-specific string flag (no environment variable
// unless env is set).
func (c *command) addString(p *string, name, env, def, meta, usage string) {
	c.fs.StringVar(p, name, def, usage)
	c.extra = append(c.extra, flagSpec{name: name, env: env, def: def, meta: meta, usage: usage})
	c.shown = append(c.shown, name)
}

// errHelp is returned by parse after printing the help text.
var errHelp = errors.New("help requested")

// parse reads args, then fills every flag not given on the command line
// from its environment variable. It prints the help to stdout for -h and
// returns one-line errors for anything wrong.
func (c *command) parse(args []string, stdout io.Writer) error {
	if err := c.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(stdout)
			return errHelp
		}
		return err
	}
	set := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, name := range c.shown {
		spec := c.spec(name)
		if set[name] || spec.env == "" {
			continue
		}
		if v, ok := os.LookupEnv(spec.env); ok {
			if err := c.fs.Set(name, v); err != nil {
				return fmt.Errorf("%s=%q: invalid value (%v)", spec.env, v, err)
			}
		}
	}
	return nil
}

func (c *command) spec(name string) flagSpec {
	if s, ok := configFlags[name]; ok {
		return s
	}
	for _, s := range c.extra {
		if s.name == name {
			return s
		}
	}
	return flagSpec{name: name}
}

func (c *command) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: nuttx-feed %s [flags]%s\n\n%s\n", c.name, c.args, c.about)
	if len(c.shown) == 0 {
		return
	}
	fmt.Fprintf(w, "\nFlags (each also read from its environment variable):\n")
	for _, name := range c.shown {
		s := c.spec(name)
		left := "  --" + name
		if !s.isBool && s.meta != "" {
			left += " " + s.meta
		}
		fmt.Fprintf(w, "%s\n      %s\n", left, s.usage)
		var notes []string
		if s.env != "" {
			notes = append(notes, "env "+s.env)
		}
		if s.def != "" {
			notes = append(notes, fmt.Sprintf("default %q", s.def))
		}
		if len(notes) > 0 {
			fmt.Fprintf(w, "      (%s)\n", strings.Join(notes, ", "))
		}
	}
}

// validate reports every problem with cfg at once.
func (cfg *Config) validate() error {
	var problems []string
	if _, err := activitypub.NewURLs(cfg.BaseURL); err != nil {
		problems = append(problems, "--base-url: "+err.Error())
	}
	if cfg.Listen != "" {
		if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
			problems = append(problems, fmt.Sprintf("--listen %q: want HOST:PORT", cfg.Listen))
		}
	}
	if cfg.DataDir == "" {
		problems = append(problems, "--data is empty")
	}
	if !activitypub.ValidUsername(cfg.Username) {
		problems = append(problems, fmt.Sprintf("--username %q: use lower-case letters, digits and _ (with . or - between them)", cfg.Username))
	}
	if strings.TrimSpace(cfg.DisplayName) == "" {
		problems = append(problems, "--display-name is empty")
	}
	if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
		problems = append(problems, fmt.Sprintf("--log-format %q: want text or json", cfg.LogFormat))
	}
	problems = append(problems, cfg.validateFeed()...)
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return errors.New(strings.Join(problems, "; "))
}

// validateFeed checks the feed's settings (all of them have defaults, so
// zero values mean the feed flags were not registered for this command).
func (cfg *Config) validateFeed() []string {
	var problems []string
	if cfg.PrometheusURL != "" {
		if u, err := url.Parse(cfg.PrometheusURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("--prometheus-url %q: want an http(s) URL, or empty to disable the feed", cfg.PrometheusURL))
		}
	}
	if cfg.PollInterval != 0 && cfg.PollInterval < 100*time.Millisecond {
		problems = append(problems, fmt.Sprintf("--poll-interval %v: at least 100ms", cfg.PollInterval))
	}
	if cfg.BurstThreshold < 0 {
		problems = append(problems, fmt.Sprintf("--burst-threshold %d: must not be negative", cfg.BurstThreshold))
	}
	if cfg.MaxChars != 0 && cfg.MaxChars < 100 {
		problems = append(problems, fmt.Sprintf("--max-chars %d: at least 100 (a post has links and hashtags to keep)", cfg.MaxChars))
	}
	for name, v := range map[string]string{"--dashboard-url": cfg.DashboardURL, "--history-url-template": cfg.HistoryURLTemplate} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(strings.NewReplacer("{board}", "b", "{config}", "c").Replace(v)); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("%s %q: want an http(s) URL", name, v))
		}
	}
	return problems
}

// feedConfig is the feed's configuration from cfg.
func (cfg *Config) feedConfig() feed.Config {
	return feed.Config{
		PrometheusURL:  cfg.PrometheusURL,
		PollInterval:   cfg.PollInterval,
		Query:          cfg.Query,
		PostRecoveries: cfg.PostRecoveries,
		BurstThreshold: cfg.BurstThreshold,
		Username:       cfg.Username,
		Format: feed.Formatter{
			DashboardURL:    cfg.DashboardURL,
			HistoryTemplate: cfg.HistoryURLTemplate,
			MaxChars:        cfg.MaxChars,
		},
	}
}

// profile is the bot's profile from cfg.
func (cfg *Config) profile() activitypub.Profile {
	return activitypub.Profile{Username: cfg.Username, DisplayName: cfg.DisplayName, Summary: cfg.Summary, Fields: profileFields}
}
