package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// Multi-row writes (Save's UPDATE … FROM VALUES, AppendAudit's INSERT) are
// prepared once per size on the writer connection and reused: the driver
// prepares every unprepared query anew, and parsing a statement of a few
// thousand placeholders cost more than binding its rows. A write of n rows
// uses the statement for the next size up (1, 2, 4, …, the chunk), padded
// with rows of NULLs that match nothing, so a process keeps at most a dozen
// statements per kind.

// stmts is the writer's prepared multi-row statements, by kind and size.
type stmts struct {
	mu sync.Mutex
	m  map[stmtKey]*sql.Stmt
}

type stmtKey struct {
	kind string
	rows int
}

// sizeFor is the statement size for n rows: the next power of two, at most
// chunk (n ≤ chunk).
func sizeFor(n, chunk int) int {
	size := 1
	for size < n {
		size *= 2
	}
	return min(size, chunk)
}

// prepared returns the writer's statement of kind for rows rows, preparing
// it (build(rows)) the first time. Call it outside a transaction: the writer
// has one connection, which a transaction holds. Use it inside one through
// tx.StmtContext, which reuses what the connection prepared.
func (s *Store) prepared(ctx context.Context, kind string, rows int, build func(int) string) (*sql.Stmt, error) {
	k := stmtKey{kind, rows}
	s.stmts.mu.Lock()
	st := s.stmts.m[k]
	s.stmts.mu.Unlock()
	if st != nil {
		return st, nil
	}
	st, err := s.w.PrepareContext(ctx, build(rows))
	if err != nil {
		return nil, fmt.Errorf("prepare %s of %d rows: %w", kind, rows, err)
	}
	s.stmts.mu.Lock()
	defer s.stmts.mu.Unlock()
	if have := s.stmts.m[k]; have != nil {
		st.Close() // prepared meanwhile by another write
		return have, nil
	}
	if s.stmts.m == nil {
		s.stmts.m = map[stmtKey]*sql.Stmt{}
	}
	s.stmts.m[k] = st
	return st, nil
}

// part is one statement of a multi-row write and the rows it writes.
type part struct {
	stmt     *sql.Stmt
	from, to int // the rows written: [from, to) of the write's
	size     int // the statement's rows, padding included
}

// plan splits a write of n rows into parts of at most chunk rows, in
// order, each with the prepared statement of the next size up (sizeFor):
// the last part is padded.
func (s *Store) plan(ctx context.Context, kind string, n, chunk int, build func(int) string) ([]part, error) {
	var out []part
	for from := 0; from < n; from += chunk {
		p := part{from: from, to: min(from+chunk, n)}
		p.size = sizeFor(p.to-p.from, chunk)
		st, err := s.prepared(ctx, kind, p.size, build)
		if err != nil {
			return nil, err
		}
		p.stmt = st
		out = append(out, p)
	}
	return out, nil
}

// close closes every prepared statement.
func (c *stmts) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for k, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, k)
	}
	return errors.Join(errs...)
}
