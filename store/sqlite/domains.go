package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/internal/sqlrow"
)

var _ store.DomainStore = (*Store)(nil)

// ReplaceDomains makes rows the whole inventory of account.
func (s *Store) ReplaceDomains(ctx context.Context, account string, rows []store.Domain) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM domains WHERE account = ?`, account); err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO domains
			(account, name, domain_id, status, method, validated, expires, reason, refreshed)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, d := range rows {
			if _, err := st.ExecContext(ctx, account, d.Name, d.ID, d.Status, d.Method,
				sqlrow.UnixNano(d.Validated), sqlrow.UnixNano(d.Expires), d.Reason, sqlrow.UnixNano(d.Refreshed)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: replace %d domains of %s: %w", len(rows), account, err)
	}
	return nil
}

// Domains returns the inventory of account ("" = all), soonest expiry first.
func (s *Store) Domains(ctx context.Context, account string) ([]store.Domain, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT account, name, domain_id, status, method, validated, expires, reason, refreshed
		FROM domains WHERE ? = '' OR account = ? ORDER BY expires, name, account`, account, account)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list domains: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.Collect(rows, sqlrow.ScanDomain)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list domains: %w", err)
	}
	return out, nil
}

// PutPersist stores a persistent record dcvd published.
func (s *Store) PutPersist(ctx context.Context, r store.PersistRecord) error {
	if r.Created.IsZero() {
		r.Created = time.Now()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO persist (domain, value, fqdn, backend, zone, state, checked, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (domain, value) DO UPDATE SET fqdn = excluded.fqdn, backend = excluded.backend,
			zone = excluded.zone, state = excluded.state, checked = excluded.checked`,
		r.Domain, r.Value, r.FQDN, r.Backend, r.Zone, r.State, sqlrow.UnixNano(r.Checked), sqlrow.UnixNano(r.Created))
	if err != nil {
		return fmt.Errorf("sqlite: store persistent record of %s: %w", r.Domain, err)
	}
	return nil
}

// DeletePersist forgets the record of domain with value.
func (s *Store) DeletePersist(ctx context.Context, domain, value string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM persist WHERE domain = ? AND value = ?`, domain, value); err != nil {
		return fmt.Errorf("sqlite: forget persistent record of %s: %w", domain, err)
	}
	return nil
}

// PersistRecords lists every persistent record dcvd published.
func (s *Store) PersistRecords(ctx context.Context) ([]store.PersistRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT domain, value, fqdn, backend, zone, state, checked, created
		FROM persist ORDER BY domain, value`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list persistent records: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.Collect(rows, sqlrow.ScanPersist)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list persistent records: %w", err)
	}
	return out, nil
}
