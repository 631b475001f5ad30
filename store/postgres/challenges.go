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

// saveSQL writes the fields that change as a row moves (identity, record
// and lease are left alone) for every row of a Save in one statement: the
// rows come as one array per column ($1–$12), are locked in ID order first
// (as Claim, Renew and Release lock them, so two transactions never wait on
// each other crosswise), and each is written only if its version is still
// the one read; RETURNING names the rows written. One statement instead of
// one per row: PostgreSQL's per-statement work (bind, plan, executor start,
// a round of the extended protocol) was most of a save's cost.
// When an owner is given (SaveHeld), its lease is extended too, by the
// server's clock like every lease.
const saveSQL = `WITH l AS (
		SELECT u.* FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[],
			$7::text[], $8::text[], $9::bigint[], $10::integer[], $11::bigint[], $12::text[])
			AS u(id, version, expires, ref, backend, zone, state, dns, serial, attempts, next_at, reason)
		JOIN challenges ch ON ch.id = u.id ORDER BY ch.id FOR UPDATE OF ch)
	UPDATE challenges SET version = challenges.version + 1, expires = l.expires, ref = l.ref,
		backend = l.backend, zone = l.zone, state = l.state, dns = l.dns, serial = l.serial,
		attempts = l.attempts, next_at = l.next_at, reason = l.reason, updated = $13,
		lease_until = CASE WHEN challenges.owner <> '' AND challenges.owner = $14
			THEN greatest(challenges.lease_until, ` + nowNS + ` + $15) ELSE challenges.lease_until END
	FROM l WHERE challenges.id = l.id AND challenges.version = l.version
	RETURNING challenges.id`

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
	args := make([][]any, len(order))
	for j, i := range order {
		c := rows[i]
		sqlrow.Fill(&c, now)
		args[j] = sqlrow.InsertArgs(&c)
	}
	arrays, casts, cols := columnArrays(args)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO challenges (version, `+sqlrow.InsertColumns+`)
			SELECT 1, `+cols+` FROM unnest(`+casts+`) WITH ORDINALITY AS u(`+cols+`, ord) ORDER BY ord
			ON CONFLICT (account, key) DO NOTHING`, append([]any{pgx.QueryExecModeExec}, arrays...)...)
		n = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: discover: %w", err)
	}
	return n, nil
}

// columnArrays turns rows of arguments (each as InsertArgs gives them) into
// one array per column, with the placeholders that type them ("$1::text[],
// …") and names for unnest's columns ("c1, …"): a thousand rows become one
// statement.
func columnArrays(rows [][]any) (arrays []any, casts, names string) {
	if len(rows) == 0 {
		return nil, "", ""
	}
	arrays = make([]any, len(rows[0]))
	cs, ns := make([]string, len(rows[0])), make([]string, len(rows[0]))
	for j, v := range rows[0] {
		switch v.(type) {
		case string:
			a := make([]string, len(rows))
			for i := range rows {
				a[i] = rows[i][j].(string)
			}
			arrays[j], cs[j] = a, fmt.Sprintf("$%d::text[]", j+1)
		case int64, int:
			a := make([]int64, len(rows))
			for i := range rows {
				switch x := rows[i][j].(type) {
				case int64:
					a[i] = x
				case int:
					a[i] = int64(x)
				}
			}
			arrays[j], cs[j] = a, fmt.Sprintf("$%d::bigint[]", j+1)
		default:
			panic(fmt.Sprintf("postgres: insert column %d has type %T", j, v))
		}
		ns[j] = fmt.Sprintf("c%d", j+1)
	}
	return arrays, strings.Join(cs, ", "), strings.Join(ns, ", ")
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
	n := len(rows)
	var (
		ids, versions, expires, serials, nexts = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		refs, backends, zones, states, dnss    = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		reasons                                = make([]string, n)
		attempts                               = make([]int32, n)
	)
	for i, c := range rows {
		ids[i], versions[i], expires[i], serials[i], nexts[i] = c.ID, c.Version, sqlrow.UnixNano(c.Expires), int64(c.Serial), sqlrow.UnixNano(c.NextAt)
		refs[i], backends[i], zones[i], states[i], dnss[i] = c.Ref, c.Backend, c.Zone, string(c.State), string(c.DNS)
		reasons[i], attempts[i] = c.Reason, int32(c.Attempts)
	}
	var conflict int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		conflict = 0
		res, err := tx.Query(ctx, saveSQL, pgx.QueryExecModeExec, ids, versions, expires, refs, backends, zones,
			states, dnss, serials, attempts, nexts, reasons, sqlrow.UnixNano(now), owner, lease.Nanoseconds())
		if err != nil {
			return err
		}
		saved, err := pgx.CollectRows(res, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		if len(saved) == n {
			return nil
		}
		// A row whose version moved on (or that is gone): nothing is
		// written; the error names the first such row in ID order.
		done := make(map[int64]bool, len(saved))
		for _, id := range saved {
			done[id] = true
		}
		for _, id := range ids {
			if !done[id] && (conflict == 0 || id < conflict) {
				conflict = id
			}
		}
		if conflict == 0 { // the same row twice in one save
			conflict = ids[0]
		}
		return store.ErrConflict
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
	skip := make(map[int64]bool, len(except))
	for _, id := range except {
		skip[id] = true
	}
	// One probe of challenges_rec_key per key, and the DNS state and the
	// rows excepted are looked at here: OFFSET 0 keeps the lateral
	// subquery from being pulled up into a join PostgreSQL may plan as a
	// scan of the whole table, and a condition on dns in SQL was planned
	// as a bitmap AND with challenges_dns, whose dead entries (every row
	// passes through adding and present) made each probe read the whole
	// index: seconds per call, minutes with two instances.
	rows, err := s.pool.Query(ctx, `SELECT k.key, h.id, h.dns FROM (SELECT DISTINCT unnest($1::text[]) AS key) k
		CROSS JOIN LATERAL (SELECT ch.id, ch.dns FROM challenges ch WHERE ch.rec_key = k.key OFFSET 0) h`,
		pgx.QueryExecModeExec, keys)
	if err != nil {
		return nil, fmt.Errorf("postgres: holders: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			key, dns string
			id       int64
		)
		if err := rows.Scan(&key, &id, &dns); err != nil {
			return nil, fmt.Errorf("postgres: holders: %w", err)
		}
		if !skip[id] && (dns == string(store.DNSAdding) || dns == string(store.DNSPresent)) {
			out[key]++
		}
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
