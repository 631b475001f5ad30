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
	err := s.tx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for i := range entries {
			e := &entries[i]
			if e.Time.IsZero() {
				e.Time = now
			}
			ev, err := store.EncodeEvidence(e.Evidence)
			if err != nil {
				return err
			}
			b.Queue(`INSERT INTO audit (at, kind, actor, challenge, account, order_id, name, type, value,
				backend, zone, serial, result, detail, took, evidence)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id`,
				e.Time.UnixNano(), e.Kind, e.Actor, e.Challenge, e.Account, e.Order, strings.TrimSuffix(e.Name, "."),
				e.Type, e.Value, e.Backend, e.Zone, int64(e.Serial), e.Result, e.Detail, int64(e.Took), ev)
		}
		res := tx.SendBatch(ctx, b)
		for i := range entries {
			if err := res.QueryRow().Scan(&entries[i].ID); err != nil {
				res.Close()
				return err
			}
		}
		return res.Close()
	})
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
