package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/internal/sqlrow"
)

// AppendAudit adds entries in one transaction.
func (s *Store) AppendAudit(ctx context.Context, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	now := time.Now()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO audit (at, kind, actor, challenge, account, order_id, name, type, value,
			backend, zone, serial, result, detail, took, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for i := range entries {
			e := &entries[i]
			name, ev, err := sqlrow.AuditFields(e, now)
			if err != nil {
				return err
			}
			res, err := st.ExecContext(ctx, e.Time.UnixNano(), e.Kind, e.Actor, e.Challenge, e.Account, e.Order,
				name, e.Type, e.Value, e.Backend, e.Zone, int64(e.Serial), e.Result, e.Detail, int64(e.Took), ev)
			if err != nil {
				return err
			}
			if e.ID, err = res.LastInsertId(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: append %d audit entries: %w", len(entries), err)
	}
	return nil
}

// Audit returns matching entries, newest first.
func (s *Store) Audit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	q, args := auditQuery(f)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read audit: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.Collect(rows, sqlrow.ScanAudit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read audit: %w", err)
	}
	return out, nil
}

// auditQuery is Audit's SELECT for f, with its arguments. A name is
// compared without case, which the audit_name index (migration 13) serves.
func auditQuery(f store.AuditFilter) (string, []any) {
	var where []string
	var args []any
	if !f.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, f.Since.UnixNano())
	}
	if f.Name != "" {
		where = append(where, "name = ? COLLATE NOCASE")
		args = append(args, strings.TrimSuffix(f.Name, "."))
	}
	if f.Challenge != 0 {
		where = append(where, "challenge = ?")
		args = append(args, f.Challenge)
	}
	if f.Backend != "" {
		where = append(where, "backend = ?")
		args = append(args, f.Backend)
	}
	if len(f.Kinds) > 0 {
		where = append(where, "kind IN (?"+strings.Repeat(", ?", len(f.Kinds)-1)+")")
		for _, k := range f.Kinds {
			args = append(args, k)
		}
	}
	q := `SELECT id, at, kind, actor, challenge, account, order_id, name, type, value, backend, zone, serial,
		result, detail, took, evidence FROM audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	return q, args
}

// PruneAudit deletes entries older than before.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM audit WHERE at < ?`, before.UnixNano())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune audit: %w", err)
	}
	return n, nil
}
