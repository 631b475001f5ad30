// Package sqlite is the store.Store of a single dcvd host: one SQLite file
// under state_dir, shared by the daemon, `dcvd run` and the ACME client
// hooks, all possibly running at the same time.
//
// It uses modernc.org/sqlite (pure Go, no cgo). The database runs in WAL
// mode so readers never block the writer; every connection waits up to
// BusyTimeout for another process's write transaction instead of failing
// with SQLITE_BUSY, and every write transaction starts with BEGIN IMMEDIATE
// so two processes never deadlock upgrading a read lock. synchronous=NORMAL
// is durable across process crashes (kill -9); after a power loss the last
// transactions may be lost, never corrupted.
//
// The schema is versioned: migrations is an ordered list of SQL scripts and
// schema_version remembers how many ran. Open applies the missing ones in
// one transaction, so an old state file is upgraded in place and a newer
// file is refused rather than misread.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/dcvd/dcvd/store"
)

// BusyTimeout is how long a statement waits for another connection's (or
// process's) write transaction before giving up.
const BusyTimeout = 10 * time.Second

// Store is the SQLite store.Store. It is safe for concurrent use.
type Store struct {
	db   *sql.DB // readers
	w    *sql.DB // the one writer connection of this process
	path string
	// stmts is the writer's prepared multi-row writes (stmts.go).
	stmts stmts
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the state database at path and brings its
// schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	// Statement journals (a multi-row UPDATE inside a transaction keeps the
	// pages it changes so it can undo itself alone) and temporary indexes
	// stay in memory: they are thrown away at the statement's end and never
	// needed after a crash, so writing them to a temporary file only costs
	// a write() per page.
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Set("_txlock", "immediate")
	// Page caches: 8 MiB for the writer, which touches the most pages and
	// keeps its cache between transactions; 2 MiB for each reader.
	dsnWith := func(cacheKiB int) string {
		q := maps.Clone(q)
		q["_pragma"] = append(slices.Clone(q["_pragma"]), fmt.Sprintf("cache_size(-%d)", cacheKiB))
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	}
	db, err := sql.Open("sqlite", dsnWith(2000))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// A few connections let readers (Work, List, the embedded DNS server)
	// run next to the writer.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(time.Minute)
	// SQLite has one writer at a time anyway. Writes of this process take
	// turns on one connection of their own: concurrent steps queue in
	// database/sql (woken the moment the connection is free) instead of in
	// SQLite's busy handler (which sleeps 1, 2, 5, … 100 ms between tries),
	// and the writer's page cache stays valid between its transactions
	// (another connection's write would make SQLite drop it). Other
	// processes still meet busy_timeout.
	w, err := sql.Open("sqlite", dsnWith(8000))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	s := &Store{db: db, w: w, path: path}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	return s, nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error { return errors.Join(s.stmts.close(), s.w.Close(), s.db.Close()) }

// tx runs fn in one write transaction (BEGIN IMMEDIATE).
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
