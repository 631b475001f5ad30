package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/store/internal/sqlrow"
)

// NotifyChannel is the LISTEN/NOTIFY channel every write to the embedded
// server's records is announced on; the payload is the backend name.
const NotifyChannel = "dcvd_records"

// AddRecords stores recs for backend in one transaction (a known key keeps
// its row; only its TTL follows the latest write) and notifies listeners
// when it commits.
func (s *Store) AddRecords(ctx context.Context, backend string, recs []dnspublish.Record) error {
	now := time.Now().UnixNano()
	err := s.tx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, r := range recs {
			b.Queue(`INSERT INTO records (backend, key, fqdn, type, value, ttl, keyauth, created)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT (backend, key) DO UPDATE SET ttl = excluded.ttl`,
				backend, r.Key(), r.FQDN, string(r.Type), r.Value, int64(r.TTL), r.KeyAuth, now)
		}
		b.Queue(`SELECT pg_notify($1, $2)`, NotifyChannel, backend)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: add %d records for %s: %w", len(recs), backend, err)
	}
	return nil
}

// RemoveRecords deletes exactly these values of backend; absent ones are
// ignored. Listeners are notified when it commits.
func (s *Store) RemoveRecords(ctx context.Context, backend string, recs []dnspublish.Record) error {
	keys := make([]string, len(recs))
	for i, r := range recs {
		keys[i] = r.Key()
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM records WHERE backend = $1 AND key = ANY($2)`, backend, keys)
		b.Queue(`SELECT pg_notify($1, $2)`, NotifyChannel, backend)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: remove %d records for %s: %w", len(recs), backend, err)
	}
	return nil
}

// Records lists every record stored for backend, by name.
func (s *Store) Records(ctx context.Context, backend string) ([]dnspublish.Record, error) {
	rows, err := s.pool.Query(ctx, `SELECT fqdn, type, value, ttl, keyauth FROM records
		WHERE backend = $1 ORDER BY fqdn, type, value`, backend)
	if err != nil {
		return nil, fmt.Errorf("postgres: records of %s: %w", backend, err)
	}
	defer rows.Close()
	out, err := sqlrow.Collect(rows, sqlrow.ScanRecord)
	if err != nil {
		return nil, fmt.Errorf("postgres: records of %s: %w", backend, err)
	}
	return out, nil
}

// WatchRecords implements dnspublish.RecordWatcher: a connection of its own
// LISTENs on NotifyChannel and the channel receives after every committed
// write to backend's records, by any instance. A lost connection is
// re-established (with a wake-up, since writes may have been missed) until
// ctx ends; then the channel closes.
func (s *Store) WatchRecords(ctx context.Context, backend string) (<-chan struct{}, error) {
	conn, err := s.listen(ctx)
	if err != nil {
		return nil, err
	}
	out := make(chan struct{}, 1)
	wake := func() {
		select {
		case out <- struct{}{}:
		default:
		}
	}
	go func() {
		defer close(out)
		for ctx.Err() == nil {
			n, err := conn.Conn().WaitForNotification(ctx)
			if err == nil {
				if n.Payload == backend {
					wake()
				}
				continue
			}
			conn.Release()
			conn = nil
			for ctx.Err() == nil && conn == nil {
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
					if conn, _ = s.listen(ctx); conn != nil {
						wake()
					}
				}
			}
		}
		if conn != nil {
			conn.Hijack().Close(context.Background())
		}
	}()
	return out, nil
}

func (s *Store) listen(ctx context.Context) (*pgxpool.Conn, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: listen: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		conn.Release()
		return nil, fmt.Errorf("postgres: listen: %w", err)
	}
	return conn, nil
}
