package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/store/internal/sqlrow"
)

// AddRecords stores recs for backend in one transaction. A record whose key
// (name, type, value) is already stored keeps its row; only its TTL follows
// the latest write.
func (s *Store) AddRecords(ctx context.Context, backend string, recs []dnspublish.Record) error {
	now := time.Now().UnixNano()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO records (backend, key, fqdn, type, value, ttl, keyauth, created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (backend, key) DO UPDATE SET ttl = excluded.ttl`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range recs {
			if _, err := st.ExecContext(ctx, backend, r.Key(), r.FQDN, string(r.Type), r.Value, int64(r.TTL), r.KeyAuth, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: add %d records for %s: %w", len(recs), backend, err)
	}
	return nil
}

// RemoveRecords deletes exactly these values of backend; absent ones are
// ignored.
func (s *Store) RemoveRecords(ctx context.Context, backend string, recs []dnspublish.Record) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `DELETE FROM records WHERE backend = ? AND key = ?`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range recs {
			if _, err := st.ExecContext(ctx, backend, r.Key()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: remove %d records for %s: %w", len(recs), backend, err)
	}
	return nil
}

// Records lists every record stored for backend, by name.
func (s *Store) Records(ctx context.Context, backend string) ([]dnspublish.Record, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT fqdn, type, value, ttl, keyauth FROM records
		WHERE backend = ? ORDER BY fqdn, type, value`, backend)
	if err != nil {
		return nil, fmt.Errorf("sqlite: records of %s: %w", backend, err)
	}
	defer rows.Close()
	out, err := sqlrow.Collect(rows, sqlrow.ScanRecord)
	if err != nil {
		return nil, fmt.Errorf("sqlite: records of %s: %w", backend, err)
	}
	return out, nil
}
