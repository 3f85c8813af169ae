package store

import (
	"database/sql"
	"fmt"
	"time"
)

// The state of Alertmanager's alerts (migrations/0014_alerts.sql): for
// each fingerprint, its latest episode and its thread.

// Alert is what the store knows of one alert.
type Alert struct {
	Fingerprint string
	Name        string    // its alertname label
	Firing      bool      // else resolved
	StartsAt    time.Time // of its latest episode, to the millisecond
	EndsAt      time.Time // when it resolved; zero while firing
	Thread      string    // root note IRI; "" when nothing was posted about it
	LastNote    string    // latest note IRI about it
}

// Alerts returns the stored state of each of the given fingerprints that
// has one.
func (tx *Tx) Alerts(fingerprints []string) (map[string]*Alert, error) {
	list, err := queryList(tx, func(rows *sql.Rows) (*Alert, error) {
		a := &Alert{}
		var status string
		var starts, ends int64
		if err := rows.Scan(&a.Fingerprint, &a.Name, &status, &starts, &ends, &a.Thread, &a.LastNote); err != nil {
			return nil, err
		}
		a.Firing, a.StartsAt = status == "firing", fromMS(starts)
		if ends != 0 {
			a.EndsAt = fromMS(ends)
		}
		return a, nil
	}, `SELECT fingerprint, name, status, starts_at, ends_at, thread, last_note FROM alerts
		WHERE fingerprint IN (SELECT value FROM json_each(?))`, jsonList(fingerprints))
	if err != nil {
		return nil, fmt.Errorf("alert state: %w", err)
	}
	out := make(map[string]*Alert, len(list))
	for _, a := range list {
		out[a.Fingerprint] = a
	}
	return out, nil
}

// SaveAlert records the state of an alert, replacing what was stored.
func (tx *Tx) SaveAlert(a Alert) error {
	status, ends := "resolved", int64(0)
	if a.Firing {
		status = "firing"
	}
	if !a.EndsAt.IsZero() {
		ends = ms(a.EndsAt)
	}
	_, err := tx.exec(`INSERT INTO alerts (fingerprint, name, status, starts_at, ends_at, thread, last_note, changed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (fingerprint) DO UPDATE SET name = excluded.name, status = excluded.status,
			starts_at = excluded.starts_at, ends_at = excluded.ends_at, thread = excluded.thread,
			last_note = excluded.last_note, changed_at = excluded.changed_at`,
		a.Fingerprint, a.Name, status, ms(a.StartsAt), ends, a.Thread, a.LastNote, ms(tx.Now))
	if err != nil {
		return fmt.Errorf("alert state: %w", err)
	}
	return nil
}
