package promtest

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Alertmanager is a real Prometheus Alertmanager on loopback, alone (no
// cluster gossip), with its own storage, that sends every alert to one
// webhook receiver.
type Alertmanager struct {
	Addr string // HOST:PORT, for Options.Alertmanager
	URL  string

	dir string
	cmd *exec.Cmd
}

// AlertmanagerOptions configure StartAlertmanager.
type AlertmanagerOptions struct {
	WebhookURL     string // where the receiver POSTs
	TokenFile      string // sent as Authorization: Bearer (credentials_file); "" for none
	GroupWait      string // Alertmanager durations: 1s when ""
	GroupInterval  string // 1s when ""
	RepeatInterval string // 2s when ""
	MaxAlerts      int    // the webhook's max_alerts; 0: all
}

// StartAlertmanager starts Debian's prometheus-alertmanager until the test
// ends, and waits until it answers.
func StartAlertmanager(tb testing.TB, o AlertmanagerOptions) *Alertmanager {
	tb.Helper()
	am, err := NewAlertmanager(o)
	Check(tb, err)
	tb.Cleanup(am.Close)
	return am
}

// NewAlertmanager is StartAlertmanager for programs that are not tests:
// Close stops it.
func NewAlertmanager(o AlertmanagerOptions) (_ *Alertmanager, err error) {
	bin, err := binary("prometheus-alertmanager")
	if err != nil {
		return nil, err
	}
	am := &Alertmanager{}
	defer func() {
		if err != nil {
			am.Close()
		}
	}()
	if am.dir, err = os.MkdirTemp("", "alertmanager-"); err != nil {
		return nil, err
	}
	if am.Addr, err = freeAddr(); err != nil {
		return nil, err
	}
	am.URL = "http://" + am.Addr
	config := filepath.Join(am.dir, "alertmanager.yml")
	if err := os.WriteFile(config, []byte(alertmanagerConfig(o)), 0o644); err != nil {
		return nil, err
	}
	am.cmd = exec.Command(bin, "--config.file="+config, "--storage.path="+filepath.Join(am.dir, "data"),
		"--web.listen-address="+am.Addr, "--cluster.listen-address=", "--log.level=warn")
	am.cmd.Stderr = logWriter("alertmanager")
	if err := am.cmd.Start(); err != nil {
		return nil, err
	}
	return am, waitReady(am.URL + "/-/ready")
}

// alertmanagerConfig routes every alert, grouped by alertname, to the one
// webhook receiver, with resolved notifications.
func alertmanagerConfig(o AlertmanagerOptions) string {
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	auth := ""
	if o.TokenFile != "" {
		auth = fmt.Sprintf("        http_config:\n          authorization:\n            credentials_file: %q\n", o.TokenFile)
	}
	return fmt.Sprintf(`route:
  receiver: nuttx-feed
  group_by: [alertname]
  group_wait: %s
  group_interval: %s
  repeat_interval: %s
receivers:
  - name: nuttx-feed
    webhook_configs:
      - url: %q
        send_resolved: true
        max_alerts: %d
%s`, or(o.GroupWait, "1s"), or(o.GroupInterval, "1s"), or(o.RepeatInterval, "2s"), o.WebhookURL, o.MaxAlerts, auth)
}

// Close stops Alertmanager and removes its files.
func (am *Alertmanager) Close() {
	stop(am.cmd)
	if am.dir != "" {
		os.RemoveAll(am.dir)
	}
}

// Notifications returns how many notifications the webhook receiver sent,
// and how many of them failed, from Alertmanager's own metrics.
func (am *Alertmanager) Notifications() (sent, failed int, err error) {
	resp, err := http.Get(am.URL + "/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !strings.Contains(name, `integration="webhook"`) {
			continue
		}
		n, _ := strconv.ParseFloat(value, 64)
		switch {
		case strings.HasPrefix(name, "alertmanager_notifications_total{"):
			sent += int(n)
		case strings.HasPrefix(name, "alertmanager_notifications_failed_total{"):
			failed += int(n) // per reason, in newer versions
		}
	}
	return sent, failed, sc.Err()
}
