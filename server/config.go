package server

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/feed"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// Config is the configuration of nuttx-feed. Every field is a setting
// (settings.go): it comes from a flag, or else from its NUTTX_FEED_*
// environment variable, or else from the setting's default.
type Config struct {
	BaseURL              string
	Listen               string
	DataDir              string
	Username             string
	DisplayName          string
	Summary              string
	AllowPrivateNetworks bool
	TrustedProxies       string
	RateLimit            int
	InboxRate            int
	Retention            time.Duration
	LogFormat            string
	LogLevel             string
	MetricsListen        string
	MetricsToken         string
	AlertTemplate        string
	DatabaseURL          string

	// The Prometheus feed.
	PrometheusURL      string
	PollInterval       time.Duration
	Query              string
	PostRecoveries     bool
	BurstThreshold     int
	DashboardURL       string
	HistoryURLTemplate string
	MaxChars           int

	// given has bit i set when settings[i] came from its flag or its
	// environment variable rather than its default (see Config.given).
	given uint64
}

// isGiven reports whether the setting called name was given on the command
// line or in the environment: a stored identity yields only to those.
func (cfg *Config) isGiven(name string) bool {
	return cfg.given&(1<<settingIndex(name)) != 0
}

// Defaults of the bot's profile.
const (
	defaultDisplayName = "NuttX Build"
	defaultSummary     = "Failed builds of Apache #NuttX from the NuttX build farm, one thread per board:config target. A bot: follow it to get build failures in your timeline, or follow one board, target or architecture (see the directory)."
)

// dashboardField names the profile link that follows --dashboard-url.
const dashboardField = "NuttX Dashboard"

// directoryField names the profile link to the directory of the accounts
// of boards, targets and architectures (/targets).
const directoryField = "Follow one target"

// profileFields are the links on a new bot's profile: the dashboard that
// --dashboard-url names (when it names one), the sources, and the
// directory of the accounts that post one board's, target's or
// architecture's news (when the base URL is valid).
func (cfg *Config) profileFields() []store.Field {
	var fields []store.Field
	if cfg.DashboardURL != "" {
		fields = append(fields, store.Field{Name: dashboardField, URL: cfg.DashboardURL})
	}
	fields = append(fields,
		store.Field{Name: "Source", URL: "https://github.com/apache/nuttx"},
		store.Field{Name: "Apps", URL: "https://github.com/apache/nuttx-apps"})
	if site, err := urls.New(cfg.BaseURL); err == nil {
		fields = append(fields, store.Field{Name: directoryField, URL: site.Failing()})
	}
	return fields
}

// command is a subcommand's flag set: the settings it takes, in --help
// order, then its own flags.
type command struct {
	commandDef
	cfg      *Config // the Config its flags fill
	fs       *flag.FlagSet
	settings []setting
	extra    []extraFlag // command-specific flags, not in Config
}

// extraFlag is a command-specific flag (no environment variable).
type extraFlag struct{ name, meta, help string }

// newCommand fills cfg with every setting's default and returns the
// command called name ("serve", "feed preview", ...), with a flag for each
// setting it takes.
func newCommand(name string, cfg *Config) *command {
	c := &command{commandDef: commandNamed(name), cfg: cfg, fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	c.fs.SetOutput(io.Discard) // errors are reported by parse, in one line
	*cfg = defaultConfig()
	for _, s := range settings {
		if s.in&c.is != 0 {
			s.value.define(c.fs, s.name, s.help, cfg)
			c.settings = append(c.settings, s)
		}
	}
	return c
}

// addString adds a command-specific string flag, defaulting to *p.
func (c *command) addString(p *string, name, meta, help string) {
	c.fs.StringVar(p, name, *p, help)
	c.extra = append(c.extra, extraFlag{name: name, meta: meta, help: help})
}

// addBool adds a command-specific bool flag, defaulting to *p.
func (c *command) addBool(p *bool, name, help string) {
	c.fs.BoolVar(p, name, *p, help)
	c.extra = append(c.extra, extraFlag{name: name, help: help})
}

// addVar adds a command-specific flag of any flag.Value.
func (c *command) addVar(v flag.Value, name, meta, help string) {
	c.fs.Var(v, name, help)
	c.extra = append(c.extra, extraFlag{name: name, meta: meta, help: help})
}

// flagsGiven returns the command-specific flags given on the command line.
func (c *command) flagsGiven() map[string]bool {
	given := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) {
		for _, x := range c.extra {
			if x.name == f.Name {
				given[f.Name] = true
			}
		}
	})
	return given
}

// errHelp is returned by parse after printing the help text.
var errHelp = errors.New("help requested")

// parse reads args, then fills every setting not given on the command line
// from its environment variable. It prints the help to stdout for -h and
// returns one-line errors for anything wrong (every bad environment
// variable at once).
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
	var problems []string
	for _, s := range c.settings {
		if !set[s.name] {
			v, ok := os.LookupEnv(s.env)
			if !ok {
				continue
			}
			if err := c.fs.Set(s.name, v); err != nil {
				problems = append(problems, fmt.Sprintf("%s=%q: invalid value (%v)", s.env, v, err))
			}
		}
		c.cfg.given |= 1 << settingIndex(s.name)
	}
	return joinProblems(problems)
}

// parseAndCheck is parse, then the check of the positional arguments
// (exactly one, named by arg, or none when arg is "") and of cfg: every
// command starts with it.
func (c *command) parseAndCheck(args []string, stdout io.Writer, cfg *Config, arg string) error {
	if err := c.parse(args, stdout); err != nil {
		return err
	}
	switch n := c.fs.NArg(); {
	case arg != "" && n > 1 && strings.HasPrefix(c.fs.Arg(1), "-"): // flag's parsing stops at the first argument
		return fmt.Errorf("flags go before %s: nuttx-feed %s [flags]%s (%q came after it)", arg, c.name, c.args, c.fs.Arg(1))
	case arg == "" && n > 0:
		return fmt.Errorf("unexpected argument %q", c.fs.Arg(0))
	case arg != "" && n != 1:
		return fmt.Errorf("want exactly one %s argument", arg)
	}
	return cfg.validate()
}

func (c *command) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: nuttx-feed %s [flags]%s\n\n%s\n", c.name, c.args, c.about)
	if len(c.settings)+len(c.extra) == 0 {
		return
	}
	fmt.Fprintf(w, "\nFlags (each also read from its environment variable):\n")
	for _, s := range c.settings {
		printFlag(w, s.name, s.meta, s.help, fmt.Sprintf("(env %s, default %q)", s.env, s.value.defaultText()))
	}
	for _, f := range c.extra {
		printFlag(w, f.name, f.meta, f.help, "")
	}
}

// printFlag prints one flag of --help.
func printFlag(w io.Writer, name, meta, help, notes string) {
	left := "  --" + name
	if meta != "" {
		left += " " + meta
	}
	fmt.Fprintf(w, "%s\n      %s\n", left, help)
	if notes != "" {
		fmt.Fprintf(w, "      %s\n", notes)
	}
}

// validate reports every problem with cfg at once. Every setting is
// checked, whichever command runs: the ones it does not take hold their
// defaults, which are valid.
func (cfg *Config) validate() error {
	var problems []string
	for _, s := range settings {
		if p := s.value.problem(s.name, cfg); p != "" {
			problems = append(problems, p)
		}
	}
	return joinProblems(problems)
}

// joinProblems is nil, or one error listing problems sorted, on one line.
func joinProblems(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return errors.New(strings.Join(problems, "; "))
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

// profile is the profile that the flags give a new bot.
func (cfg *Config) profile() activitypub.Profile {
	return activitypub.Profile{Username: cfg.Username, DisplayName: cfg.DisplayName, Summary: cfg.Summary, Fields: cfg.profileFields()}
}

// inboxRate is --inbox-rate as the inbox's token bucket: bursts of 20
// seconds' worth; 0 means no limit.
func (cfg Config) inboxRate() activitypub.Rate {
	if cfg.InboxRate == 0 {
		return activitypub.Rate{PerSecond: -1}
	}
	return activitypub.Rate{PerSecond: float64(cfg.InboxRate), Burst: 20 * cfg.InboxRate}
}
