package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/internal/sqlrow"
)

var _ store.DomainStore = (*Store)(nil)

// ReplaceDomains makes rows the whole inventory of account.
func (s *Store) ReplaceDomains(ctx context.Context, account string, rows []store.Domain) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM domains WHERE account = $1`, account); err != nil {
			return err
		}
		// Rows are handed to COPY one at a time through one buffer: an
		// inventory of 100,000 domains held as [][]any was ~55 MB more.
		seen := make(map[[2]string]struct{}, len(rows))
		buf := make([]any, 9)
		i := 0
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"domains"},
			[]string{"account", "name", "domain_id", "status", "method", "validated", "expires", "reason", "refreshed"},
			pgx.CopyFromFunc(func() ([]any, error) {
				for ; i < len(rows); i++ {
					d := &rows[i]
					k := [2]string{d.Name, d.ID}
					if _, dup := seen[k]; dup {
						continue
					}
					seen[k] = struct{}{}
					buf[0], buf[1], buf[2], buf[3], buf[4] = account, d.Name, d.ID, d.Status, d.Method
					buf[5], buf[6], buf[7], buf[8] = sqlrow.UnixNano(d.Validated), sqlrow.UnixNano(d.Expires), d.Reason, sqlrow.UnixNano(d.Refreshed)
					i++
					return buf, nil
				}
				return nil, nil
			}))
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: replace %d domains of %s: %w", len(rows), account, err)
	}
	return nil
}

// Domains returns the inventory of account ("" = all), soonest expiry first.
func (s *Store) Domains(ctx context.Context, account string) ([]store.Domain, error) {
	rows, err := s.pool.Query(ctx, `SELECT account, name, domain_id, status, method, validated, expires, reason, refreshed
		FROM domains WHERE $1 = '' OR account = $1 ORDER BY expires, name, account`, account)
	if err != nil {
		return nil, fmt.Errorf("postgres: list domains: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.Collect(rows, sqlrow.ScanDomain)
	if err != nil {
		return nil, fmt.Errorf("postgres: list domains: %w", err)
	}
	return out, nil
}

// PutPersist stores a persistent record dcvd published.
func (s *Store) PutPersist(ctx context.Context, r store.PersistRecord) error {
	if r.Created.IsZero() {
		r.Created = time.Now()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO persist (domain, value, fqdn, backend, zone, state, checked, created)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (domain, value) DO UPDATE SET fqdn = excluded.fqdn, backend = excluded.backend,
			zone = excluded.zone, state = excluded.state, checked = excluded.checked`,
		r.Domain, r.Value, r.FQDN, r.Backend, r.Zone, r.State, sqlrow.UnixNano(r.Checked), sqlrow.UnixNano(r.Created))
	if err != nil {
		return fmt.Errorf("postgres: store persistent record of %s: %w", r.Domain, err)
	}
	return nil
}

// DeletePersist forgets the record of domain with value.
func (s *Store) DeletePersist(ctx context.Context, domain, value string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM persist WHERE domain = $1 AND value = $2`, domain, value); err != nil {
		return fmt.Errorf("postgres: forget persistent record of %s: %w", domain, err)
	}
	return nil
}

// PersistRecords lists every persistent record dcvd published.
func (s *Store) PersistRecords(ctx context.Context) ([]store.PersistRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT domain, value, fqdn, backend, zone, state, checked, created
		FROM persist ORDER BY domain, value`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list persistent records: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.Collect(rows, sqlrow.ScanPersist)
	if err != nil {
		return nil, fmt.Errorf("postgres: list persistent records: %w", err)
	}
	return out, nil
}
