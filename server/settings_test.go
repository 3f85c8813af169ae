package server

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// TestSettingsDefaults pins every default (changing one is a decision: the
// README and the deployed bots follow) and checks each passes its own check.
func TestSettingsDefaults(t *testing.T) {
	t.Parallel()
	want := Config{
		BaseURL:              "http://localhost:8080",
		Listen:               "127.0.0.1:8080",
		DataDir:              "./data",
		Username:             "nuttx_build",
		DisplayName:          "NuttX Build",
		Summary:              "Failed builds of Apache #NuttX from the NuttX build farm, one thread per board:config target. A bot: follow it to get build failures in your timeline, or follow one board, target or architecture (see the directory).",
		AllowPrivateNetworks: false,
		TrustedProxies:       "127.0.0.0/8,::1",
		RateLimit:            600,
		InboxRate:            20,
		Retention:            30 * 24 * time.Hour,
		LogFormat:            "text",
		LogLevel:             "info",
		PrometheusURL:        "http://localhost:9090",
		PollInterval:         30 * time.Second,
		Query:                "build_score < 0.5",
		PostRecoveries:       true,
		BurstThreshold:       10,
		DashboardURL:         "https://nuttx-dashboard.org",
		HistoryURLTemplate:   "https://nuttx-dashboard.org/d/fe2q876wubc3kc/nuttx-build-history?var-board={board}&var-config={config}",
		MaxChars:             500,
	}
	cfg := defaultConfig()
	if cfg != want {
		t.Errorf("defaults\n%+v; want\n%+v", cfg, want)
	}
	for _, s := range settings {
		if p := s.value.problem(s.name, &cfg); p != "" {
			t.Errorf("the default of --%s fails its check: %s", s.name, p)
		}
	}
}

// TestSettingsTable checks the table's own rules: one setting per Config
// field, names and variables that match, a value name for each non-bool,
// help, and at least one command.
func TestSettingsTable(t *testing.T) {
	t.Parallel()
	var cfg Config
	fields := map[uintptr]string{} // address in cfg → field name
	v := reflect.ValueOf(&cfg).Elem()
	for i := range v.NumField() {
		fields[v.Field(i).Addr().Pointer()] = v.Type().Field(i).Name
	}
	taken := map[string]string{} // field name → setting
	names := map[string]bool{}
	for _, s := range settings {
		if names[s.name] {
			t.Errorf("--%s is declared twice", s.name)
		}
		names[s.name] = true
		field, ok := fields[reflect.ValueOf(s.value.field(&cfg)).Pointer()]
		switch {
		case !ok:
			t.Errorf("--%s is not bound to a field of Config", s.name)
		case taken[field] != "":
			t.Errorf("--%s and --%s are both Config.%s", taken[field], s.name, field)
		default:
			taken[field] = s.name
		}
		if env := "NUTTX_FEED_" + strings.ToUpper(strings.ReplaceAll(s.name, "-", "_")); s.env != env {
			t.Errorf("--%s reads %s, want %s", s.name, s.env, env)
		}
		if (s.meta == "") != s.value.isBool() {
			t.Errorf("--%s: value name %q; want one unless it is a bool", s.name, s.meta)
		}
		if s.help == "" || s.in == 0 {
			t.Errorf("--%s: no help or no command", s.name)
		}
	}
	for _, field := range fields {
		if taken[field] == "" && field != "given" {
			t.Errorf("Config.%s is no setting", field)
		}
	}
	for _, c := range commands {
		if commandNamed(c.name).is != c.is || c.is&(c.is-1) != 0 {
			t.Errorf("command %q: its name or its bit is not its own", c.name)
		}
	}
}

// TestSettingsBaseURLCheck: --base-url refuses exactly what
// urls.New refuses, so that serve never fails to start on a base
// URL that validation let through.
func TestSettingsBaseURLCheck(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://localhost:8080", "https://nuttx-feed.org", "https://nuttx-feed.org/", "https://x.example/bot",
		"https://X.Example:8443", "ftp://x", "nuttx-feed.org", "https://", "http:///path", "https://x.example/?a=b",
		"https://x.example/#f", "https://u:p@x.example", "https://x.example/%zz", "://x", "", " https://x.example"} {
		_, err := urls.New(u)
		if got := checkBaseURL(u); (got == nil) != (err == nil) {
			t.Errorf("%q: the check says %v, urls.New %v", u, got, err)
		}
	}
}

// TestSettingsHelp: each command's --help lists exactly the flags it takes
// (the same as before the table), each setting with its variable and
// default.
func TestSettingsHelp(t *testing.T) {
	t.Parallel()
	identity := []string{"base-url", "data", "username", "log-format"}
	feed := []string{"prometheus-url", "poll-interval", "query", "post-recoveries", "burst-threshold",
		"dashboard-url", "history-url-template", "max-chars"}
	admin := []string{"data", "log-format", "json"}
	for _, c := range []struct {
		cmd   []string
		flags []string
	}{
		{[]string{"serve"}, slices.Concat([]string{"base-url", "listen", "data", "username", "display-name", "summary",
			"allow-private-networks", "trusted-proxies", "rate-limit", "inbox-rate", "retention", "log-format", "log-level",
			"metrics-listen", "metrics-token", "alert-template"}, feed)},
		{[]string{"post"}, []string{"base-url", "data", "username", "allow-private-networks", "log-format", "in-reply-to"}},
		{[]string{"feed", "preview"}, slices.Concat(identity, feed)},
		{[]string{"feed", "status"}, []string{"base-url", "data", "username", "log-format"}},
		{[]string{"deliveries", "retry"}, []string{"base-url", "data", "username", "log-format"}},
		{[]string{"backup"}, []string{"data", "log-format"}},
		{[]string{"followers", "list"}, admin},
		{[]string{"followers", "remove"}, admin},
		{[]string{"block", "add"}, admin},
		{[]string{"block", "remove"}, admin},
		{[]string{"block", "list"}, admin},
		{[]string{"delete"}, admin},
		{[]string{"deliveries", "list"}, slices.Concat(admin, []string{"failed"})},
		{[]string{"token", "create"}, slices.Concat(admin, []string{"scopes", "account"})},
		{[]string{"token", "list"}, admin},
		{[]string{"token", "revoke"}, admin},
		{[]string{"healthcheck"}, []string{"listen"}},
		{[]string{"profile", "show"}, []string{"data", "log-format", "json"}},
		{[]string{"import", "mastodon"}, []string{"base-url", "data", "username", "log-format", "database-url", "apply", "statuses"}},
		{[]string{"profile", "set"}, []string{"data", "log-format", "display-name", "summary", "field", "no-fields", "avatar", "header", "visibility"}},
	} {
		name := strings.Join(c.cmd, " ")
		code, out, stderr := run(append(c.cmd, "--help")...)
		if code != 0 || stderr != "" || !strings.HasPrefix(out, "Usage: nuttx-feed "+name+" [flags]") {
			t.Fatalf("%s --help: exit %d, %q %q", name, code, out, stderr)
		}
		var shown []string
		lines := strings.Split(out, "\n")
		for i, line := range lines {
			flag, ok := strings.CutPrefix(line, "  --")
			if !ok {
				continue
			}
			flag, meta, _ := strings.Cut(flag, " ")
			shown = append(shown, flag)
			s, ok := settingNamed(flag)
			if !ok || s.in&commandNamed(name).is == 0 {
				continue // a flag of the command's own
			}
			if meta != s.meta || i+2 >= len(lines) || strings.TrimSpace(lines[i+1]) != s.help {
				t.Errorf("%s --help shows --%s as %q %q", name, flag, line, lines[i+1])
				continue
			}
			if want := fmt.Sprintf("      (env %s, default %q)", s.env, s.value.defaultText()); lines[i+2] != want {
				t.Errorf("%s --help: --%s has %q, want %q", name, flag, lines[i+2], want)
			}
		}
		if !slices.Equal(shown, c.flags) {
			t.Errorf("%s --help shows\n%v; want\n%v", name, shown, c.flags)
		}
	}
}

func settingNamed(name string) (setting, bool) {
	for _, s := range settings {
		if s.name == name {
			return s, true
		}
	}
	return setting{}, false
}

// describedDefaults are the defaults too long for a table cell of
// README.md: their cell holds these words instead, and the exact default
// must be elsewhere in README.md as `code`.
var describedDefaults = map[string]string{
	"summary":              "a one-line bio",
	"history-url-template": "the NuttX build history page",
}

// TestSettingsREADME holds README.md's configuration tables (those headed
// "| flag | environment | default | meaning |") to the settings: every
// setting has one row, with its variable and its default as `code` (or the
// words of describedDefaults, or "empty" for ""), and every row is a setting.
func TestSettingsREADME(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	rows := readmeSettingRows(t, readme)
	if len(rows) == 0 {
		t.Fatal("README.md has no configuration table")
	}
	seen := map[string]bool{}
	for _, row := range rows {
		flag, env, def := row[0], row[1], row[2]
		m := regexp.MustCompile("^`--([a-z-]+)`$").FindStringSubmatch(flag)
		if m == nil {
			t.Errorf("README.md: the flag %q is not `--name`", flag)
			continue
		}
		s, ok := settingNamed(m[1])
		if !ok {
			t.Errorf("README.md: %s is no setting", flag)
			continue
		}
		if seen[s.name] {
			t.Errorf("README.md: %s has two rows", flag)
		}
		seen[s.name] = true
		if env != "`"+s.env+"`" {
			t.Errorf("README.md: %s reads %s, want `%s`", flag, env, s.env)
		}
		want := "`" + s.value.defaultText() + "`"
		if s.value.defaultText() == "" {
			want = "empty"
		}
		if words, ok := describedDefaults[s.name]; ok {
			if def != words {
				t.Errorf("README.md: the default of %s is %q, want the words %q", flag, def, words)
			}
			if !strings.Contains(readme, want) {
				t.Errorf("README.md: the default of %s, %s, is nowhere", flag, want)
			}
		} else if def != want {
			t.Errorf("README.md: the default of %s is %s, want %s", flag, def, want)
		}
	}
	for _, s := range settings {
		if !seen[s.name] {
			t.Errorf("README.md: no row for --%s", s.name)
		}
	}
}

// readmeSettingRows returns the cells of the rows of every configuration
// table in readme.
func readmeSettingRows(t *testing.T, readme string) [][]string {
	const header = "| flag | environment | default | meaning |"
	var rows [][]string
	lines := strings.Split(readme, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != header {
			continue
		}
		i += 2 // the header and its |---| line
		for ; i < len(lines) && strings.HasPrefix(lines[i], "|"); i++ {
			cells := strings.Split(strings.Trim(strings.TrimSpace(lines[i]), "|"), "|")
			if len(cells) != 4 {
				t.Errorf("README.md line %d has %d cells, want 4: %s", i+1, len(cells), lines[i])
				continue
			}
			for j := range cells {
				cells[j] = strings.TrimSpace(cells[j])
			}
			rows = append(rows, cells)
		}
	}
	return rows
}

// TestSettingsREADMERows checks readmeSettingRows itself on a small table.
func TestSettingsREADMERows(t *testing.T) {
	t.Parallel()
	rows := readmeSettingRows(t, "intro\n\n| flag | environment | default | meaning |\n|---|---|---|---|\n"+
		"| `--a` | `NUTTX_FEED_A` | `1` | one |\n| `--b` | `NUTTX_FEED_B` | words | two |\n\nafter\n| x |\n")
	want := [][]string{{"`--a`", "`NUTTX_FEED_A`", "`1`", "one"}, {"`--b`", "`NUTTX_FEED_B`", "words", "two"}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows %q, want %q", rows, want)
	}
}
