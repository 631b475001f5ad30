package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/internal/sqlrow"
)

// idsJoin is the challenges (ch) whose IDs are in the array $1. Claim, Renew,
// Release and Holders take thousands of IDs: joined, each ID costs one hash
// or index probe, where "id = ANY($1)" in a plan PostgreSQL caches
// generically (after five runs of a prepared statement) is a filter that
// scans the whole array for every candidate row — minutes at 20,000 leases.
// The same queries run unprepared (pgx.QueryExecModeExec), so each is
// planned for the array it is given.
const idsJoin = `unnest($1::bigint[]) AS u(id) JOIN challenges ch ON ch.id = u.id`

// Claim implements store.Store: the claimable rows among ids are locked
// with FOR UPDATE SKIP LOCKED (a row another transaction is writing is
// skipped, not waited for) and taken in the same statement. Lease times are
// the server's clock.
func (s *Store) Claim(ctx context.Context, ids []int64, owner string, lease time.Duration) ([]store.Challenge, error) {
	if owner == "" {
		return nil, fmt.Errorf("postgres: claim: empty owner")
	}
	if len(ids) == 0 {
		return nil, nil
	}
	out, err := query(ctx, s.pool, `WITH c AS (
			SELECT ch.id AS cid FROM `+idsJoin+`
			WHERE ch.owner = '' OR ch.owner = $2 OR `+leaseOver+`
			ORDER BY ch.id FOR UPDATE OF ch SKIP LOCKED)
		UPDATE challenges SET owner = $2, lease_until = `+nowNS+` + $3, version = version + 1
		FROM c WHERE challenges.id = c.cid
		RETURNING `+columns, pgx.QueryExecModeExec, ids, owner, lease.Nanoseconds())
	if err != nil {
		return nil, fmt.Errorf("postgres: claim %d challenges: %w", len(ids), err)
	}
	return out, nil
}

// Renew implements store.Store.
func (s *Store) Renew(ctx context.Context, ids []int64, owner string, lease time.Duration) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `WITH c AS (
			SELECT ch.id AS cid FROM `+idsJoin+` WHERE ch.owner = $2 ORDER BY ch.id FOR UPDATE OF ch)
		UPDATE challenges SET lease_until = `+nowNS+` + $3 FROM c WHERE challenges.id = c.cid
		RETURNING challenges.id`, pgx.QueryExecModeExec, ids, owner, lease.Nanoseconds())
	if err != nil {
		return nil, fmt.Errorf("postgres: renew %d leases: %w", len(ids), err)
	}
	held, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("postgres: renew %d leases: %w", len(ids), err)
	}
	ok := make(map[int64]bool, len(held))
	for _, id := range held {
		ok[id] = true
	}
	var lost []int64
	for _, id := range ids {
		if !ok[id] {
			lost = append(lost, id)
		}
	}
	return lost, nil
}

// leaseOver: the row ch's own lease has ended and its owner has no live
// beat (Beat).
const leaseOver = `(ch.lease_until <= ` + nowNS + ` AND NOT EXISTS (
	SELECT 1 FROM beats b WHERE b.owner = ch.owner AND b.until > ` + nowNS + `))`

// Beat implements store.Store: one UPDATE, which reads the beat it replaces
// under the row's lock.
func (s *Store) Beat(ctx context.Context, owner string, lease time.Duration) (bool, error) {
	if owner == "" {
		return false, fmt.Errorf("postgres: beat: empty owner")
	}
	if lease <= 0 {
		if _, err := s.pool.Exec(ctx, `DELETE FROM beats WHERE owner = $1`, owner); err != nil {
			return false, fmt.Errorf("postgres: end the beat of %s: %w", owner, err)
		}
		return false, nil
	}
	var live bool
	err := s.pool.QueryRow(ctx, `UPDATE beats SET until = `+nowNS+` + $2
		FROM (SELECT until AS was FROM beats WHERE owner = $1 FOR UPDATE) old
		WHERE owner = $1 RETURNING old.was > `+nowNS+` + $3`,
		owner, lease.Nanoseconds(), store.BeatMargin(lease).Nanoseconds()).Scan(&live)
	if errors.Is(err, pgx.ErrNoRows) {
		// The first beat (or the first since Expire): only its owner
		// writes it.
		_, err = s.pool.Exec(ctx, `INSERT INTO beats (owner, until) VALUES ($1, `+nowNS+` + $2)
			ON CONFLICT (owner) DO UPDATE SET until = excluded.until`, owner, lease.Nanoseconds())
	}
	if err == nil && !live {
		// Beats of owners that died without ending them go now and then.
		_, err = s.pool.Exec(ctx, `DELETE FROM beats WHERE until < `+nowNS+` - $1`, store.BeatKeep.Nanoseconds())
	}
	if err != nil {
		return false, fmt.Errorf("postgres: beat of %s: %w", owner, err)
	}
	return live, nil
}

// Release implements store.Store.
func (s *Store) Release(ctx context.Context, ids []int64, owner string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `WITH c AS (
			SELECT ch.id AS cid FROM `+idsJoin+` WHERE ch.owner = $2 ORDER BY ch.id FOR UPDATE OF ch)
		UPDATE challenges SET owner = '', lease_until = 0 FROM c WHERE challenges.id = c.cid`,
		pgx.QueryExecModeExec, ids, owner); err != nil {
		return fmt.Errorf("postgres: release %d leases: %w", len(ids), err)
	}
	return nil
}

// Expire implements store.Store. Advisory locks end with their holder's
// connection; only leases and the beat need expiring.
func (s *Store) Expire(ctx context.Context, owner string) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE challenges SET owner = '', lease_until = 0, version = version + 1
			WHERE owner = $1`, owner); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM beats WHERE owner = $1`, owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: expire leases of %s: %w", owner, err)
	}
	return nil
}

// lockKey maps a lock name to its advisory lock key (a 64-bit FNV-1a hash,
// in the high half "dcvd" so as not to collide with the migration lock).
func lockKey(name string) int64 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int64(0x64637664)<<32 | int64(h.Sum32())
}

// Lock implements store.Store with a session advisory lock on a connection
// this handle keeps for it: the lock lives exactly as long as the holder's
// connection, so a killed instance's lock is free at once. lease is not
// needed.
func (s *Store) Lock(ctx context.Context, name, owner string, lease time.Duration) (bool, error) {
	if owner == "" {
		return false, fmt.Errorf("postgres: lock %q: empty owner", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.locks[name]; ok {
		if l.owner != owner {
			return false, nil
		}
		// Still held if its connection still works.
		if err := l.conn.Ping(ctx); err == nil {
			return true, nil
		}
		l.conn.Release()
		delete(s.locks, name)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: lock %q: %w", name, err)
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lockKey(name)).Scan(&got); err != nil {
		conn.Release()
		return false, fmt.Errorf("postgres: lock %q: %w", name, err)
	}
	if !got {
		conn.Release()
		return false, nil
	}
	s.locks[name] = heldLock{owner: owner, conn: conn}
	return true, nil
}

// Unlock implements store.Store.
func (s *Store) Unlock(ctx context.Context, name, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.locks[name]
	if !ok || l.owner != owner {
		return nil
	}
	delete(s.locks, name)
	_, err := l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, lockKey(name))
	if err != nil {
		// The connection is in doubt: close it, which frees the lock.
		l.conn.Hijack().Close(context.WithoutCancel(ctx))
		return nil
	}
	l.conn.Release()
	return nil
}

// Finish implements store.Store.
func (s *Store) Finish(ctx context.Context, name string) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO finished (name, count) VALUES ($1, 1)
		ON CONFLICT (name) DO UPDATE SET count = finished.count + 1`, name); err != nil {
		return fmt.Errorf("postgres: finish %q: %w", name, err)
	}
	return nil
}

// Finished implements store.Store.
func (s *Store) Finished(ctx context.Context, name string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count FROM finished WHERE name = $1`, name).Scan(&n)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("postgres: finished %q: %w", name, err)
	}
	return n, nil
}

// ImportChallenges implements store.Importer: rows are inserted with their
// own IDs, versions and times (leases are not copied), and the ID sequence
// moves past them.
func (s *Store) ImportChallenges(ctx context.Context, rows []store.Challenge) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for i := range rows {
			c := &rows[i]
			args := append([]any{c.ID, c.Version}, sqlrow.InsertArgs(c)...)
			b.Queue(`INSERT INTO challenges (id, version, account, order_id, name, key, rec_fqdn, rec_type,
				rec_value, rec_ttl, rec_keyauth, rec_key, expires, ref, backend, zone, state, dns, serial, attempts,
				next_at, reason, created, updated, caa_names)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
				$21, $22, $23, $24, $25)`, args...)
		}
		b.Queue(`SELECT setval(pg_get_serial_sequence('challenges', 'id'), GREATEST((SELECT max(id) FROM challenges), 1))`)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: import %d challenges: %w", len(rows), err)
	}
	return nil
}
