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

// idChunk keeps IN lists far below SQLite's bound-parameter limit.
const idChunk = 500

func idArgs(ids []int64, extra ...any) []any {
	args := make([]any, 0, len(ids)+len(extra))
	args = append(args, extra...)
	for _, id := range ids {
		args = append(args, id)
	}
	return args
}

func inList(n int) string { return "(?" + strings.Repeat(",?", n-1) + ")" }

// Claim implements store.Store. One UPDATE … RETURNING per chunk of ids, in
// one write transaction: SQLite has one writer at a time, so two processes
// claiming the same row are serialized and only the first takes it.
func (s *Store) Claim(ctx context.Context, ids []int64, owner string, lease time.Duration) ([]store.Challenge, error) {
	if owner == "" {
		return nil, fmt.Errorf("sqlite: claim: empty owner")
	}
	if len(ids) == 0 {
		return nil, nil
	}
	var out []store.Challenge
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		now := time.Now()
		until := now.Add(lease)
		for start := 0; start < len(ids); start += idChunk {
			part := ids[start:min(start+idChunk, len(ids))]
			rows, err := tx.QueryContext(ctx, `UPDATE challenges SET owner = ?, lease_until = ?, version = version + 1
				WHERE (owner = '' OR owner = ? OR `+leaseOver+`) AND id IN `+inList(len(part))+`
				RETURNING `+columns,
				idArgs(part, owner, sqlrow.UnixNano(until), owner, sqlrow.UnixNano(now), sqlrow.UnixNano(now))...)
			if err != nil {
				return err
			}
			for rows.Next() {
				c, err := sqlrow.ScanChallenge(rows)
				if err != nil {
					rows.Close()
					return err
				}
				out = append(out, c)
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim %d challenges: %w", len(ids), err)
	}
	return out, nil
}

// leaseOver: the row's own lease has ended by the first parameter and its
// owner has no live beat (Beat) by the second.
const leaseOver = `(challenges.lease_until <= ? AND NOT EXISTS (
	SELECT 1 FROM beats b WHERE b.owner = challenges.owner AND b.until > ?))`

// Beat implements store.Store. Writers are serialized, so reading the beat
// and writing the next one in one transaction is atomic.
func (s *Store) Beat(ctx context.Context, owner string, lease time.Duration) (bool, error) {
	if owner == "" {
		return false, fmt.Errorf("sqlite: beat: empty owner")
	}
	live := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := time.Now()
		if lease <= 0 {
			_, err := tx.ExecContext(ctx, `DELETE FROM beats WHERE owner = ?`, owner)
			return err
		}
		var until int64
		switch err := tx.QueryRowContext(ctx, `SELECT until FROM beats WHERE owner = ?`, owner).Scan(&until); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		}
		live = until > sqlrow.UnixNano(now.Add(store.BeatMargin(lease)))
		if _, err := tx.ExecContext(ctx, `INSERT INTO beats (owner, until) VALUES (?, ?)
			ON CONFLICT (owner) DO UPDATE SET until = excluded.until`, owner, sqlrow.UnixNano(now.Add(lease))); err != nil {
			return err
		}
		if !live {
			_, err := tx.ExecContext(ctx, `DELETE FROM beats WHERE until < ?`, sqlrow.UnixNano(now.Add(-store.BeatKeep)))
			return err
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: beat of %s: %w", owner, err)
	}
	return live, nil
}

// Renew implements store.Store.
func (s *Store) Renew(ctx context.Context, ids []int64, owner string, lease time.Duration) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var lost []int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		lost = lost[:0]
		until := sqlrow.UnixNano(time.Now().Add(lease))
		for start := 0; start < len(ids); start += idChunk {
			part := ids[start:min(start+idChunk, len(ids))]
			rows, err := tx.QueryContext(ctx, `UPDATE challenges SET lease_until = ?
				WHERE owner = ? AND id IN `+inList(len(part))+` RETURNING id`,
				idArgs(part, until, owner)...)
			if err != nil {
				return err
			}
			held := make(map[int64]bool, len(part))
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				held[id] = true
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return err
			}
			for _, id := range part {
				if !held[id] {
					lost = append(lost, id)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: renew %d leases: %w", len(ids), err)
	}
	return lost, nil
}

// Release implements store.Store.
func (s *Store) Release(ctx context.Context, ids []int64, owner string) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(ids); start += idChunk {
			part := ids[start:min(start+idChunk, len(ids))]
			if _, err := tx.ExecContext(ctx, `UPDATE challenges SET owner = '', lease_until = 0
				WHERE owner = ? AND id IN `+inList(len(part)), idArgs(part, owner)...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: release %d leases: %w", len(ids), err)
	}
	return nil
}

// Lock implements store.Store with a row in the locks table: taken when
// absent, expired or already owner's, renewed on every call by its owner.
func (s *Store) Lock(ctx context.Context, name, owner string, lease time.Duration) (bool, error) {
	if owner == "" {
		return false, fmt.Errorf("sqlite: lock %q: empty owner", name)
	}
	var held bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := time.Now()
		res, err := tx.ExecContext(ctx, `INSERT INTO locks (name, owner, until) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
			WHERE locks.owner = excluded.owner OR locks.until <= ?`,
			name, owner, sqlrow.UnixNano(now.Add(lease)), sqlrow.UnixNano(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		held = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: lock %q: %w", name, err)
	}
	return held, nil
}

// Unlock implements store.Store.
func (s *Store) Unlock(ctx context.Context, name, owner string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM locks WHERE name = ? AND owner = ?`, name, owner); err != nil {
		return fmt.Errorf("sqlite: unlock %q: %w", name, err)
	}
	return nil
}

// Finish implements store.Store.
func (s *Store) Finish(ctx context.Context, name string) error {
	if _, err := s.w.ExecContext(ctx, `INSERT INTO finished (name, count) VALUES (?, 1)
		ON CONFLICT (name) DO UPDATE SET count = finished.count + 1`, name); err != nil {
		return fmt.Errorf("sqlite: finish %q: %w", name, err)
	}
	return nil
}

// Finished implements store.Store.
func (s *Store) Finished(ctx context.Context, name string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT count FROM finished WHERE name = ?`, name).Scan(&n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("sqlite: finished %q: %w", name, err)
	}
	return n, nil
}

// Expire implements store.Store.
func (s *Store) Expire(ctx context.Context, owner string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE challenges SET owner = '', lease_until = 0, version = version + 1
			WHERE owner = ?`, owner); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM beats WHERE owner = ?`, owner); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM locks WHERE owner = ?`, owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: expire leases of %s: %w", owner, err)
	}
	return nil
}

// Local implements store.Local: every process sharing the file runs on this
// host, so a lease of a process that is gone can be ended at once.
func (s *Store) Local() bool { return true }

// ImportChallenges implements store.Importer: rows are inserted with their
// own IDs, versions and times; leases are not copied.
func (s *Store) ImportChallenges(ctx context.Context, rows []store.Challenge) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO challenges (id, version, account, order_id, name, key,
			rec_fqdn, rec_type, rec_value, rec_ttl, rec_keyauth, rec_key, expires, ref, backend, zone, state, dns,
			serial, attempts, next_at, reason, created, updated, caa_names)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for i := range rows {
			c := &rows[i]
			args := append([]any{c.ID, c.Version}, sqlrow.InsertArgs(c)...)
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("challenge %d: %w", c.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: import %d challenges: %w", len(rows), err)
	}
	return nil
}
