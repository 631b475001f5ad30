package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/internal/sqlrow"
)

const columns = sqlrow.Columns

const insertSQL = `INSERT INTO challenges (version, ` + sqlrow.InsertColumns + `)
	VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)`

// updateSQL writes the fields that change as a row moves; identity, record
// and lease are left alone.
// When an owner is given (SaveHeld), its lease is extended too, by the
// server's clock like every lease.
const updateSQL = `UPDATE challenges SET version = version + 1, expires = $1, ref = $2, backend = $3,
	zone = $4, state = $5, dns = $6, serial = $7, attempts = $8, next_at = $9, reason = $10, updated = $11,
	lease_until = CASE WHEN owner <> '' AND owner = $14 THEN greatest(lease_until, ` + nowNS + ` + $15) ELSE lease_until END
	WHERE id = $12 AND version = $13`

const (
	activeStates = `'discovered','published','visible','triggering','submitted','validated'`
	ownedDNS     = `'adding','present','removing'`
)

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func query(ctx context.Context, q querier, sql string, args ...any) ([]store.Challenge, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return sqlrow.Collect(rows, sqlrow.ScanChallenge)
}

// Discover inserts the rows whose (Account, Key) is not known yet and
// returns how many were new. The unique index decides, so instances
// discovering the same challenge at once store it once.
func (s *Store) Discover(ctx context.Context, rows []store.Challenge) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	n := 0
	now := time.Now()
	// Inserted in (account, key) order: instances discovering the same
	// challenges at once wait on the unique index in the same order.
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	keyOf := func(i int) string {
		k := rows[i].Key
		if k == "" {
			k = rows[i].Record.Key()
		}
		return rows[i].Account + "\x00" + k
	}
	sort.Slice(order, func(a, b int) bool { return keyOf(order[a]) < keyOf(order[b]) })
	err := s.tx(ctx, func(tx pgx.Tx) error {
		n = 0
		b := &pgx.Batch{}
		for _, i := range order {
			c := rows[i]
			sqlrow.Fill(&c, now)
			b.Queue(insertSQL+` ON CONFLICT (account, key) DO NOTHING`, sqlrow.InsertArgs(&c)...)
		}
		res := tx.SendBatch(ctx, b)
		for range rows {
			tag, err := res.Exec()
			if err != nil {
				res.Close()
				return err
			}
			n += int(tag.RowsAffected())
		}
		return res.Close()
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: discover: %w", err)
	}
	return n, nil
}

// Insert adds rows in one transaction and fills their ID, Version,
// Created and Updated (and Key and State as Discover does).
func (s *Store) Insert(ctx context.Context, rows []*store.Challenge) error {
	if len(rows) == 0 {
		return nil
	}
	now := time.Now()
	ids := make([]int64, len(rows))
	err := s.tx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, r := range rows {
			c := *r
			sqlrow.Fill(&c, now)
			b.Queue(insertSQL+` RETURNING id`, sqlrow.InsertArgs(&c)...)
		}
		res := tx.SendBatch(ctx, b)
		for i := range rows {
			if err := res.QueryRow().Scan(&ids[i]); err != nil {
				res.Close()
				return err
			}
		}
		return res.Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: insert: %w", err)
	}
	for i, r := range rows {
		sqlrow.Fill(r, now)
		r.ID = ids[i]
	}
	return nil
}

// Work returns, oldest NextAt first, the rows whose NextAt has passed and
// that are still in the pipeline or terminal with a record the zone may
// still hold.
func (s *Store) Work(ctx context.Context, now time.Time, limit int) ([]store.Challenge, error) {
	q := `SELECT ` + columns + ` FROM challenges ch
		WHERE next_at <= $1 AND (state IN (` + activeStates + `) OR dns IN (` + ownedDNS + `))
		AND (owner = '' OR ` + leaseOver + `)
		ORDER BY next_at, id`
	args := []any{sqlrow.UnixNano(now)}
	if limit > 0 {
		q += ` LIMIT $2`
		args = append(args, limit)
	}
	out, err := query(ctx, s.pool, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: work: %w", err)
	}
	return out, nil
}

// Leases implements store.Store (the partial owner index covers it).
func (s *Store) Leases(ctx context.Context) ([]store.Lease, error) {
	rows, err := s.pool.Query(ctx, `SELECT ch.owner, ch.account, count(*), min(greatest(ch.lease_until, coalesce(b.until, 0)))
		FROM challenges ch LEFT JOIN beats b ON b.owner = ch.owner
		WHERE ch.owner <> '' AND (ch.lease_until > `+nowNS+` OR b.until > `+nowNS+`)
		GROUP BY ch.owner, ch.account ORDER BY ch.owner, ch.account`)
	if err != nil {
		return nil, fmt.Errorf("postgres: leases: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.Collect(rows, sqlrow.ScanLease)
	if err != nil {
		return nil, fmt.Errorf("postgres: leases: %w", err)
	}
	return out, nil
}

// List returns rows matching f, newest first.
func (s *Store) List(ctx context.Context, f store.Filter) ([]store.Challenge, error) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Account != "" {
		where = append(where, "account = "+arg(f.Account))
	}
	if f.Name != "" {
		where = append(where, "name = "+arg(f.Name))
	}
	if len(f.States) > 0 {
		states := make([]string, len(f.States))
		for i, st := range f.States {
			states[i] = string(st)
		}
		where = append(where, "state = ANY("+arg(states)+")")
	}
	q := `SELECT ` + columns + ` FROM challenges`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC"
	if f.Limit > 0 {
		q += " LIMIT " + arg(f.Limit)
	}
	out, err := query(ctx, s.pool, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list: %w", err)
	}
	return out, nil
}

// Get returns one row by ID; an unknown ID is an error wrapping
// store.ErrNotFound.
func (s *Store) Get(ctx context.Context, id int64) (store.Challenge, error) {
	c, err := sqlrow.ScanChallenge(s.pool.QueryRow(ctx, `SELECT `+columns+` FROM challenges WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("postgres: challenge %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("postgres: get challenge %d: %w", id, err)
	}
	return c, nil
}

// Save writes rows in one transaction, each only if its Version is still the
// one read; one stale row fails the batch with store.ErrConflict and writes
// nothing.
func (s *Store) Save(ctx context.Context, rows []*store.Challenge) error {
	return s.SaveHeld(ctx, rows, "", 0)
}

// SaveHeld implements store.Store: Save, extending owner's leases.
func (s *Store) SaveHeld(ctx context.Context, rows []*store.Challenge, owner string, lease time.Duration) error {
	if len(rows) == 0 {
		return nil
	}
	now := time.Now()
	var conflict int64
	// Rows are locked in ID order, as Claim, Renew and Release lock them:
	// two transactions never wait on each other crosswise.
	sorted := append([]*store.Challenge(nil), rows...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	err := s.tx(ctx, func(tx pgx.Tx) error {
		conflict = 0
		b := &pgx.Batch{}
		for _, c := range sorted {
			b.Queue(updateSQL, sqlrow.UnixNano(c.Expires), c.Ref, c.Backend, c.Zone, string(c.State), string(c.DNS),
				int64(c.Serial), c.Attempts, sqlrow.UnixNano(c.NextAt), c.Reason, sqlrow.UnixNano(now), c.ID, c.Version,
				owner, lease.Nanoseconds())
		}
		res := tx.SendBatch(ctx, b)
		for _, c := range sorted {
			tag, err := res.Exec()
			if err != nil {
				res.Close()
				return err
			}
			if tag.RowsAffected() != 1 && conflict == 0 {
				conflict = c.ID
			}
		}
		if err := res.Close(); err != nil {
			return err
		}
		if conflict != 0 {
			return store.ErrConflict
		}
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("postgres: save challenge %d: %w", conflict, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: save %d challenges: %w", len(rows), err)
	}
	for _, c := range rows {
		c.Version++
		c.Updated = now
	}
	return nil
}

// Holders counts, per record key, the rows other than except whose DNS state
// is adding or present.
func (s *Store) Holders(ctx context.Context, keys []string, except []int64) (map[string]int, error) {
	out := make(map[string]int, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	if except == nil {
		except = []int64{}
	}
	// Joins, not "= ANY": see idsJoin.
	rows, err := s.pool.Query(ctx, `SELECT ch.rec_key, count(*) FROM challenges ch
		WHERE ch.rec_key IN (SELECT unnest($1::text[])) AND ch.dns IN ('adding','present')
		AND NOT EXISTS (SELECT 1 FROM unnest($2::bigint[]) AS x(id) WHERE x.id = ch.id)
		GROUP BY ch.rec_key`, pgx.QueryExecModeExec, keys, except)
	if err != nil {
		return nil, fmt.Errorf("postgres: holders: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			key string
			n   int
		)
		if err := rows.Scan(&key, &n); err != nil {
			return nil, fmt.Errorf("postgres: holders: %w", err)
		}
		out[key] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: holders: %w", err)
	}
	return out, nil
}

// Counts returns how many rows are in each state.
func (s *Store) Counts(ctx context.Context) (map[store.State]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT state, count(*) FROM challenges GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("postgres: counts: %w", err)
	}
	defer rows.Close()
	out := map[store.State]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("postgres: counts: %w", err)
		}
		out[store.State(st)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: counts: %w", err)
	}
	return out, nil
}
