package server

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
)

// clearSettingsEnv unsets every setting's environment variable for the
// test, so that the environment of whoever runs the tests counts for nothing.
func clearSettingsEnv(t *testing.T) {
	t.Helper()
	for _, s := range settings {
		t.Setenv(s.env, "") // restores the variable when the test ends
		os.Unsetenv(s.env)
	}
}

// parseCommand runs the flag and environment part of a command: its Config
// before validation.
func parseCommand(t *testing.T, name string, args ...string) (Config, error) {
	t.Helper()
	var cfg Config
	err := newCommand(name, &cfg).parse(args, io.Discard)
	return cfg, err
}

// TestConfigValidation: each bad value is refused, whichever command takes
// it, with exit status 2 and one line naming its flag, and nothing else.
func TestConfigValidation(t *testing.T) {
	clearSettingsEnv(t)
	for _, c := range []struct {
		name string
		args []string
		want string // the start of the only problem
	}{
		{"bad base URL", []string{"serve", "--base-url", "ftp://x"}, `--base-url "ftp://x": `},
		{"base URL without host", []string{"post", "--base-url", "https://", "hi"}, `--base-url "https://": `},
		{"base URL with a query", []string{"serve", "--base-url", "https://x.example/?a=b"}, `--base-url "https://x.example/?a=b": `},
		{"base URL with a path", []string{"serve", "--base-url", "https://example.org/nuttx"}, `--base-url "https://example.org/nuttx": a path is not supported`},
		{"bad listen", []string{"serve", "--listen", "nowhere"}, `--listen "nowhere": `},
		{"empty listen", []string{"serve", "--listen", ""}, `--listen "": `},
		{"empty data", []string{"serve", "--data", ""}, `--data "": `},
		{"empty data for feed status", []string{"feed", "status", "--data", ""}, `--data "": `},
		{"bad username", []string{"serve", "--username", "Bad Name"}, `--username "Bad Name": `},
		{"bad username for post", []string{"post", "--username", "a b", "hi"}, `--username "a b": `},
		{"empty display name", []string{"serve", "--display-name", ""}, `--display-name "": `},
		{"blank display name", []string{"serve", "--display-name", "  "}, `--display-name "  ": `},
		{"bad log format", []string{"serve", "--log-format", "xml"}, `--log-format "xml": `},
		{"bad log format for feed status", []string{"feed", "status", "--log-format", "XML"}, `--log-format "XML": `},
		{"bad prometheus URL", []string{"serve", "--prometheus-url", "localhost:9090"}, `--prometheus-url "localhost:9090": `},
		{"poll interval under 100ms", []string{"serve", "--poll-interval", "99ms"}, `--poll-interval 99ms: `},
		{"poll interval zero", []string{"feed", "preview", "--poll-interval", "0s"}, `--poll-interval 0s: `},
		{"negative burst threshold", []string{"serve", "--burst-threshold", "-1"}, `--burst-threshold -1: `},
		{"max chars under 100", []string{"serve", "--max-chars", "99"}, `--max-chars 99: `},
		{"max chars zero", []string{"serve", "--max-chars", "0"}, `--max-chars 0: `},
		{"bad dashboard URL", []string{"serve", "--dashboard-url", "nuttx-dashboard.org"}, `--dashboard-url "nuttx-dashboard.org": `},
		{"bad history URL", []string{"serve", "--history-url-template", "nuttx-dashboard.org/{board}"}, `--history-url-template "nuttx-dashboard.org/{board}": `},
		{"history URL of another scheme", []string{"feed", "preview", "--history-url-template", "ftp://h/{board}"}, `--history-url-template "ftp://h/{board}": `},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := run(c.args...)
			cmd := c.args[0]
			if cmd == "feed" {
				cmd += " " + c.args[1]
			}
			prefix := "nuttx-feed " + cmd + ": " + c.want
			if code != 2 || stdout != "" || !strings.HasPrefix(stderr, prefix) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout, stderr, prefix)
			}
			if line := strings.TrimSuffix(stderr, "\n"); strings.Contains(line, "\n") || strings.Contains(line, "; ") {
				t.Errorf("want one line with one problem: %q", stderr)
			}
			if strings.HasSuffix(strings.TrimSpace(stderr), ":") {
				t.Errorf("the problem has no reason: %q", stderr)
			}
		})
	}
}

// TestConfigValidValues: the edges of the checks, and the empty values that
// mean "none", pass.
func TestConfigValidValues(t *testing.T) {
	clearSettingsEnv(t)
	for _, args := range [][]string{
		{"--prometheus-url", ""},
		{"--prometheus-url", "https://prometheus.example:9090/prom"},
		{"--dashboard-url", "", "--history-url-template", ""},
		{"--history-url-template", "http://h.example/{board}/{config}"},
		{"--poll-interval", "100ms", "--max-chars", "100", "--burst-threshold", "0"},
		{"--base-url", "https://nuttx-feed.org/", "--listen", ":8080", "--username", "nuttx.build-2"},
		{"--log-format", "json", "--allow-private-networks", "--post-recoveries=false"},
	} {
		cfg, err := parseCommand(t, "serve", args...)
		if err == nil {
			err = cfg.validate()
		}
		if err != nil {
			t.Errorf("serve %q: %v", args, err)
		}
	}
}

// TestConfigProblemsAtOnce: every problem of the values is reported at
// once, sorted, on one line.
func TestConfigProblemsAtOnce(t *testing.T) {
	clearSettingsEnv(t)
	code, _, stderr := run("serve", "--max-chars", "5", "--listen", "nowhere", "--base-url", "ftp://x")
	want := `nuttx-feed serve: --base-url "ftp://x": want an http(s) URL; ` +
		`--listen "nowhere": want HOST:PORT; ` +
		`--max-chars 5: at least 100 (a post has links and hashtags to keep)` + "\n"
	if code != 2 || stderr != want {
		t.Errorf("exit %d\n%q; want exit 2 and\n%q", code, stderr, want)
	}
}

// TestConfigEnvironment: an environment variable fills its setting when
// the flag is not given, a bad one is named with its value, and a command
// reads only the variables of the settings it takes.
func TestConfigEnvironment(t *testing.T) {
	clearSettingsEnv(t)
	t.Setenv("NUTTX_FEED_USERNAME", "env_bot")
	t.Setenv("NUTTX_FEED_MAX_CHARS", "200")
	t.Setenv("NUTTX_FEED_POLL_INTERVAL", "2m")
	t.Setenv("NUTTX_FEED_POST_RECOVERIES", "false")
	t.Setenv("NUTTX_FEED_PROMETHEUS_URL", "")
	cfg, err := parseCommand(t, "serve", "--username", "flag_bot")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Username != "flag_bot" || cfg.MaxChars != 200 || cfg.PollInterval != 2*time.Minute || cfg.PostRecoveries || cfg.PrometheusURL != "" {
		t.Errorf("username %q, max chars %d, poll interval %v, post recoveries %v, prometheus %q: want the flag, then the environment",
			cfg.Username, cfg.MaxChars, cfg.PollInterval, cfg.PostRecoveries, cfg.PrometheusURL)
	}

	// post takes none of the feed's settings nor --listen: their variables
	// are not read, even bad ones.
	t.Setenv("NUTTX_FEED_MAX_CHARS", "many")
	t.Setenv("NUTTX_FEED_LISTEN", "nowhere")
	cfg, err = parseCommand(t, "post")
	if err == nil {
		err = cfg.validate()
	}
	want := defaultConfig()
	want.Username = "env_bot"
	want.given = 1 << settingIndex("username")
	if err != nil || cfg != want {
		t.Errorf("post: %v\n%+v; want\n%+v", err, cfg, want)
	}

	// Every bad variable at once, sorted, on one line.
	t.Setenv("NUTTX_FEED_BURST_THRESHOLD", "few")
	code, _, stderr := run("serve")
	wantErr := `nuttx-feed serve: NUTTX_FEED_BURST_THRESHOLD="few": invalid value (parse error); ` +
		`NUTTX_FEED_MAX_CHARS="many": invalid value (parse error)` + "\n"
	if code != 2 || stderr != wantErr {
		t.Errorf("bad variables: exit %d\n%q; want exit 2 and\n%q", code, stderr, wantErr)
	}
}

// TestConfigDefaultsForEveryCommand: every command starts from every
// setting's default, the ones it does not take included, and they pass.
func TestConfigDefaultsForEveryCommand(t *testing.T) {
	clearSettingsEnv(t)
	for _, c := range commands {
		cfg, err := parseCommand(t, c.name)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if cfg != defaultConfig() {
			t.Errorf("%s: %+v; want the defaults %+v", c.name, cfg, defaultConfig())
		}
		if err := cfg.validate(); err != nil {
			t.Errorf("%s: the defaults are refused: %v", c.name, err)
		}
		if p := cfg.profile(); p.DisplayName != defaultDisplayName || p.Summary != defaultSummary {
			t.Errorf("%s: profile %q %q, want the default display name and bio", c.name, p.DisplayName, p.Summary)
		}
		// The bot's links end with the directory of the accounts of
		// boards, targets and architectures, within Mastodon's 4.
		p := cfg.profile()
		if last := p.Fields[len(p.Fields)-1]; len(p.Fields) > activitypub.MaxFields || last.Name != directoryField || last.URL != cfg.BaseURL+"/targets" {
			t.Errorf("%s: profile links %+v, want at most %d ending with the directory", c.name, p.Fields, activitypub.MaxFields)
		}
	}
}
