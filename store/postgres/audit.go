package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/internal/sqlrow"
)

// AppendAudit adds entries in one transaction.
func (s *Store) AppendAudit(ctx context.Context, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	now := time.Now()
	n := len(entries)
	var (
		ids, ats, challenges, serials, tooks = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		kinds, actors, accounts, orders      = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		names, types, values, backends       = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		zones, results, details, evidence    = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	)
	for i := range entries {
		e := &entries[i]
		name, ev, err := sqlrow.AuditFields(e, now)
		if err != nil {
			return fmt.Errorf("postgres: append %d audit entries: %w", n, err)
		}
		ats[i], challenges[i], serials[i], tooks[i] = e.Time.UnixNano(), e.Challenge, int64(e.Serial), int64(e.Took)
		kinds[i], actors[i], accounts[i], orders[i] = e.Kind, e.Actor, e.Account, e.Order
		names[i], types[i], values[i], backends[i] = name, e.Type, e.Value, e.Backend
		zones[i], results[i], details[i], evidence[i] = e.Zone, e.Result, e.Detail, ev
	}
	// The IDs are taken from the sequence first, so each entry learns its
	// own; then every entry is one row of a single INSERT.
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence('audit', 'id')) FROM generate_series(1, $1)`, n)
		if err != nil {
			return err
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		copy(ids, got)
		_, err = tx.Exec(ctx, `INSERT INTO audit (id, at, kind, actor, challenge, account, order_id, name, type, value,
			backend, zone, serial, result, detail, took, evidence)
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[],
				$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::text[], $15::text[],
				$16::bigint[], $17::text[])`, pgx.QueryExecModeExec,
			ids, ats, kinds, actors, challenges, accounts, orders, names, types, values, backends, zones, serials,
			results, details, tooks, evidence)
		return err
	})
	if err == nil {
		for i := range entries {
			entries[i].ID = ids[i]
		}
	}
	if err != nil {
		return fmt.Errorf("postgres: append %d audit entries: %w", len(entries), err)
	}
	return nil
}

// Audit returns matching entries, newest first.
func (s *Store) Audit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= "+arg(f.Since.UnixNano()))
	}
	if f.Name != "" {
		where = append(where, "lower(name) = lower("+arg(strings.TrimSuffix(f.Name, "."))+")")
	}
	if f.Challenge != 0 {
		where = append(where, "challenge = "+arg(f.Challenge))
	}
	if f.Backend != "" {
		where = append(where, "backend = "+arg(f.Backend))
	}
	if len(f.Kinds) > 0 {
		where = append(where, "kind = ANY("+arg(f.Kinds)+")")
	}
	q := `SELECT id, at, kind, actor, challenge, account, order_id, name, type, value, backend, zone, serial,
		result, detail, took, evidence FROM audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC"
	if f.Limit > 0 {
		q += " LIMIT " + arg(f.Limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: read audit: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.Collect(rows, sqlrow.ScanAudit)
	if err != nil {
		return nil, fmt.Errorf("postgres: read audit: %w", err)
	}
	return out, nil
}

// PruneAudit deletes entries older than before.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM audit WHERE at < $1`, before.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("postgres: prune audit: %w", err)
	}
	return tag.RowsAffected(), nil
}
