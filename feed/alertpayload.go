package feed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Alertmanager's webhook payload, version 4
// (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config),
// read and checked whole before anything is done with it.

// MaxAlerts bounds the alerts of one notification: Alertmanager's
// max_alerts should stay at or under it.
const MaxAlerts = 1000

// Statuses of an alert, and of a notification.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// AlertNotification is one notification of Alertmanager: a group of
// alerts sent together.
type AlertNotification struct {
	Receiver          string
	Status            string // firing or resolved: the group's
	GroupKey          string
	TruncatedAlerts   int // alerts left out by max_alerts
	GroupLabels       map[string]string
	CommonLabels      map[string]string
	CommonAnnotations map[string]string
	ExternalURL       string // Alertmanager's own page
	Alerts            []Alert
}

// Alert is one alert of a notification.
type Alert struct {
	Status       string // firing or resolved
	Labels       map[string]string
	Annotations  map[string]string
	StartsAt     time.Time // to the millisecond
	EndsAt       time.Time // to the millisecond; zero while firing
	GeneratorURL string    // the rule's graph in Prometheus
	Fingerprint  string    // what makes it the same alert
}

// Name is the alert's alertname label.
func (a Alert) Name() string { return a.Labels["alertname"] }

// payload is the JSON of a notification as Alertmanager sends it.
type payload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []payloadAlert    `json:"alerts"`
}

type payloadAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// maxFingerprint bounds a fingerprint's length (Alertmanager's are 16 hex
// digits).
const maxFingerprint = 64

// MaxClockSkew is how far past the receiver's clock an alert may start
// (or, resolved, end): Prometheus's clock may be a little ahead.
const MaxClockSkew = 10 * time.Minute

// CheckTimes refuses a notification with an alert that starts, or
// resolved ends, more than MaxClockSkew after now. Such a time (a clock
// far ahead, or a forged one) would make every later notification of the
// alert look older than it, and so silence the alert for good. The error
// names the alert, in one line.
func (n AlertNotification) CheckTimes(now time.Time) error {
	limit := now.Add(MaxClockSkew)
	for i, a := range n.Alerts {
		switch {
		case a.StartsAt.After(limit):
			return fmt.Errorf("alerts[%d]: startsAt %s is in the future (now %s)", i, a.StartsAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		case a.Status == AlertResolved && a.EndsAt.After(limit):
			return fmt.Errorf("alerts[%d]: resolved, but endsAt %s is in the future (now %s)", i, a.EndsAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// ParseAlertPayload reads and checks a notification: version "4", one JSON
// object, a known status, 1 to MaxAlerts alerts each with a fingerprint of
// its own, a known status and valid times (a resolved alert ends, at or
// after its start). The error says what is wrong, in one line.
func ParseAlertPayload(body []byte) (AlertNotification, error) {
	var p payload
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p); err != nil {
		return AlertNotification{}, fmt.Errorf("malformed JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return AlertNotification{}, errors.New("malformed JSON: data after the object")
	}
	switch {
	case p.Version != "4":
		return AlertNotification{}, fmt.Errorf("unsupported payload version %q: want \"4\"", p.Version)
	case !validStatus(p.Status):
		return AlertNotification{}, fmt.Errorf("status %q: want firing or resolved", p.Status)
	case len(p.Alerts) == 0:
		return AlertNotification{}, errors.New("no alerts")
	case len(p.Alerts) > MaxAlerts:
		return AlertNotification{}, fmt.Errorf("%d alerts: at most %d in one notification (set max_alerts)", len(p.Alerts), MaxAlerts)
	}
	n := AlertNotification{Receiver: p.Receiver, Status: p.Status, GroupKey: p.GroupKey, TruncatedAlerts: p.TruncatedAlerts,
		GroupLabels: p.GroupLabels, CommonLabels: p.CommonLabels, CommonAnnotations: p.CommonAnnotations, ExternalURL: p.ExternalURL}
	seen := map[string]int{}
	for i, pa := range p.Alerts {
		a, err := pa.check()
		if err != nil {
			return AlertNotification{}, fmt.Errorf("alerts[%d]: %w", i, err)
		}
		if j, ok := seen[a.Fingerprint]; ok {
			return AlertNotification{}, fmt.Errorf("alerts[%d]: fingerprint %q repeats alerts[%d]", i, a.Fingerprint, j)
		}
		seen[a.Fingerprint] = i
		n.Alerts = append(n.Alerts, a)
	}
	return n, nil
}

func validStatus(s string) bool { return s == AlertFiring || s == AlertResolved }

// check turns one alert of the payload into an Alert, or says what is
// wrong with it.
func (pa payloadAlert) check() (Alert, error) {
	a := Alert{Status: pa.Status, Labels: pa.Labels, Annotations: pa.Annotations, GeneratorURL: pa.GeneratorURL, Fingerprint: pa.Fingerprint}
	switch {
	case a.Fingerprint == "":
		return Alert{}, errors.New("missing fingerprint")
	case len(a.Fingerprint) > maxFingerprint:
		return Alert{}, fmt.Errorf("fingerprint longer than %d characters", maxFingerprint)
	case !validStatus(a.Status):
		return Alert{}, fmt.Errorf("status %q: want firing or resolved", a.Status)
	}
	var err error
	if a.StartsAt, err = alertTime("startsAt", pa.StartsAt); err != nil {
		return Alert{}, err
	}
	if a.StartsAt.IsZero() {
		return Alert{}, errors.New("missing startsAt")
	}
	ends, err := alertTime("endsAt", pa.EndsAt)
	if err != nil {
		return Alert{}, err
	}
	if a.Status == AlertResolved {
		switch {
		case ends.IsZero():
			return Alert{}, errors.New("resolved without endsAt")
		case ends.Before(a.StartsAt):
			return Alert{}, fmt.Errorf("endsAt %s is before startsAt %s", pa.EndsAt, pa.StartsAt)
		}
		a.EndsAt = ends
	}
	return a, nil
}

// alertTime parses an RFC 3339 time of the payload, to the millisecond;
// "" and Go's zero time (which Alertmanager sends for a firing alert's
// endsAt) are the zero time.
func alertTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: not an RFC 3339 time", field, s)
	}
	if t.Year() <= 1 {
		return time.Time{}, nil
	}
	return t.UTC().Truncate(time.Millisecond), nil
}
