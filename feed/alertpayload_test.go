package feed

import (
	"strings"
	"testing"
	"time"
)

// alertPayloadSample is a notification as Alertmanager 0.25 sends it (its
// documentation's shape, with the fields a Prometheus rule gives).
const alertPayloadSample = `{
  "receiver": "nuttx-feed", "status": "firing", "groupKey": "{}:{alertname=\"IngestStopped\"}",
  "truncatedAlerts": 0, "version": "4", "externalURL": "http://alertmanager.example:9093",
  "groupLabels": {"alertname": "IngestStopped"}, "commonLabels": {"alertname": "IngestStopped"},
  "commonAnnotations": {},
  "alerts": [
    {"status": "firing", "labels": {"alertname": "IngestStopped", "severity": "critical", "job": "ingest"},
     "annotations": {"summary": "The ingest job stopped"}, "startsAt": "2026-01-02T03:04:05.678901Z",
     "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up", "fingerprint": "a1b2c3d4e5f60718"},
    {"status": "resolved", "labels": {"alertname": "RunnerCost"}, "annotations": {},
     "startsAt": "2026-01-02T01:00:00Z", "endsAt": "2026-01-02T02:30:00Z", "generatorURL": "", "fingerprint": "00000000000000ff"}
  ]
}`

func TestParseAlertPayload(t *testing.T) {
	n, err := ParseAlertPayload([]byte(alertPayloadSample))
	if err != nil {
		t.Fatal(err)
	}
	if n.Receiver != "nuttx-feed" || n.Status != AlertFiring || n.ExternalURL != "http://alertmanager.example:9093" || len(n.Alerts) != 2 {
		t.Fatalf("notification %+v", n)
	}
	a, r := n.Alerts[0], n.Alerts[1]
	if a.Fingerprint != "a1b2c3d4e5f60718" || a.Name() != "IngestStopped" || a.Labels["severity"] != "critical" ||
		a.Annotations["summary"] != "The ingest job stopped" || a.GeneratorURL != "http://prometheus.example:9090/graph?g0.expr=up" {
		t.Errorf("firing alert %+v", a)
	}
	if want := time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC); !a.StartsAt.Equal(want) || !a.EndsAt.IsZero() {
		t.Errorf("firing alert from %s to %s, want from %s (to the millisecond) to zero", a.StartsAt, a.EndsAt, want)
	}
	if r.Status != AlertResolved || r.EndsAt.Sub(r.StartsAt) != 90*time.Minute {
		t.Errorf("resolved alert %+v", r)
	}
}

// alertJSON is the sample payload with replace applied to its text.
func alertJSON(replace ...string) string {
	return strings.NewReplacer(replace...).Replace(alertPayloadSample)
}

func TestParseAlertPayloadRefuses(t *testing.T) {
	many := `{"version": "4", "status": "firing", "alerts": [` +
		strings.Repeat(`{"status": "firing", "fingerprint": "f", "startsAt": "2026-01-02T01:00:00Z"},`, MaxAlerts) +
		`{"status": "firing", "fingerprint": "g", "startsAt": "2026-01-02T01:00:00Z"}]}`
	for _, c := range []struct{ name, body, want string }{
		{"not JSON", `alerts`, "malformed JSON: invalid character"},
		{"empty", ``, "malformed JSON: EOF"},
		{"cut short", alertPayloadSample[:200], "malformed JSON: unexpected EOF"},
		{"wrong type", alertJSON(`"truncatedAlerts": 0`, `"truncatedAlerts": "none"`), "malformed JSON: json: cannot unmarshal string"},
		{"two objects", alertPayloadSample + `{}`, "malformed JSON: data after the object"},
		{"no version", alertJSON(`"version": "4",`, ``), `unsupported payload version "": want "4"`},
		{"version 3", alertJSON(`"version": "4"`, `"version": "3"`), `unsupported payload version "3"`},
		{"bad status", alertJSON(`"status": "firing", "groupKey"`, `"status": "burning", "groupKey"`), `status "burning": want firing or resolved`},
		{"no alerts", `{"version": "4", "status": "firing", "alerts": []}`, "no alerts"},
		{"too many alerts", many, "1001 alerts: at most 1000 in one notification (set max_alerts)"},
		{"no fingerprint", alertJSON(`"fingerprint": "a1b2c3d4e5f60718"`, `"fingerprint": ""`), "alerts[0]: missing fingerprint"},
		{"long fingerprint", alertJSON(`"a1b2c3d4e5f60718"`, `"`+strings.Repeat("f", 65)+`"`), "alerts[0]: fingerprint longer than 64 characters"},
		{"same fingerprint", alertJSON(`"00000000000000ff"`, `"a1b2c3d4e5f60718"`), `alerts[1]: fingerprint "a1b2c3d4e5f60718" repeats alerts[0]`},
		{"alert status", alertJSON(`{"status": "resolved", "labels"`, `{"status": "gone", "labels"`), `alerts[1]: status "gone": want firing or resolved`},
		{"bad startsAt", alertJSON(`"2026-01-02T03:04:05.678901Z"`, `"yesterday"`), `alerts[0]: startsAt "yesterday": not an RFC 3339 time`},
		{"no startsAt", alertJSON(`"startsAt": "2026-01-02T03:04:05.678901Z",`, ``), "alerts[0]: missing startsAt"},
		{"zero startsAt", alertJSON(`"2026-01-02T03:04:05.678901Z"`, `"0001-01-01T00:00:00Z"`), "alerts[0]: missing startsAt"},
		{"bad endsAt", alertJSON(`"2026-01-02T02:30:00Z"`, `"2026-13-02T02:30:00Z"`), `alerts[1]: endsAt "2026-13-02T02:30:00Z": not an RFC 3339 time`},
		{"resolved never ends", alertJSON(`"endsAt": "2026-01-02T02:30:00Z"`, `"endsAt": "0001-01-01T00:00:00Z"`), "alerts[1]: resolved without endsAt"},
		{"ends before it starts", alertJSON(`"2026-01-02T02:30:00Z"`, `"2026-01-02T00:30:00Z"`), "alerts[1]: endsAt 2026-01-02T00:30:00Z is before startsAt 2026-01-02T01:00:00Z"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseAlertPayload([]byte(c.body))
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error on more than one line: %q", err)
			}
		})
	}
}

// FuzzAlertPayload feeds the parser anything: it must not panic, and what
// it accepts must keep the promises the plan relies on.
func FuzzAlertPayload(f *testing.F) {
	f.Add([]byte(alertPayloadSample))
	f.Add([]byte(alertJSON(`"firing"`, `"resolved"`)))
	f.Add([]byte(`{"version": "4", "status": "resolved", "alerts": [{"status": "resolved", "fingerprint": "x", "startsAt": "2026-01-02T01:00:00+02:00", "endsAt": "2026-01-02T01:00:00+01:00"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := ParseAlertPayload(body)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error on more than one line: %q", err)
			}
			return
		}
		if len(n.Alerts) == 0 || len(n.Alerts) > MaxAlerts || !validStatus(n.Status) {
			t.Fatalf("accepted %d alerts with status %q", len(n.Alerts), n.Status)
		}
		seen := map[string]bool{}
		for _, a := range n.Alerts {
			switch {
			case a.Fingerprint == "" || seen[a.Fingerprint]:
				t.Fatalf("accepted fingerprint %q (twice: %v)", a.Fingerprint, seen[a.Fingerprint])
			case !validStatus(a.Status) || a.StartsAt.IsZero():
				t.Fatalf("accepted %+v", a)
			case a.Status == AlertResolved && (a.EndsAt.IsZero() || a.EndsAt.Before(a.StartsAt)):
				t.Fatalf("accepted a resolved alert from %s to %s", a.StartsAt, a.EndsAt)
			case a.Status == AlertFiring && !a.EndsAt.IsZero():
				t.Fatalf("accepted a firing alert with an end %s", a.EndsAt)
			}
			seen[a.Fingerprint] = true
		}
	})
}
