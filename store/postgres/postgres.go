// Package postgres is the store.Store that several dcvd instances share:
// one PostgreSQL database, reached with github.com/jackc/pgx/v5.
//
// It keeps the same contract and the same schema history as store/sqlite
// (schema version n means the same tables in both), so `dcvd store copy`
// moves an installation between them and store/storetest checks both.
//
//   - Migrations are applied by Open in one transaction under a
//     transaction-level advisory lock: two instances starting together
//     apply them once, the second waits and finds nothing to do.
//   - Save is a compare-and-swap on version for the whole batch.
//   - Claim takes rows with SELECT … FOR UPDATE SKIP LOCKED, so instances
//     claiming at once never wait on each other and never both get a row;
//     lease times come from the server's clock, so instances on hosts whose
//     clocks drift agree on when a lease ends.
//   - Lock is a session advisory lock on a connection held for it: it ends
//     when its holder's connection does (a killed instance's lock is freed
//     at once, not after a lease).
//   - Every write to the embedded server's records sends NOTIFY on channel
//     dcvd_records (payload: the backend name), so every instance's
//     embedded server reloads within milliseconds (Watch).
//
// Times are stored as Unix nanoseconds (BIGINT), as in SQLite.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dcvd/dcvd/store"
)

// Store is the PostgreSQL store.Store. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool

	mu    sync.Mutex
	locks map[string]heldLock // advisory locks this handle holds, by name
}

type heldLock struct {
	owner string
	conn  *pgxpool.Conn
}

var (
	_ store.Store    = (*Store)(nil)
	_ store.Migrator = (*Store)(nil)
)

// Open connects to dsn (a libpq URL or key=value string), checks the
// connection and brings the schema up to date.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors can quote the DSN, password included.
		return nil, errors.New("postgres: invalid dsn (expected postgres://user@host:port/db?… or host=… dbname=…)")
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect %s: %w", where(cfg), err)
	}
	s := &Store{pool: pool, locks: map[string]heldLock{}}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %s: %w", where(cfg), err)
	}
	return s, nil
}

// where names the server and database of cfg, never the password.
func where(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%s:%d/%s", c.Host, c.Port, c.Database)
}

// Ping checks that the database answers (`dcvd config check --online`).
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close releases the advisory locks and closes every connection.
func (s *Store) Close() error {
	s.mu.Lock()
	for name, l := range s.locks {
		l.conn.Release()
		delete(s.locks, name)
	}
	s.mu.Unlock()
	s.pool.Close()
	return nil
}

// tx runs fn in one transaction (read committed). A transaction PostgreSQL
// aborted to break a deadlock (40P01) is run again, up to three times: fn
// must start from scratch each time. Statements lock rows in ID order
// (Save, Renew, Release), so deadlocks are rare to begin with.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := pgx.BeginFunc(ctx, s.pool, fn)
		var pe *pgconn.PgError
		if attempt < 3 && errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001") {
			continue
		}
		return err
	}
}

// nowNS is the server's clock in Unix nanoseconds.
const nowNS = `(extract(epoch from clock_timestamp()) * 1000000000)::bigint`

// Check connects to dsn without changing anything and returns the schema
// version found (0: dcvd never ran there). For `dcvd config check --online`.
func Check(ctx context.Context, dsn string) (int, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return 0, errors.New("postgres: invalid dsn (expected postgres://user@host:port/db?… or host=… dbname=…)")
	}
	at := fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("postgres: connect %s: %w", at, err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("postgres %s: %w", at, err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := conn.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres %s: read schema version: %w", at, err)
	}
	return v, nil
}

// Migrations is how many schema versions this build knows.
func Migrations() int { return len(migrations) }
