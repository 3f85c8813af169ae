package server

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
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
}

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
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return errors.New(strings.Join(problems, "; "))
}

// profile is the bot's profile from cfg.
func (cfg *Config) profile() activitypub.Profile {
	return activitypub.Profile{Username: cfg.Username, DisplayName: cfg.DisplayName, Summary: cfg.Summary, Fields: profileFields}
}
