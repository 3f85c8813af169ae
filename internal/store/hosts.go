package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The breaker's state, one row per registrable domain whose deliveries
// fail now (table delivery_hosts). activitypub decides; this file keeps.

// Host states.
const (
	// HostFailing: deliveries still go out; failures are counted.
	HostFailing = "failing"
	// HostHeld: deliveries wait, set aside; one probe at NextProbe.
	HostHeld = "held"
	// HostParked: deliveries wait and no probe goes until a revival.
	HostParked = "parked"
)

// Host is the breaker state of a domain whose deliveries fail.
type Host struct {
	Domain       string
	State        string
	Failures     int // in a row
	FailingSince time.Time
	Probes       int       // failed probes while held
	NextProbe    time.Time // zero while a probe is out, and when parked
}

// Host returns the state of domain; ok is false when it is not failing.
func (tx *Tx) Host(domain string) (h Host, ok bool, err error) {
	var since int64
	var next sql.NullInt64
	err = tx.queryRow(`SELECT domain, state, failures, failing_since, probes, next_probe_at FROM delivery_hosts WHERE domain = ?`, domain).
		Scan(&h.Domain, &h.State, &h.Failures, &since, &h.Probes, &next)
	if errors.Is(err, sql.ErrNoRows) {
		return Host{}, false, nil
	}
	if err != nil {
		return Host{}, false, fmt.Errorf("host %s: %w", domain, err)
	}
	h.FailingSince = fromMS(since)
	if next.Valid {
		h.NextProbe = fromMS(next.Int64)
	}
	return h, true, nil
}

// SaveHost writes h. When h holds or parks its domain, the domain's
// pending deliveries are set aside.
func (tx *Tx) SaveHost(h Host) error {
	var next any
	if !h.NextProbe.IsZero() {
		next = ms(h.NextProbe)
	}
	if _, err := tx.exec(`INSERT INTO delivery_hosts (domain, state, failures, failing_since, probes, next_probe_at, changed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (domain) DO UPDATE SET state = excluded.state, failures = excluded.failures,
			failing_since = excluded.failing_since, probes = excluded.probes,
			next_probe_at = excluded.next_probe_at, changed_at = excluded.changed_at`,
		h.Domain, h.State, h.Failures, ms(h.FailingSince), h.Probes, next, ms(tx.Now)); err != nil {
		return fmt.Errorf("save host %s: %w", h.Domain, err)
	}
	if h.State == HostFailing {
		return nil
	}
	if _, err := tx.exec(`UPDATE deliveries SET claimed = 2 WHERE state = 'pending' AND claimed = 0 AND domain = ?`, h.Domain); err != nil {
		return fmt.Errorf("hold deliveries to %s: %w", h.Domain, err)
	}
	return nil
}

// ForgetHost clears domain's breaker (it answered, or was revived) and
// releases its held deliveries. It reports whether there was anything to
// clear.
func (tx *Tx) ForgetHost(domain string) (bool, error) {
	res, err := tx.exec(`DELETE FROM delivery_hosts WHERE domain = ?`, domain)
	if err != nil {
		return false, fmt.Errorf("forget host %s: %w", domain, err)
	}
	if _, err := tx.exec(`UPDATE deliveries SET claimed = 0 WHERE claimed = 2 AND domain = ?`, domain); err != nil {
		return false, fmt.Errorf("release deliveries to %s: %w", domain, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Hosts returns the domains with a breaker row, by state.
func (tx *Tx) Hosts() (map[string]string, error) {
	rows, err := tx.query(`SELECT domain, state FROM delivery_hosts`)
	if err != nil {
		return nil, fmt.Errorf("hosts: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var d, st string
		if err := rows.Scan(&d, &st); err != nil {
			return nil, fmt.Errorf("hosts: %w", err)
		}
		out[d] = st
	}
	return out, rows.Err()
}

const dueProbesSQL = `SELECT domain FROM delivery_hosts WHERE state = 'held' AND next_probe_at <= ?`

// ClaimProbes takes, for every held domain whose probe is due, its held
// delivery due the longest, marked Probe, and marks the probe out
// (NextProbe zero) until its outcome is recorded. A held domain with
// nothing left to deliver is forgotten.
func (tx *Tx) ClaimProbes() ([]Delivery, error) {
	rows, err := tx.queryHot(dueProbesSQL, ms(tx.Now))
	if err != nil {
		return nil, fmt.Errorf("due probes: %w", err)
	}
	domains, err := scanAll(rows, func(rows *sql.Rows) (string, error) {
		var d string
		return d, rows.Scan(&d)
	})
	if err != nil {
		return nil, fmt.Errorf("due probes: %w", err)
	}
	var out []Delivery
	for _, domain := range domains {
		ds, err := queryList(tx, scanDelivery, `UPDATE deliveries SET claimed = 1 WHERE id =
			(SELECT id FROM deliveries WHERE claimed = 2 AND domain = ? ORDER BY next_attempt_at, id LIMIT 1)
			RETURNING `+deliveryColumns, domain)
		if err != nil {
			return nil, fmt.Errorf("claim a probe of %s: %w", domain, err)
		}
		if len(ds) == 0 {
			if _, err := tx.ForgetHost(domain); err != nil {
				return nil, err
			}
			continue
		}
		if _, err := tx.exec(`UPDATE delivery_hosts SET next_probe_at = NULL WHERE domain = ?`, domain); err != nil {
			return nil, fmt.Errorf("probe %s: %w", domain, err)
		}
		ds[0].Probe = true
		out = append(out, ds[0])
	}
	return out, nil
}
