package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/internal/sqlrow"
)

const columns = sqlrow.Columns

const insertSQL = `INSERT INTO challenges (version, ` + sqlrow.InsertColumns + `)
	VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// Non-terminal states the pipeline drives, and the DNS states in which a zone
// may hold a row's record (store.DNSState.Owned). Validated rows always need
// work: their record is removed next, then they become Cleaned.
const (
	activeStates = `'discovered','published','visible','triggering','submitted','validated'`
	ownedDNS     = `'adding','present','removing'`
)

func (s *Store) query(ctx context.Context, q string, args ...any) ([]store.Challenge, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return sqlrow.Collect(rows, sqlrow.ScanChallenge)
}

// Discover inserts the rows whose (Account, Key) is not known yet, in one
// transaction, and returns how many were new. An empty Key is set to
// Record.Key(); an empty State to store.Discovered.
func (s *Store) Discover(ctx context.Context, rows []store.Challenge) (int, error) {
	n := 0
	now := time.Now()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		n = 0
		exists, err := tx.PrepareContext(ctx, `SELECT 1 FROM challenges WHERE account = ? AND key = ? LIMIT 1`)
		if err != nil {
			return err
		}
		defer exists.Close()
		ins, err := tx.PrepareContext(ctx, insertSQL)
		if err != nil {
			return err
		}
		defer ins.Close()
		for i := range rows {
			c := rows[i]
			sqlrow.Fill(&c, now)
			var one int
			switch err := exists.QueryRowContext(ctx, c.Account, c.Key).Scan(&one); {
			case err == nil:
				continue
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			if _, err := ins.ExecContext(ctx, sqlrow.InsertArgs(&c)...); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: discover: %w", err)
	}
	return n, nil
}

// Insert adds rows unconditionally in one transaction and fills their ID,
// Version, Created and Updated (and Key and State as Discover does).
func (s *Store) Insert(ctx context.Context, rows []*store.Challenge) error {
	now := time.Now()
	ids := make([]int64, len(rows))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, insertSQL)
		if err != nil {
			return err
		}
		defer ins.Close()
		for i, r := range rows {
			c := *r
			sqlrow.Fill(&c, now)
			res, err := ins.ExecContext(ctx, sqlrow.InsertArgs(&c)...)
			if err != nil {
				return err
			}
			if ids[i], err = res.LastInsertId(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: insert: %w", err)
	}
	for i, r := range rows {
		sqlrow.Fill(r, now)
		r.ID = ids[i]
	}
	return nil
}

// Work returns, oldest NextAt first, the rows whose NextAt has passed and
// that are either still in the pipeline (Validated included: its record is
// removed next) or terminal with a record the zone may still hold. NextAt
// applies to the latter too, so a failing removal backs off like any step.
func (s *Store) Work(ctx context.Context, now time.Time, limit int) ([]store.Challenge, error) {
	if limit <= 0 {
		limit = -1
	}
	// INDEXED BY: the planner, left alone, merges the state and dns
	// indexes and sorts every active row before it applies the limit.
	out, err := s.query(ctx, `SELECT `+columns+` FROM challenges INDEXED BY challenges_due
		WHERE next_at <= ? AND (state IN (`+activeStates+`) OR dns IN (`+ownedDNS+`))
		AND (owner = '' OR `+leaseOver+`)
		ORDER BY next_at, id LIMIT ?`, sqlrow.UnixNano(now), sqlrow.UnixNano(time.Now()), sqlrow.UnixNano(time.Now()), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: work: %w", err)
	}
	return out, nil
}

// Leases implements store.Store.
func (s *Store) Leases(ctx context.Context) ([]store.Lease, error) {
	now := sqlrow.UnixNano(time.Now())
	rows, err := s.db.QueryContext(ctx, `SELECT c.owner, c.account, count(*), min(max(c.lease_until, coalesce(b.until, 0)))
		FROM challenges c LEFT JOIN beats b ON b.owner = c.owner
		WHERE c.owner <> '' AND (c.lease_until > ? OR b.until > ?)
		GROUP BY c.owner, c.account ORDER BY c.owner, c.account`, now, now)
	if err != nil {
		return nil, fmt.Errorf("sqlite: leases: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.Collect(rows, sqlrow.ScanLease)
	if err != nil {
		return nil, fmt.Errorf("sqlite: leases: %w", err)
	}
	return out, nil
}

// List returns rows matching f, newest first.
func (s *Store) List(ctx context.Context, f store.Filter) ([]store.Challenge, error) {
	var (
		where []string
		args  []any
	)
	if f.Account != "" {
		where = append(where, "account = ?")
		args = append(args, f.Account)
	}
	if f.Name != "" {
		where = append(where, "name = ?")
		args = append(args, f.Name)
	}
	if len(f.States) > 0 {
		where = append(where, "state IN (?"+strings.Repeat(",?", len(f.States)-1)+")")
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	q := `SELECT ` + columns + ` FROM challenges`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	out, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list: %w", err)
	}
	return out, nil
}

// Get returns one row by ID; an unknown ID is an error wrapping
// store.ErrNotFound.
func (s *Store) Get(ctx context.Context, id int64) (store.Challenge, error) {
	c, err := sqlrow.ScanChallenge(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM challenges WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("sqlite: challenge %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("sqlite: get challenge %d: %w", id, err)
	}
	return c, nil
}

// Save writes rows in one transaction, each only if its Version is still the
// one read. Account, Order, Name, CAANames, Key and Record are fixed when a row is
// inserted; Save writes every other field. One stale row fails the whole batch with store.ErrConflict and
// writes nothing; on success every passed row has its Version bumped and
// Updated set.
func (s *Store) Save(ctx context.Context, rows []*store.Challenge) error {
	return s.SaveHeld(ctx, rows, "", 0)
}

// SaveHeld implements store.Store: Save, extending owner's leases.
func (s *Store) SaveHeld(ctx context.Context, rows []*store.Challenge, owner string, lease time.Duration) error {
	if len(rows) == 0 {
		return nil
	}
	now := time.Now()
	until := sqlrow.UnixNano(now.Add(lease))
	parts, err := s.plan(ctx, "save", len(rows), saveChunk, saveSQL)
	if err != nil {
		return fmt.Errorf("sqlite: save %d challenges: %w", len(rows), err)
	}
	var conflict int64
	err = s.tx(ctx, func(tx *sql.Tx) error {
		for _, p := range parts {
			part := rows[p.from:p.to]
			args := make([]any, 0, 3+saveCols*p.size)
			args = append(args, sqlrow.UnixNano(now), owner, until)
			saved := make(map[int64]bool, len(part))
			for _, c := range part {
				if _, twice := saved[c.ID]; twice {
					conflict = c.ID // twice in one save: the second copy is stale
					return store.ErrConflict
				}
				saved[c.ID] = false
				args = append(args, c.ID, c.Version, sqlrow.UnixNano(c.Expires), c.Ref, c.Backend, c.Zone,
					string(c.State), string(c.DNS), int64(c.Serial), c.Attempts, sqlrow.UnixNano(c.NextAt), c.Reason)
			}
			// Padding rows (NULL id) match no row.
			args = args[:cap(args)]
			st := tx.StmtContext(ctx, p.stmt)
			res, err := st.QueryContext(ctx, args...)
			st.Close()
			if err != nil {
				return err
			}
			for res.Next() {
				var id int64
				if err := res.Scan(&id); err != nil {
					res.Close()
					return err
				}
				saved[id] = true
			}
			err = res.Err()
			res.Close()
			if err != nil {
				return err
			}
			for _, c := range part {
				if !saved[c.ID] {
					conflict = c.ID
					return store.ErrConflict
				}
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("sqlite: save challenge %d: %w", conflict, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: save %d challenges: %w", len(rows), err)
	}
	for _, c := range rows {
		c.Version++
		c.Updated = now
	}
	return nil
}

// Save writes up to saveChunk rows per statement: one UPDATE … FROM a
// VALUES list, each row found by its id and checked against its version,
// RETURNING the ids it wrote (a row missing from them changed meanwhile).
// One statement instead of one per row: the row writes of a 10,000-row step
// cost a few statements, not 10,000.
const (
	saveChunk = 500
	saveCols  = 12
)

// saveSQL is the UPDATE of n rows. The first three parameters are updated,
// owner and lease end; then saveCols per row: id, version and the mutable
// columns. When owner holds the row, its lease is extended (SaveHeld).
func saveSQL(n int) string {
	var b strings.Builder
	b.WriteString(`UPDATE challenges SET version = challenges.version + 1, expires = v.column3, ref = v.column4,
	backend = v.column5, zone = v.column6, state = v.column7, dns = v.column8, serial = v.column9,
	attempts = v.column10, next_at = v.column11, reason = v.column12, updated = ?1,
	lease_until = CASE WHEN challenges.owner <> '' AND challenges.owner = ?2 THEN max(challenges.lease_until, ?3)
		ELSE challenges.lease_until END
	FROM (VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?)")
	}
	b.WriteString(`) AS v WHERE challenges.id = v.column1 AND challenges.version = v.column2 RETURNING challenges.id`)
	return b.String()
}

// Holders counts, per record key, the rows other than except whose DNS state
// is adding or present: rows that hold the value in the zone. A row that has
// stored its intent to remove (removing) no longer holds it, so two rows
// removing a shared value at the same time both remove it (idempotent)
// rather than each leaving it to the other.
func (s *Store) Holders(ctx context.Context, keys []string, except []int64) (map[string]int, error) {
	out := make(map[string]int, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	ex := make(map[int64]bool, len(except))
	for _, id := range except {
		ex[id] = true
	}
	// Chunk to stay far below SQLite's bound-parameter limit.
	const chunk = 500
	for start := 0; start < len(keys); start += chunk {
		part := keys[start:min(start+chunk, len(keys))]
		args := make([]any, len(part))
		for i, k := range part {
			args[i] = k
		}
		rows, err := s.db.QueryContext(ctx, `SELECT id, rec_key FROM challenges
			WHERE dns IN ('adding','present') AND rec_key IN (?`+strings.Repeat(",?", len(part)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: holders: %w", err)
		}
		for rows.Next() {
			var (
				id  int64
				key string
			)
			if err := rows.Scan(&id, &key); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: holders: %w", err)
			}
			if !ex[id] {
				out[key]++
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("sqlite: holders: %w", err)
		}
	}
	return out, nil
}

// Counts implements store.Store with one aggregate query (the state index
// covers it), so a metrics scrape costs the same at 100 or 100,000 rows.
func (s *Store) Counts(ctx context.Context) (map[store.State]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT state, count(*) FROM challenges GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: counts: %w", err)
	}
	defer rows.Close()
	out := map[store.State]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("sqlite: counts: %w", err)
		}
		out[store.State(st)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: counts: %w", err)
	}
	return out, nil
}
