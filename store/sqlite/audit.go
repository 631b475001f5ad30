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

// AppendAudit adds entries in one transaction, auditChunk rows per
// statement.
func (s *Store) AppendAudit(ctx context.Context, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	now := time.Now()
	rows := make([][]any, len(entries))
	for i := range entries {
		e := &entries[i]
		name, ev, err := sqlrow.AuditFields(e, now)
		if err != nil {
			return fmt.Errorf("sqlite: append %d audit entries: %w", len(entries), err)
		}
		rows[i] = []any{nil, e.Time.UnixNano(), e.Kind, e.Actor, e.Challenge, e.Account, e.Order,
			name, e.Type, e.Value, e.Backend, e.Zone, int64(e.Serial), e.Result, e.Detail, int64(e.Took), ev}
	}
	parts, err := s.plan(ctx, "audit", len(entries), auditChunk, auditSQL)
	if err != nil {
		return fmt.Errorf("sqlite: append %d audit entries: %w", len(entries), err)
	}
	var last int64
	err = s.tx(ctx, func(tx *sql.Tx) error {
		// The IDs AUTOINCREMENT would give, given explicitly so each
		// entry learns its own: no other writer runs (BEGIN IMMEDIATE),
		// and an ID above every one used (even by pruned entries) is
		// recorded in sqlite_sequence as if SQLite had chosen it.
		if err := tx.QueryRowContext(ctx, `SELECT max(coalesce((SELECT max(id) FROM audit), 0),
			coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit'), 0))`).Scan(&last); err != nil {
			return err
		}
		for _, p := range parts {
			args := make([]any, 0, auditCols*p.size)
			for i, r := range rows[p.from:p.to] {
				r[0] = last + int64(p.from+i) + 1
				args = append(args, r...)
			}
			// Padding rows (NULL id) are filtered out.
			st := tx.StmtContext(ctx, p.stmt)
			_, err := st.ExecContext(ctx, args[:cap(args)]...)
			st.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: append %d audit entries: %w", len(entries), err)
	}
	for i := range entries {
		entries[i].ID = last + int64(i) + 1
	}
	return nil
}

const (
	auditChunk = 256
	auditCols  = 17
)

// auditSQL inserts n audit rows given with their IDs; rows whose ID is
// NULL (padding) are skipped.
func auditSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO audit (id, at, kind, actor, challenge, account, order_id, name, type, value,
		backend, zone, serial, result, detail, took, evidence) SELECT * FROM (VALUES `)
	row := "(" + strings.Repeat("?,", auditCols-1) + "?)"
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(row)
	}
	b.WriteString(`) WHERE column1 IS NOT NULL`)
	return b.String()
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
