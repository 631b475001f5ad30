// Package sqlrow is what the SQLite and PostgreSQL stores share about a
// challenge row: its columns, how a store.Challenge becomes the insert's
// arguments and how a scanned row becomes one again, the time encoding
// (Unix nanoseconds, 0 for the zero time), and the loop that collects rows.
// The SQL dialects (placeholders, locking, upserts) stay in each store.
package sqlrow

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/store"
)

// Columns are the challenge columns ScanChallenge reads, in its order.
const Columns = `id, version, account, order_id, name, key, rec_fqdn, rec_type, rec_value, rec_ttl,
	rec_keyauth, expires, ref, backend, zone, state, dns, serial, attempts, next_at, reason, created, updated,
	owner, lease_until, caa_names`

// InsertColumns are the columns InsertArgs gives values for, in its order.
const InsertColumns = `account, order_id, name, key, rec_fqdn, rec_type, rec_value, rec_ttl,
	rec_keyauth, rec_key, expires, ref, backend, zone, state, dns, serial, attempts, next_at, reason,
	created, updated, caa_names`

// UnixNano encodes t; the zero time is 0.
func UnixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// FromUnixNano decodes UnixNano's encoding.
func FromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Fill completes a row about to be inserted.
func Fill(c *store.Challenge, now time.Time) {
	if c.Key == "" {
		c.Key = c.Record.Key()
	}
	if c.State == "" {
		c.State = store.Discovered
	}
	c.Version = 1
	c.Created, c.Updated = now, now
}

// InsertArgs returns c's values for InsertColumns.
func InsertArgs(c *store.Challenge) []any {
	r := c.Record
	return []any{c.Account, c.Order, c.Name, c.Key, r.FQDN, string(r.Type), r.Value, int64(r.TTL),
		r.KeyAuth, r.Key(), UnixNano(c.Expires), c.Ref, c.Backend, c.Zone, string(c.State),
		string(c.DNS), int64(c.Serial), c.Attempts, UnixNano(c.NextAt), c.Reason,
		UnixNano(c.Created), UnixNano(c.Updated), strings.Join(c.CAANames, " ")}
}

// Scanner is one row of either driver (*sql.Row, *sql.Rows, pgx.Row).
type Scanner interface{ Scan(dest ...any) error }

// ScanChallenge reads a row selected with Columns.
func ScanChallenge(sc Scanner) (store.Challenge, error) {
	var (
		c                                          store.Challenge
		typ, state, dnsState, caa                  string
		ttl, serial, exp, next, crt, updted, lease int64
	)
	err := sc.Scan(&c.ID, &c.Version, &c.Account, &c.Order, &c.Name, &c.Key, &c.Record.FQDN, &typ,
		&c.Record.Value, &ttl, &c.Record.KeyAuth, &exp, &c.Ref, &c.Backend, &c.Zone, &state, &dnsState,
		&serial, &c.Attempts, &next, &c.Reason, &crt, &updted, &c.Owner, &lease, &caa)
	if err != nil {
		return c, err
	}
	c.Record.Type = dnspublish.Type(typ)
	c.Record.TTL = uint32(ttl)
	c.State, c.DNS = store.State(state), store.DNSState(dnsState)
	c.Serial = uint32(serial)
	c.Expires, c.NextAt = FromUnixNano(exp), FromUnixNano(next)
	c.Created, c.Updated = FromUnixNano(crt), FromUnixNano(updted)
	c.LeaseUntil = FromUnixNano(lease)
	if caa != "" {
		c.CAANames = strings.Fields(caa)
	}
	return c, nil
}

// Rows is a result set of either driver (*sql.Rows, pgx.Rows); the caller
// closes it.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Collect scans every row with scan.
func Collect[T any](rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ScanPersist reads a persist row (domain, value, fqdn, backend, zone,
// state, checked, created).
func ScanPersist(sc Scanner) (store.PersistRecord, error) {
	var r store.PersistRecord
	var c, cr int64
	err := sc.Scan(&r.Domain, &r.Value, &r.FQDN, &r.Backend, &r.Zone, &r.State, &c, &cr)
	r.Checked, r.Created = FromUnixNano(c), FromUnixNano(cr)
	return r, err
}

// AuditFields prepares an entry for its insert: a zero Time becomes now, and
// it returns the stored name (no trailing dot) and the encoded evidence.
func AuditFields(e *store.AuditEntry, now time.Time) (name, evidence string, err error) {
	if e.Time.IsZero() {
		e.Time = now
	}
	evidence, err = store.EncodeEvidence(e.Evidence)
	return strings.TrimSuffix(e.Name, "."), evidence, err
}

// ScanAudit reads an audit row (id, at, kind, actor, challenge, account,
// order_id, name, type, value, backend, zone, serial, result, detail, took,
// evidence as JSON).
func ScanAudit(sc Scanner) (store.AuditEntry, error) {
	var e store.AuditEntry
	var at, serial, took int64
	var ev string
	if err := sc.Scan(&e.ID, &at, &e.Kind, &e.Actor, &e.Challenge, &e.Account, &e.Order, &e.Name, &e.Type, &e.Value,
		&e.Backend, &e.Zone, &serial, &e.Result, &e.Detail, &took, &ev); err != nil {
		return e, err
	}
	e.Time, e.Serial, e.Took = time.Unix(0, at), uint32(serial), time.Duration(took)
	if ev != "" {
		if err := json.Unmarshal([]byte(ev), &e.Evidence); err != nil {
			return e, fmt.Errorf("audit row %d: evidence: %w", e.ID, err)
		}
	}
	return e, nil
}

// ScanDomain reads a domains row (account, name, domain_id, status, method,
// validated, expires, reason, refreshed).
func ScanDomain(sc Scanner) (store.Domain, error) {
	var d store.Domain
	var v, e, r int64
	err := sc.Scan(&d.Account, &d.Name, &d.ID, &d.Status, &d.Method, &v, &e, &d.Reason, &r)
	d.Validated, d.Expires, d.Refreshed = FromUnixNano(v), FromUnixNano(e), FromUnixNano(r)
	return d, err
}

// ScanRecord reads a records row (fqdn, type, value, ttl, keyauth).
func ScanRecord(sc Scanner) (dnspublish.Record, error) {
	var (
		r   dnspublish.Record
		typ string
		ttl int64
	)
	err := sc.Scan(&r.FQDN, &typ, &r.Value, &ttl, &r.KeyAuth)
	r.Type, r.TTL = dnspublish.Type(typ), uint32(ttl)
	return r, err
}

// ScanLease reads a leases aggregate (owner, account, count, min
// lease_until).
func ScanLease(sc Scanner) (store.Lease, error) {
	var l store.Lease
	var until int64
	err := sc.Scan(&l.Owner, &l.Account, &l.Rows, &until)
	l.Until = FromUnixNano(until)
	return l, err
}
