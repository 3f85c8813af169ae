package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The deployment kit (docs/deploy.md and the files in docs/deploy) is held
// to the code here: its settings are settings of serve with valid values,
// its command lines name real commands, systemd accepts its units and
// compose.yaml holds together. A renamed setting or command then breaks a
// test rather than an operator's deployment.

const (
	deployDir   = "../docs/deploy"
	deployGuide = "../docs/deploy.md"
	deployUnit  = deployDir + "/nuttx-feed.service"
	deployEnv   = deployDir + "/nuttx-feed.env"
	composeFile = deployDir + "/compose.yaml"
	installPath = "/usr/local/bin/nuttx-feed" // where the unit and the image have the binary
)

// maxExposure is the highest "overall exposure level" that systemd-analyze
// security may give nuttx-feed.service, in tenths (it rates 1.2).
const maxExposure = 13

// acceptedExposures are the checks of systemd-analyze security that the
// kit's services knowingly fail, and why. Any other failed check (a
// hardening setting removed or weakened) fails the test.
var acceptedExposures = map[string]string{
	"PrivateNetwork=": "it delivers to every follower's server",
	"IPAddressDeny=":  "the followers are anywhere on the Internet",
	"RestrictAddressFamilies=~AF_(INET|INET6)": "the same",
	"RestrictAddressFamilies=~AF_UNIX":         "local sockets: harmless, and the backup's only family",
	"SystemCallFilter=~@resources":             "Go raises its open-files limit (setrlimit) at start",
	"RootDirectory=/RootImage=":                "it uses the host's CA certificates and resolver files",
	"DeviceAllow=":                             "ProtectClock= leaves the RTC readable",
}

// envAssignment is one NAME=value of a deployment file.
type envAssignment struct {
	where       string // file:line, for messages
	name, value string
	commented   bool // "# NAME=value": an example to uncomment
}

// TestDeploySettings: every NUTTX_FEED_* variable that the env file, the
// units and compose.yaml set (or show commented out) is a setting that serve
// reads, and the values, taken together as systemd and Compose pass them,
// pass serve's checks. docs/deploy.md names only real variables.
func TestDeploySettings(t *testing.T) {
	envFile := readEnvFile(t, deployEnv)
	var unitEnv []envAssignment
	for _, unit := range deployUnits(t) {
		unitEnv = append(unitEnv, unitEnvironment(t, unit)...)
	}
	composeEnv := composeEnvironment(t, loadCompose(t))

	for _, a := range slices.Concat(envFile, unitEnv, composeEnv) {
		s, ok := settingByEnv(a.name)
		switch {
		case !ok:
			t.Errorf("%s: %s is no setting of nuttx-feed (server/settings.go)", a.where, a.name)
		case s.in&cmdServe == 0:
			t.Errorf("%s: %s is not read by serve", a.where, a.name)
		}
	}
	for _, a := range envFile {
		if a.name == "NUTTX_FEED_DATA" && !a.commented {
			t.Errorf("%s: the env file sets NUTTX_FEED_DATA, which would override the unit's and compose.yaml's", a.where)
		}
	}
	// systemd reads the env file after Environment=, Compose reads its
	// environment: after env_file.
	checkServeAccepts(t, "the systemd unit", slices.Concat(unitEnvironment(t, deployUnit), envFile))
	checkServeAccepts(t, "compose.yaml", slices.Concat(envFile, composeEnv))

	guide := readFile(t, deployGuide)
	names := regexp.MustCompile(`NUTTX_FEED_[A-Z0-9_]+`).FindAllString(guide, -1)
	slices.Sort(names)
	for _, name := range slices.Compact(names) {
		if _, ok := settingByEnv(name); !ok {
			t.Errorf("docs/deploy.md: %s is no setting of nuttx-feed (server/settings.go)", name)
		}
	}
}

// TestDeployDataFolder: the unit's data folder is its state directory, the
// only place it may write.
func TestDeployDataFolder(t *testing.T) {
	t.Parallel()
	state := strings.Fields(unitValue(t, deployUnit, "StateDirectory"))
	var data string
	for _, a := range unitEnvironment(t, deployUnit) {
		if a.name == "NUTTX_FEED_DATA" {
			data = a.value
		}
	}
	if len(state) == 0 || data != "%S/"+state[0] {
		t.Errorf("nuttx-feed.service: NUTTX_FEED_DATA=%q, StateDirectory=%q: want the data in the state directory", data, state)
	}
}

// checkServeAccepts sets the variables of assignments (later ones win, the
// commented-out examples too) and parses and checks serve's configuration
// from them, as the service would start.
func checkServeAccepts(t *testing.T, what string, assignments []envAssignment) {
	t.Helper()
	clearSettingsEnv(t)
	for _, a := range assignments {
		t.Setenv(a.name, a.value)
	}
	cfg, err := parseCommand(t, "serve")
	if err == nil {
		err = cfg.validate()
	}
	if err != nil {
		t.Errorf("%s: serve refuses its settings: %v", what, err)
	}
}

// settingByEnv returns the setting read from the environment variable env.
func settingByEnv(env string) (setting, bool) {
	for _, s := range settings {
		if s.env == env {
			return s, true
		}
	}
	return setting{}, false
}

// readEnvFile reads an env file: NAME=value lines, comments and blank
// lines, and "# NUTTX_FEED_...=value" examples. Each value must read alike
// for systemd and Compose (see envValue).
func readEnvFile(t *testing.T, path string) []envAssignment {
	t.Helper()
	assignment := regexp.MustCompile(`^([A-Z][A-Z0-9_]*)=(.*)$`)
	example := regexp.MustCompile(`^#\s*(NUTTX_FEED_[A-Z0-9_]+)=(.*)$`)
	var out []envAssignment
	for n, line := range strings.Split(readFile(t, path), "\n") {
		where := fmt.Sprintf("%s:%d", filepath.Base(path), n+1)
		m := assignment.FindStringSubmatch(line)
		commented := false
		if m == nil {
			m, commented = example.FindStringSubmatch(line), true
		}
		if m == nil {
			if line != "" && !strings.HasPrefix(line, "#") {
				t.Errorf("%s: %q is neither NAME=value nor a comment", where, line)
			}
			continue
		}
		value, err := envValue(m[2])
		if err != nil {
			t.Errorf("%s: %s: %v", where, m[1], err)
		}
		out = append(out, envAssignment{where: where, name: m[1], value: value, commented: commented})
	}
	return out
}

// envValue reads the value of a NAME=value line in the subset of the syntax
// that systemd (EnvironmentFile=) and Compose (env_file) read alike: plain
// text without quotes, backslashes, dollars or " #", or the whole value in
// single quotes.
func envValue(raw string) (string, error) {
	if inner, ok := strings.CutPrefix(raw, "'"); ok {
		if value, ok := strings.CutSuffix(inner, "'"); ok && !strings.Contains(value, "'") {
			return value, nil
		}
		return "", fmt.Errorf("want the whole value in single quotes: %s", raw)
	}
	if strings.ContainsAny(raw, `"'\$`) || strings.Contains(raw, " #") || strings.TrimSpace(raw) != raw {
		return "", fmt.Errorf("systemd and Compose read %s differently: quote it whole in single quotes", raw)
	}
	return raw, nil
}

// TestDeployEnvValue: the values that systemd and Compose would read
// differently are refused.
func TestDeployEnvValue(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"https://nuttx-feed.org":      "https://nuttx-feed.org",
		"NuttX Build":                 "NuttX Build",
		`'build_score{a!="b"} < 0.5'`: `build_score{a!="b"} < 0.5`,
	} {
		if got, err := envValue(raw); err != nil || got != want {
			t.Errorf("envValue(%s) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{`"quoted"`, `a\b`, "$HOME", "value # comment", "'unclosed", "'it's'", " padded"} {
		if got, err := envValue(raw); err == nil {
			t.Errorf("envValue(%s) = %q, want an error", raw, got)
		}
	}
}

// deployUnits are the systemd units of the kit.
func deployUnits(t *testing.T) []string {
	t.Helper()
	var units []string
	for _, pattern := range []string{"*.service", "*.timer"} {
		m, err := filepath.Glob(filepath.Join(deployDir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		units = append(units, m...)
	}
	if len(units) == 0 {
		t.Fatalf("no systemd unit in %s", deployDir)
	}
	return units
}

// unitLines returns the KEY=value lines of a unit file, as key and value.
func unitLines(t *testing.T, path string) [][2]string {
	t.Helper()
	var out [][2]string
	for line := range strings.SplitSeq(readFile(t, path), "\n") {
		if key, value, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out = append(out, [2]string{key, value})
		}
	}
	return out
}

// unitValue is the value of the last key line of a unit file ("" if none).
func unitValue(t *testing.T, path, key string) string {
	t.Helper()
	value := ""
	for _, kv := range unitLines(t, path) {
		if kv[0] == key {
			value = kv[1]
		}
	}
	return value
}

// unitEnvironment returns the NUTTX_FEED_* assignments of a unit's
// Environment= lines.
func unitEnvironment(t *testing.T, path string) []envAssignment {
	t.Helper()
	var out []envAssignment
	for _, kv := range unitLines(t, path) {
		if kv[0] != "Environment" {
			continue
		}
		name, value, _ := strings.Cut(kv[1], "=")
		if strings.HasPrefix(name, "NUTTX_FEED_") {
			out = append(out, envAssignment{where: filepath.Base(path), name: name, value: value})
		}
	}
	return out
}

// TestDeployCommands: every nuttx-feed command line of docs/deploy.md's code
// blocks, of the units' Exec lines and of compose.yaml names a real command,
// whose --help exits 0. The guide must show the commands an operator needs.
func TestDeployCommands(t *testing.T) {
	clearSettingsEnv(t)
	t.Setenv("NUTTX_FEED_DATA", t.TempDir()) // nothing real in reach, whatever runs
	found := map[string][]string{}           // command -> where it is used
	for _, l := range codeLines(t, deployGuide) {
		for _, cmd := range commandsIn(l.text) {
			found[cmd] = append(found[cmd], l.where)
		}
	}
	for _, unit := range deployUnits(t) {
		for _, kv := range unitLines(t, unit) {
			if strings.HasPrefix(kv[0], "Exec") {
				for _, cmd := range commandsIn(kv[1]) {
					found[cmd] = append(found[cmd], filepath.Base(unit))
				}
			}
		}
	}
	for _, line := range composeCommandLines(t, loadCompose(t)) {
		for _, cmd := range commandsIn(line) {
			found[cmd] = append(found[cmd], "compose.yaml")
		}
	}
	for _, want := range []string{"serve", "healthcheck", "backup", "post", "profile show",
		"import mastodon", "followers list", "deliveries"} {
		if found[want] == nil {
			t.Errorf("the kit never runs nuttx-feed %s", want)
		}
	}
	for cmd, where := range found {
		args := append(strings.Fields(cmd), "--help")
		if code, out, stderr := run(args...); code != 0 || out == "" {
			t.Errorf("nuttx-feed %s (%s): --help exits %d: %s", cmd, strings.Join(slices.Compact(where), ", "), code, strings.TrimSpace(stderr))
		}
	}
}

// codeLine is a line of a fenced code block, continuation lines joined.
type codeLine struct{ where, text string }

// codeLines returns the lines of the fenced code blocks of a Markdown file.
func codeLines(t *testing.T, path string) []codeLine {
	t.Helper()
	var out []codeLine
	inCode, pending := false, ""
	for n, line := range strings.Split(readFile(t, path), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inCode, pending = !inCode, ""
			continue
		}
		if !inCode {
			continue
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending += cont
			continue
		}
		out = append(out, codeLine{where: fmt.Sprintf("%s:%d", filepath.Base(path), n+1), text: pending + line})
		pending = ""
	}
	return out
}

// commandWord is a word of a command's name ("feed", "status").
var commandWord = regexp.MustCompile(`^[a-z]+$`)

// commandsIn returns the commands that a shell line runs nuttx-feed with:
// the one or two lower-case words after "nuttx-feed" run as a program (at
// the start, or after a space, a slash or a parenthesis: not in a quoted
// text), before any flag or argument: "backup", "feed status". A
// "nuttx-feed" followed by no such word (the service name in "exec
// nuttx-feed nuttx-feed ...") is not one, nor one in a # comment.
func commandsIn(line string) []string {
	line = stripComment(line)
	var cmds []string
	for i := 0; ; i++ {
		j := strings.Index(line[i:], "nuttx-feed ")
		if j < 0 {
			return cmds
		}
		i += j
		if i > 0 && !strings.ContainsRune(" \t/(", rune(line[i-1])) {
			continue
		}
		var words []string
		for _, w := range strings.Fields(line[i+len("nuttx-feed "):]) {
			if !commandWord.MatchString(w) || len(words) == 2 {
				break
			}
			words = append(words, w)
		}
		if len(words) > 0 {
			cmds = append(cmds, strings.Join(words, " "))
		}
	}
}

// stripComment removes a shell comment (a # after a space, outside quotes)
// from line.
func stripComment(line string) string {
	var quote rune
	for i, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && (i == 0 || line[i-1] == ' '):
			return line[:i]
		}
	}
	return line
}

// TestDeployCommandsIn: the command lines the kit holds are read as
// intended.
func TestDeployCommandsIn(t *testing.T) {
	t.Parallel()
	for line, want := range map[string][]string{
		"nuttx-feed backup /var/backups/x.db":                       {"backup"},
		"docker compose exec nuttx-feed nuttx-feed followers list":  {"followers list"},
		"ExecStart=/usr/local/bin/nuttx-feed serve":                 {"serve"},
		`/bin/sh -c 'exec /usr/local/bin/nuttx-feed backup "%S/x"'`: {"backup"},
		"nuttx-feed deliveries --failed":                            {"deliveries"},
		"nuttx-feed token create grafana":                           {"token create"},
		`nuttx-feed post "hello"`:                                   {"post"},
		"systemctl restart nuttx-feed":                              nil,
		"cloudflared tunnel route dns nuttx-feed nuttx-feed.org":    nil,
		"cd /srv/nuttx-feed && docker compose up -d":                nil,
		`nuttx-feed post "nuttx-feed now serves it"`:                {"post"},
		`journalctl -u nuttx-feed -f   # "nuttx-feed started"`:      nil,
		"# then nuttx-feed post":                                    nil,
	} {
		if got := commandsIn(line); !slices.Equal(got, want) {
			t.Errorf("commandsIn(%q) = %q, want %q", line, got, want)
		}
	}
}

// TestDeploySystemd: systemd-analyze verify accepts the units without a
// word, and the services stay hardened: systemd-analyze security finds no
// exposure but the accepted ones, and rates nuttx-feed.service low.
func TestDeploySystemd(t *testing.T) {
	t.Parallel()
	analyze := systemdAnalyze(t)
	dir := unitsWithBinary(t)
	if err := verifyUnits(analyze, dir); err != nil {
		t.Error(err)
	}
	services, _ := filepath.Glob(filepath.Join(dir, "*.service"))
	for _, unit := range services {
		for _, e := range unitExposures(t, analyze, unit) {
			if acceptedExposures[e.Name] == "" {
				t.Errorf("%s: %s (%s): a hardening setting is missing or weakened", filepath.Base(unit), e.Name, e.Description)
			}
		}
	}
	out, err := exec.Command(analyze, "security", "--offline=true", fmt.Sprintf("--threshold=%d", maxExposure),
		filepath.Join(dir, "nuttx-feed.service")).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security nuttx-feed.service: %v (exposure above %d.%d)\n%s", err, maxExposure/10, maxExposure%10, lastLines(out, 3))
	}
}

// exposure is a check of systemd-analyze security that a unit fails.
type exposure struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Set         bool   `json:"set"`
	Exposure    string `json:"exposure"`
}

// unitExposures returns the checks of systemd-analyze security that unit
// fails (those that weigh on its rating).
func unitExposures(t *testing.T, analyze, unit string) []exposure {
	t.Helper()
	out, err := exec.Command(analyze, "security", "--offline=true", "--json=short", unit).Output()
	if err != nil {
		t.Fatalf("systemd-analyze security %s: %v", filepath.Base(unit), err)
	}
	var all []exposure
	if err := json.Unmarshal(out, &all); err != nil {
		t.Fatalf("systemd-analyze security %s: %v", filepath.Base(unit), err)
	}
	var failed []exposure
	for _, e := range all {
		if !e.Set && e.Exposure != "" {
			failed = append(failed, e)
		}
	}
	return failed
}

// TestDeploySystemdCatches: the verification fails on a misspelt setting,
// which systemd only warns about.
func TestDeploySystemdCatches(t *testing.T) {
	t.Parallel()
	analyze := systemdAnalyze(t)
	dir := unitsWithBinary(t)
	unit := filepath.Join(dir, "nuttx-feed.service")
	b := bytes.Replace(readFileBytes(t, unit), []byte("ProtectClock=yes"), []byte("ProtectClok=yes"), 1)
	if err := os.WriteFile(unit, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := verifyUnits(analyze, dir); err == nil || !strings.Contains(err.Error(), "ProtectClok") {
		t.Errorf("a misspelt setting: %v, want an error naming it", err)
	}
}

// systemdAnalyze is the path of systemd-analyze, which the test needs.
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is missing: install Debian's systemd package (scripts/install-deps.sh does); the deployment units are checked with it")
	}
	return path
}

// unitsWithBinary copies the kit's units to a folder of their own, with
// the binary they run pointing at this test's executable (verify checks
// that it exists).
func unitsWithBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, unit := range deployUnits(t) {
		b := bytes.ReplaceAll(readFileBytes(t, unit), []byte(installPath), []byte(self))
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(unit)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// verifyUnits runs systemd-analyze verify on every unit in dir: any word
// it says (a warning too) is an error.
func verifyUnits(analyze, dir string) error {
	units, err := filepath.Glob(filepath.Join(dir, "*.*"))
	if err != nil {
		return err
	}
	cmd := exec.Command(analyze, append([]string{"verify", "--man=no", "--generators=no"}, units...)...)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		return fmt.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	return nil
}

// composeProject is the part of a compose.yaml that the kit uses; unknown
// keys are errors, so that a misspelt one is caught.
type composeProject struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Networks map[string]composeNetwork `yaml:"networks"`
}

type composeService struct {
	Build           any                          `yaml:"build"`
	Image           string                       `yaml:"image"`
	Command         []string                     `yaml:"command"`
	User            string                       `yaml:"user"`
	EnvFile         string                       `yaml:"env_file"`
	Environment     map[string]string            `yaml:"environment"`
	Volumes         []composeVolume              `yaml:"volumes"`
	Tmpfs           []string                     `yaml:"tmpfs"`
	Ports           []any                        `yaml:"ports"`
	ReadOnly        bool                         `yaml:"read_only"`
	CapDrop         []string                     `yaml:"cap_drop"`
	SecurityOpt     []string                     `yaml:"security_opt"`
	Healthcheck     map[string]any               `yaml:"healthcheck"`
	Restart         string                       `yaml:"restart"`
	StopGracePeriod string                       `yaml:"stop_grace_period"`
	Logging         any                          `yaml:"logging"`
	DependsOn       map[string]map[string]any    `yaml:"depends_on"`
	Networks        map[string]composeAttachment `yaml:"networks"`
}

type composeVolume struct {
	Type   string `yaml:"type"`
	Source string `yaml:"source"`
	Target string `yaml:"target"`
	Bind   struct {
		CreateHostPath bool `yaml:"create_host_path"`
	} `yaml:"bind"`
}

type composeAttachment struct {
	IPv4Address string `yaml:"ipv4_address"`
}

type composeNetwork struct {
	IPAM struct {
		Config []struct {
			Subnet  string `yaml:"subnet"`
			IPRange string `yaml:"ip_range"`
		} `yaml:"config"`
	} `yaml:"ipam"`
}

// loadCompose reads compose.yaml.
func loadCompose(t *testing.T) composeProject {
	t.Helper()
	var p composeProject
	dec := yaml.NewDecoder(bytes.NewReader(readFileBytes(t, composeFile)))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return p
}

// composeEnvironment returns the NUTTX_FEED_* variables that compose.yaml
// gives nuttx-feed.
func composeEnvironment(t *testing.T, p composeProject) []envAssignment {
	t.Helper()
	var out []envAssignment
	for name, value := range p.Services["nuttx-feed"].Environment {
		if strings.HasPrefix(name, "NUTTX_FEED_") {
			out = append(out, envAssignment{where: "compose.yaml", name: name, value: value})
		}
	}
	return out
}

// composeCommandLines are the command lines compose.yaml runs nuttx-feed
// with: its service's command after the image's entrypoint, and its health
// check.
func composeCommandLines(t *testing.T, p composeProject) []string {
	t.Helper()
	svc := p.Services["nuttx-feed"]
	if !strings.Contains(readFile(t, "../Dockerfile"), `ENTRYPOINT ["`+installPath+`"]`) {
		t.Errorf("the Dockerfile's ENTRYPOINT is not %s: compose.yaml's command means something else", installPath)
	}
	return []string{installPath + " " + strings.Join(svc.Command, " "), healthcheckLine(svc)}
}

// healthcheckLine is a service's health check test as a command line.
func healthcheckLine(svc composeService) string {
	test, _ := svc.Healthcheck["test"].([]any)
	var words []string
	for _, w := range test {
		words = append(words, fmt.Sprint(w))
	}
	return strings.Join(words, " ")
}

// TestDeployCompose: compose.yaml runs nuttx-feed locked down, reachable
// only by cloudflared, whose address alone it trusts, and checks its health
// with nuttx-feed healthcheck; cloudflared waits until it is healthy.
func TestDeployCompose(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	feed, cf := p.Services["nuttx-feed"], p.Services["cloudflared"]
	if feed.Image == "" || cf.Image == "" {
		t.Fatalf("compose.yaml: want the services nuttx-feed and cloudflared, got %v", p.Services)
	}
	for name, svc := range map[string]composeService{"nuttx-feed": feed, "cloudflared": cf} {
		if !svc.ReadOnly || !slices.Equal(svc.CapDrop, []string{"ALL"}) || !slices.Contains(svc.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("%s: want read_only, cap_drop [ALL] and no-new-privileges:true", name)
		}
		if len(svc.Ports) > 0 {
			t.Errorf("%s publishes ports %v: only the tunnel reaches it", name, svc.Ports)
		}
	}
	if got := commandsIn(healthcheckLine(feed)); !slices.Equal(got, []string{"healthcheck"}) {
		t.Errorf("nuttx-feed's health check %q does not run nuttx-feed healthcheck", healthcheckLine(feed))
	}
	if dep := cf.DependsOn["nuttx-feed"]; dep["condition"] != "service_healthy" {
		t.Errorf("cloudflared depends on nuttx-feed %v, want condition service_healthy", dep)
	}
	if !slices.Equal(cf.Command, []string{"tunnel", "run"}) || !strings.Contains(readFile(t, filepath.Join(deployDir, cf.EnvFile)), "TUNNEL_TOKEN=") {
		t.Errorf("cloudflared: want tunnel run with TUNNEL_TOKEN from its env file, got %q and %q", cf.Command, cf.EnvFile)
	}
	if feed.EnvFile != filepath.Base(deployEnv) {
		t.Errorf("nuttx-feed's env_file is %q, want the systemd route's %s", feed.EnvFile, filepath.Base(deployEnv))
	}
	checkComposeUser(t, feed)
	checkComposeData(t, feed)
	checkComposeStop(t, feed)
	checkComposeProxy(t, p, feed, cf)
}

// checkComposeUser: nuttx-feed runs as the Dockerfile's user, which
// docs/deploy.md tells to own the bind mounts.
func checkComposeUser(t *testing.T, feed composeService) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^USER (\S+)$`).FindStringSubmatch(readFile(t, "../Dockerfile"))
	if m == nil {
		t.Fatal("the Dockerfile has no USER line")
	}
	if feed.User != m[1] {
		t.Errorf("compose.yaml's user %q is not the Dockerfile's USER %s", feed.User, m[1])
	}
	if guide := readFile(t, deployGuide); !strings.Contains(guide, "chown -R "+m[1]) {
		t.Errorf("docs/deploy.md does not say chown -R %s", m[1])
	}
}

// checkComposeData: the data folder is a bind mount that Docker does not
// make (as root) when it is missing.
func checkComposeData(t *testing.T, feed composeService) {
	t.Helper()
	for _, v := range feed.Volumes {
		if v.Target == feed.Environment["NUTTX_FEED_DATA"] {
			if v.Type != "bind" || v.Bind.CreateHostPath {
				t.Errorf("the data folder %s: want a bind mount with create_host_path: false", v.Target)
			}
			return
		}
	}
	t.Errorf("no volume holds the data folder %q", feed.Environment["NUTTX_FEED_DATA"])
}

// checkComposeStop: Docker waits for the server's shutdown as long as
// systemd does.
func checkComposeStop(t *testing.T, feed composeService) {
	t.Helper()
	grace, err1 := time.ParseDuration(feed.StopGracePeriod)
	timeout, err2 := time.ParseDuration(unitValue(t, deployUnit, "TimeoutStopSec"))
	if err1 != nil || err2 != nil || grace != timeout {
		t.Errorf("stop_grace_period %q and the unit's TimeoutStopSec %q: want the same duration", feed.StopGracePeriod, unitValue(t, deployUnit, "TimeoutStopSec"))
	}
}

// checkComposeProxy: nuttx-feed listens on the network that it shares with
// cloudflared, and trusts cloudflared's fixed address only, which lies in
// the subnet but outside the range other containers draw from.
func checkComposeProxy(t *testing.T, p composeProject, feed, cf composeService) {
	t.Helper()
	if host, _, _ := strings.Cut(feed.Environment["NUTTX_FEED_LISTEN"], ":"); host != "0.0.0.0" {
		t.Errorf("nuttx-feed listens on %q: cloudflared cannot reach it", feed.Environment["NUTTX_FEED_LISTEN"])
	}
	for name, attached := range cf.Networks {
		if _, ok := feed.Networks[name]; !ok {
			t.Errorf("nuttx-feed is not on cloudflared's network %s", name)
		}
		addr, err := netip.ParseAddr(attached.IPv4Address)
		if err != nil {
			t.Errorf("cloudflared's address on %s: %v", name, err)
			continue
		}
		if trusted := feed.Environment["NUTTX_FEED_TRUSTED_PROXIES"]; trusted != addr.String() {
			t.Errorf("NUTTX_FEED_TRUSTED_PROXIES=%q, want cloudflared's address %s alone", trusted, addr)
		}
		for _, c := range p.Networks[name].IPAM.Config {
			subnet, err1 := netip.ParsePrefix(c.Subnet)
			pool, err2 := netip.ParsePrefix(c.IPRange)
			if err1 != nil || err2 != nil || !subnet.Contains(addr) || pool.Contains(addr) {
				t.Errorf("network %s: cloudflared's %s must be in the subnet %q and outside the ip_range %q", name, addr, c.Subnet, c.IPRange)
			}
		}
	}
	if len(cf.Networks) == 0 {
		t.Error("cloudflared has no network of its own")
	}
}

func readFile(t *testing.T, path string) string { return string(readFileBytes(t, path)) }

func readFileBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lastLines returns the last n lines of out.
func lastLines(out []byte, n int) string {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
