package server

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/feed"
)

// Every setting of nuttx-feed is declared once, in settings: its flag, its
// environment variable, its typed default, its help, its check and the
// commands that take it. The flags, the environment fallback, the defaults,
// --help and the validation of a Config are all made from that table, and
// settings_test.go holds README.md's configuration tables to it.

// cmdSet is a set of the commands that take settings.
type cmdSet uint16

const (
	cmdServe cmdSet = 1 << iota
	cmdPost
	cmdFeedPreview
	cmdFeedStatus
	cmdDeliveriesRetry
	cmdBackup
	cmdHealthcheck
	cmdProfileSet // profile set
	cmdImport     // import mastodon
	cmdAdmin      // followers, block, delete, deliveries (list), token: they read and change the database only

	cmdAll  = cmdServe | cmdPost | cmdFeedPreview | cmdFeedStatus | cmdDeliveriesRetry
	cmdFeed = cmdServe | cmdFeedPreview // commands that run the feed's query
)

// commandDef is a command's entry in commands: the usage line and the text
// of its --help.
type commandDef struct {
	name  string // as typed: "serve", "feed preview", ...
	is    cmdSet
	args  string // positional arguments in the usage line
	about string
}

var commands = []commandDef{
	{name: "serve", is: cmdServe, about: "Runs the server: WebFinger, the bot's actor, inbox, outbox and followers, the\n" +
		"delivery of its posts to followers, and the feed that polls Prometheus for failed builds."},
	{name: "post", is: cmdPost, args: " TEXT", about: "Publishes TEXT (\"-\" reads it from standard input) as a note of the bot, through the\n" +
		"same path as the server's own posts, and prints its URL. Blank lines separate\n" +
		"paragraphs; URLs and #hashtags become links; @user@host mentions that account, found\n" +
		"by WebFinger (the post fails, storing nothing, when a handle cannot be found). It works\n" +
		"while the server runs (same database): the server delivers the note within a few\n" +
		"seconds, to the followers and to every account mentioned."},
	{name: "feed preview", is: cmdFeedPreview, about: "Runs the feed's query against Prometheus now and prints the posts that would be\n" +
		"published, as text, each with the account that would post it (the bot, or a followed board,\n" +
		"target or arch account repeating it). Changes nothing: use it to check a new --query."},
	{name: "feed status", is: cmdFeedStatus, about: "Lists the targets failing now (from the feed's state), since when, and their thread URL."},
	{name: "deliveries retry", is: cmdDeliveriesRetry, args: " HOST", about: "Closes the delivery breaker of HOST's server (a host name, or an inbox URL): the deliveries\n" +
		"held or parked after its repeated failures go out again, and it is judged afresh. A server that\n" +
		"signs a request to us is revived the same way. It works while the server runs (same database)."},
	{name: "deliveries list", is: cmdAdmin, about: "Shows the delivery queue per server (registrable domain): deliveries pending, the next attempt,\n" +
		"the breaker's state (closed; failing, with the failures in a row; held, with its next probe; or\n" +
		"parked) and the last error. With --failed, only the servers whose deliveries fail now (an open\n" +
		"breaker, a failed last attempt, or deliveries waiting for a retry). \"nuttx-feed deliveries\" alone\n" +
		"is this command. It works while the server runs (same database)."},
	{name: "followers list", is: cmdAdmin, about: "Lists the followers of every account (the bot and the accounts of boards, targets and\n" +
		"architectures): their handle (@user@host; the actor id when their username is\n" +
		"not known), actor id, server, since when they follow, and the last delivery tried to them\n" +
		"(delivered, failing with its error, failed, or none). It works while the server runs (same\n" +
		"database)."},
	{name: "followers remove", is: cmdAdmin, args: " ACTOR", about: "Removes the follower ACTOR (an actor id, or a handle @user@host as followers list shows\n" +
		"it): a Reject of their Follow goes to their server, nothing more is delivered to them, and\n" +
		"what was queued to inboxes no other follower uses is given up. They may follow again: block\n" +
		"their server to stop that. It works while the server runs (same database): the server sends\n" +
		"the Reject within a second."},
	{name: "block add", is: cmdAdmin, args: " DOMAIN", about: "Blocks the server DOMAIN (a host name, an IP address or a URL) with its whole registrable\n" +
		"domain: social.example.org blocks example.org and every subdomain. Its followers are\n" +
		"removed (without a Reject: nothing is sent to a blocked server), what was queued to it is\n" +
		"given up, its signed requests get 401 before anything is fetched, and nothing is fetched\n" +
		"from it. A running server applies it at once."},
	{name: "block remove", is: cmdAdmin, args: " DOMAIN", about: "Lifts the block of DOMAIN. The followers the block removed must follow again."},
	{name: "block list", is: cmdAdmin, about: "Lists the blocked servers: the domain, since when, and how many followers the block removed."},
	{name: "delete", is: cmdAdmin, args: " NOTE", about: "Deletes the note NOTE (its id, or its URL): a Delete with a Tombstone goes to every\n" +
		"follower's server, as its Create did, and what was still queued of the note is given up.\n" +
		"Its URL then answers 410 Gone, its page says it was deleted, the outbox leaves it out, and\n" +
		"replies to it stay. Deleting a note again sends nothing. It works while the server runs\n" +
		"(same database)."},
	{name: "token create", is: cmdAdmin, args: " NAME", about: "Makes a token for the API and the Alertmanager receiver, named NAME (lower-case letters,\n" +
		"digits, ., _ and -; a new name), and prints it once: only its SHA-256 is stored. It may do\n" +
		"what its --scopes grant (default read,write: a script that posts and reads what it posted)\n" +
		"and acts as the bot, or as the local account --account names (posts as it)."},
	{name: "token list", is: cmdAdmin, about: "Lists the tokens: name, when made, when last used (to the minute), scopes and account\n" +
		"(never the tokens themselves)."},
	{name: "token revoke", is: cmdAdmin, args: " NAME", about: "Deletes the token NAME: it works no more."},
	{name: "backup", is: cmdBackup, args: " FILE", about: "Writes a consistent copy of the database to FILE (a new file, readable by you only: it holds\n" +
		"the bot's private key), while the server runs. To restore: stop serve, put the copy in the data\n" +
		"folder as nuttx-feed.db (removing any nuttx-feed.db-wal and nuttx-feed.db-shm), start serve."},
	{name: "profile show", is: cmdProfileSet, about: "Prints the bot's profile as stored in the database: display name, bio, profile links,\n" +
		"avatar, header and the visibility of its posts."},
	{name: "profile set", is: cmdProfileSet, about: "Changes the bot's profile in the database and, when anything changed, queues one Update\n" +
		"of it to every follower's server (the server delivers it; it works while the server runs).\n" +
		"Only the flags given change: for example\n" +
		"  nuttx-feed profile set --display-name \"NuttX Build\" --avatar logo.png --visibility unlisted"},
	{name: "import mastodon", is: cmdImport, about: "Takes over an account of a Mastodon server, reading its PostgreSQL database (read only): its\n" +
		"RSA key (followers' servers keep trusting what the bot signs), profile and remote followers\n" +
		"(they get the next post without following again) and, with --statuses, its public and\n" +
		"unlisted posts, which keep their URLs. Give the --base-url (https://WEB_DOMAIN) and --username\n" +
		"of the Mastodon account. Without --apply it prints what it would do and changes nothing;\n" +
		"twice changes nothing more. With --apply, serve must not run. docs/deploy.md has the switch-over."},
	{name: "healthcheck", is: cmdHealthcheck, about: "Asks the server listening on --listen (on this machine) for /health, prints its answer and\n" +
		"exits 0 when it is healthy, 1 otherwise: a HEALTHCHECK for images without curl (distroless)."},
}

// commandNamed returns the entry of commands called name; an unknown name
// is a mistake in the code.
func commandNamed(name string) commandDef {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	panic("no command " + name + " in commands")
}

// setting is one configuration setting.
type setting struct {
	name  string // the flag, without "--"
	env   string // read when the flag is not on the command line
	meta  string // the value's name in --help (a bool has none)
	help  string
	in    cmdSet // the commands that take it
	value settingValue
}

// settings are every setting, in --help order.
var settings = []setting{
	{name: "base-url", env: "NUTTX_FEED_BASE_URL", meta: "URL", in: cmdAll | cmdImport,
		help:  "public URL of this server, at the root of its host (no path); the first serve stores it, later ones keep it",
		value: typed(func(c *Config) *string { return &c.BaseURL }, "http://localhost:8080", checkBaseURL)},
	{name: "listen", env: "NUTTX_FEED_LISTEN", meta: "ADDR", in: cmdServe | cmdHealthcheck,
		help:  "address to listen on",
		value: typed(func(c *Config) *string { return &c.Listen }, "127.0.0.1:8080", checkListen)},
	{name: "data", env: "NUTTX_FEED_DATA", meta: "DIR", in: cmdAll | cmdBackup | cmdProfileSet | cmdImport | cmdAdmin,
		help:  "folder holding the SQLite database (serve and import create it; other commands need it)",
		value: typed(func(c *Config) *string { return &c.DataDir }, "./data", checkNotEmpty)},
	{name: "username", env: "NUTTX_FEED_USERNAME", meta: "NAME", in: cmdAll | cmdImport,
		help:  "the bot's username (the first serve stores it, later commands keep it)",
		value: typed(func(c *Config) *string { return &c.Username }, "nuttx_build", checkUsername)},
	{name: "display-name", env: "NUTTX_FEED_DISPLAY_NAME", meta: "TEXT", in: cmdServe,
		help:  "the new bot's display name (seeds the first start only: then nuttx-feed profile set changes it)",
		value: typed(func(c *Config) *string { return &c.DisplayName }, defaultDisplayName, checkNotBlank)},
	{name: "summary", env: "NUTTX_FEED_SUMMARY", meta: "TEXT", in: cmdServe,
		help:  "the new bot's bio, plain text with links and #hashtags (seeds the first start only)",
		value: typed(func(c *Config) *string { return &c.Summary }, defaultSummary, nil)},
	{name: "allow-private-networks", env: "NUTTX_FEED_ALLOW_PRIVATE_NETWORKS", in: cmdServe | cmdPost,
		help:  "allow outgoing requests to loopback and private addresses, and followers with http inboxes (tests, intranets)",
		value: typed(func(c *Config) *bool { return &c.AllowPrivateNetworks }, false, nil)},
	{name: "trusted-proxies", env: "NUTTX_FEED_TRUSTED_PROXIES", meta: "CIDRS", in: cmdServe,
		help:  "proxies believed when CF-Connecting-IP or X-Forwarded-For names the client: addresses or CIDRs, comma-separated (empty: none)",
		value: typed(func(c *Config) *string { return &c.TrustedProxies }, "127.0.0.0/8,::1", checkTrustedProxies)},
	{name: "rate-limit", env: "NUTTX_FEED_RATE_LIMIT", meta: "N", in: cmdServe,
		help:  "expensive GETs (pages, notes, collections, NodeInfo) one client may make a minute, N at once at most; 0: no limit",
		value: typed(func(c *Config) *int { return &c.RateLimit }, 600, checkNotNegative)},
	{name: "inbox-rate", env: "NUTTX_FEED_INBOX_RATE", meta: "N", in: cmdServe,
		help:  "activities per second one remote server may send to the inboxes, in bursts of 20 times that, before 429; 0 for no limit",
		value: typed(func(c *Config) *int { return &c.InboxRate }, int(activitypub.DefaultInboxRate.PerSecond), checkNotNegative)},
	{name: "retention", env: "NUTTX_FEED_RETENTION", meta: "DURATION", in: cmdServe,
		help:  "how long finished deliveries and their attempts, and Accepts, are kept (posts are kept for ever)",
		value: typed(func(c *Config) *time.Duration { return &c.Retention }, activitypub.DefaultRetention, checkRetention)},
	{name: "log-format", env: "NUTTX_FEED_LOG_FORMAT", meta: "FORMAT", in: cmdAll | cmdBackup | cmdProfileSet | cmdImport | cmdAdmin,
		help:  "log format: text or json",
		value: typed(func(c *Config) *string { return &c.LogFormat }, "text", checkLogFormat)},
	{name: "log-level", env: "NUTTX_FEED_LOG_LEVEL", meta: "LEVEL", in: cmdServe,
		help:  "log level: debug (every GET request and more), info, warn or error",
		value: typed(func(c *Config) *string { return &c.LogLevel }, "info", checkLogLevel)},
	{name: "metrics-listen", env: "NUTTX_FEED_METRICS_LISTEN", meta: "ADDR", in: cmdServe,
		help:  "serve /metrics on this address (e.g. 127.0.0.1:9464) and not on --listen; empty: see --metrics-token",
		value: typed(func(c *Config) *string { return &c.MetricsListen }, "", checkMetricsListen)},
	{name: "metrics-token", env: "NUTTX_FEED_METRICS_TOKEN", meta: "TOKEN", in: cmdServe,
		help:  "serve /metrics (on --listen, or on --metrics-listen if set) only to requests with Authorization: Bearer TOKEN; at least 16 characters of A-Z a-z 0-9 - . _ ~ + /. With neither, /metrics is not served",
		value: typed(func(c *Config) *string { return &c.MetricsToken }, "", checkMetricsToken)},
	{name: "alert-template", env: "NUTTX_FEED_ALERT_TEMPLATE", meta: "FILE", in: cmdServe,
		help:  "Go text/template file whose {{define \"firing\"}}, \"refiring\", \"resolved\" or \"burst\" replace the texts of the Alertmanager receiver's posts; empty: the built-in texts",
		value: typed(func(c *Config) *string { return &c.AlertTemplate }, "", checkAlertTemplate)},
	{name: "database-url", env: "NUTTX_FEED_DATABASE_URL", meta: "URL", in: cmdImport,
		help:  "the Mastodon server's PostgreSQL, read only: postgres://USER:PASSWORD@HOST:5432/mastodon_production (the environment keeps the password out of ps)",
		value: typed(func(c *Config) *string { return &c.DatabaseURL }, "", nil)},

	// The Prometheus feed.
	{name: "prometheus-url", env: "NUTTX_FEED_PROMETHEUS_URL", meta: "URL", in: cmdFeed,
		help:  "Prometheus to poll for failed builds; empty disables the feed",
		value: typed(func(c *Config) *string { return &c.PrometheusURL }, "http://localhost:9090", checkPrometheusURL)},
	{name: "poll-interval", env: "NUTTX_FEED_POLL_INTERVAL", meta: "DURATION", in: cmdFeed,
		help:  "how often to poll Prometheus",
		value: typed(func(c *Config) *time.Duration { return &c.PollInterval }, 30*time.Second, checkPollInterval)},
	{name: "query", env: "NUTTX_FEED_QUERY", meta: "PROMQL", in: cmdFeed,
		help:  "the PromQL query for failed builds (exclude build hosts or configs here)",
		value: typed(func(c *Config) *string { return &c.Query }, feed.DefaultQuery, nil)},
	{name: "post-recoveries", env: "NUTTX_FEED_POST_RECOVERIES", in: cmdFeed,
		help:  "reply \"recovered\" when a failing target builds again",
		value: typed(func(c *Config) *bool { return &c.PostRecoveries }, true, nil)},
	{name: "burst-threshold", env: "NUTTX_FEED_BURST_THRESHOLD", meta: "N", in: cmdFeed,
		help:  "more targets newly failing (or recovering) than this in one poll make one digest post",
		value: typed(func(c *Config) *int { return &c.BurstThreshold }, 10, checkNotNegative)},
	{name: "dashboard-url", env: "NUTTX_FEED_DASHBOARD_URL", meta: "URL", in: cmdFeed,
		help:  "the NuttX dashboard linked from every post",
		value: typed(func(c *Config) *string { return &c.DashboardURL }, feed.DefaultDashboardURL, checkLinkURL)},
	{name: "history-url-template", env: "NUTTX_FEED_HISTORY_URL_TEMPLATE", meta: "URL", in: cmdFeed,
		help:  "a target's build history page; {board} and {config} are replaced",
		value: typed(func(c *Config) *string { return &c.HistoryURLTemplate }, feed.DefaultHistoryTemplate, checkHistoryTemplate)},
	{name: "max-chars", env: "NUTTX_FEED_MAX_CHARS", meta: "N", in: cmdFeed,
		help:  "cut a failure post to this many characters, counted as Mastodon does (a link is 23)",
		value: typed(func(c *Config) *int { return &c.MaxChars }, 500, checkMaxChars)},
}

// settingIndex is the index of the setting called name in settings; an
// unknown name is a mistake in the code.
func settingIndex(name string) int {
	for i, s := range settings {
		if s.name == name {
			return i
		}
	}
	panic("no setting " + name)
}

// settingValue is what a setting knows of its value: a typedValue, whose
// type parameter ties the Config field, the default and the check together.
type settingValue interface {
	setDefault(cfg *Config)
	define(fs *flag.FlagSet, name, help string, cfg *Config) // a flag bound to the field
	problem(name string, cfg *Config) string                 // "" when the value is valid
	defaultText() string                                     // the default as --help and README.md show it
	isBool() bool
	field(cfg *Config) any // the field's address, for tests
}

// settingType are the types a setting can have.
type settingType interface {
	string | bool | int | time.Duration
}

// typedValue is a settingValue of type T.
type typedValue[T settingType] struct {
	ptr   func(*Config) *T
	def   T
	check func(T) error // nil when every value is valid
}

// typed returns the settingValue of the field ptr returns, with its
// default and its check (nil: none). A default of another type than the
// field does not compile.
func typed[T settingType](ptr func(*Config) *T, def T, check func(T) error) settingValue {
	return typedValue[T]{ptr: ptr, def: def, check: check}
}

func (v typedValue[T]) setDefault(cfg *Config) { *v.ptr(cfg) = v.def }

func (v typedValue[T]) define(fs *flag.FlagSet, name, help string, cfg *Config) {
	switch p := any(v.ptr(cfg)).(type) {
	case *string:
		fs.StringVar(p, name, *p, help)
	case *bool:
		fs.BoolVar(p, name, *p, help)
	case *int:
		fs.IntVar(p, name, *p, help)
	case *time.Duration:
		fs.DurationVar(p, name, *p, help)
	}
}

func (v typedValue[T]) problem(name string, cfg *Config) string {
	if v.check == nil {
		return ""
	}
	value := *v.ptr(cfg)
	err := v.check(value)
	if err == nil {
		return ""
	}
	shown := fmt.Sprint(value)
	if s, ok := any(value).(string); ok {
		shown = strconv.Quote(s)
	}
	return fmt.Sprintf("--%s %s: %v", name, shown, err)
}

func (v typedValue[T]) defaultText() string { return fmt.Sprint(v.def) }

func (v typedValue[T]) isBool() bool {
	_, ok := any(v.def).(bool)
	return ok
}

func (v typedValue[T]) field(cfg *Config) any { return v.ptr(cfg) }

// defaultConfig is the Config of every setting's default.
func defaultConfig() Config {
	var cfg Config
	for _, s := range settings {
		s.value.setDefault(&cfg)
	}
	return cfg
}

// The checks of settings. Each returns why the value is refused, in a few
// words; the problem line adds the flag and the value.

func checkNotEmpty(v string) error {
	if v == "" {
		return errors.New("must not be empty")
	}
	return nil
}

func checkNotBlank(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("must not be blank")
	}
	return nil
}

// checkBaseURL applies the rules of urls.New (settings_test.go
// holds the two to each other), with shorter words.
func checkBaseURL(v string) error {
	if err := checkHTTPURL(v); err != nil {
		return err
	}
	u, _ := url.Parse(v)
	switch {
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return errors.New("no query, fragment or user info allowed")
	case strings.Trim(u.EscapedPath(), "/") != "":
		return errors.New("a path is not supported: nuttx-feed answers at the root of its host, so give it a host of its own")
	}
	return nil
}

func checkListen(v string) error {
	if _, _, err := net.SplitHostPort(v); err != nil {
		return errors.New("want HOST:PORT")
	}
	return nil
}

// checkMetricsListen accepts HOST:PORT, or empty for none.
func checkMetricsListen(v string) error {
	if v == "" {
		return nil
	}
	return checkListen(v)
}

// metricsTokenChars are the characters of a bearer token (RFC 6750's
// b64token, less its trailing "=": `openssl rand -hex 32` makes one).
const metricsTokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"

// checkMetricsToken accepts empty (no token), or a token long enough that
// guessing it over the network is hopeless.
func checkMetricsToken(v string) error {
	switch {
	case v == "":
		return nil
	case len(v) < 16:
		return errors.New("too short: at least 16 characters (e.g. openssl rand -hex 32)")
	case strings.ContainsFunc(v, func(r rune) bool { return !strings.ContainsRune(metricsTokenChars, r) }):
		return errors.New("use only A-Z a-z 0-9 - . _ ~ + /")
	}
	return nil
}

// checkAlertTemplate loads the file (when one is named) as serve will: a
// mistake shows at once, with its file and line.
func checkAlertTemplate(v string) error {
	if v == "" {
		return nil
	}
	_, err := feed.LoadAlertTemplates(v)
	return err
}

func checkUsername(v string) error {
	if !activitypub.ValidUsername(v) {
		return errors.New("use lower-case letters, digits and _ (with . or - between them)")
	}
	return nil
}

func checkTrustedProxies(v string) error {
	_, err := parseTrustedProxies(v)
	return err
}

func checkLogLevel(v string) error {
	_, err := logLevel(v)
	return err
}

// logLevel reads --log-level.
func logLevel(v string) (slog.Level, error) {
	switch v {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, errors.New("want debug, info, warn or error")
}

func checkLogFormat(v string) error {
	if v != "text" && v != "json" {
		return errors.New("want text or json")
	}
	return nil
}

func checkHTTPURL(v string) error {
	if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http(s) URL")
	}
	return nil
}

func checkPrometheusURL(v string) error {
	if v != "" && checkHTTPURL(v) != nil {
		return errors.New("want an http(s) URL, or empty to disable the feed")
	}
	return nil
}

// checkLinkURL accepts a link of the posts: an http(s) URL, or empty for
// no link.
func checkLinkURL(v string) error {
	if v == "" {
		return nil
	}
	return checkHTTPURL(v)
}

func checkHistoryTemplate(v string) error {
	return checkLinkURL(strings.NewReplacer("{board}", "b", "{config}", "c").Replace(v))
}

func checkPollInterval(v time.Duration) error {
	if v < 100*time.Millisecond {
		return errors.New("at least 100ms")
	}
	return nil
}

func checkNotNegative(v int) error {
	if v < 0 {
		return errors.New("must not be negative")
	}
	return nil
}

func checkMaxChars(v int) error {
	if v < 100 {
		return errors.New("at least 100 (a post has links and hashtags to keep)")
	}
	return nil
}

// checkRetention wants at least an hour: the inbox's memory of handled
// activity ids must outlast a signature's validity.
func checkRetention(d time.Duration) error {
	if d < time.Hour {
		return errors.New("must be at least 1h")
	}
	return nil
}
