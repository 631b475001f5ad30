package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/storetest"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the store conformance suite; every handle is another
// connection pool on one file, as two processes would have.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{Fresh: func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "state.db")
		return func(t *testing.T) store.Store { return open(t, path) }
	}})
}

// TestWALAndNewerSchemaRefused: the file runs in WAL mode, and a database
// from a newer dcvd is refused, not misread.
func TestWALAndNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path)
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	if _, err := s.db.ExecContext(ctx, "UPDATE schema_version SET version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(ctx, path); err == nil {
		t.Fatal("opening a newer schema succeeded")
	}
}

// TestUpgradeFromVersion1: a state file written by a dcvd before leases
// (schema 1) is upgraded in place and keeps its rows.
func TestUpgradeFromVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{migrations[0],
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`, `INSERT INTO schema_version VALUES (1)`,
		`INSERT INTO challenges (account, order_id, name, key, rec_fqdn, rec_type, rec_value, rec_key, state, dns, created, updated)
			VALUES ('a', '1', 'example.com', 'k', '_dnsauth.example.com.', 'TXT', 'v', 'rk', 'published', 'present', 1, 1)`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s := open(t, path)
	if v, err := s.SchemaVersion(ctx); err != nil || v != len(migrations) {
		t.Fatalf("schema version = %d, %v", v, err)
	}
	rows, err := s.List(ctx, store.Filter{})
	if err != nil || len(rows) != 1 || rows[0].State != store.Published || rows[0].Owner != "" || rows[0].CAANames != nil {
		t.Fatalf("rows after upgrade = %+v, %v", rows, err)
	}
	if got, err := s.Claim(ctx, []int64{rows[0].ID}, "me", 0); err != nil || len(got) != 1 {
		t.Fatalf("claim after upgrade: %v, %v", got, err)
	}
}

// TestAuditNameUsesIndex: a name's history is read through audit_name, not
// by scanning the whole trail (the index and the filter compare without
// case alike), whatever case the name is asked in.
func TestAuditNameUsesIndex(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "state.db"))
	q, args := auditQuery(store.AuditFilter{Name: "WWW.Example.com.", Limit: 50})
	rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if len(plan) == 0 || !strings.Contains(strings.Join(plan, "; "), "INDEX audit_name") {
		t.Fatalf("plan of %q: %q; want a search of audit_name", q, plan)
	}
	if err := s.AppendAudit(ctx, []store.AuditEntry{{Kind: store.AuditAdd, Name: "www.example.com"}, {Kind: store.AuditAdd, Name: "other.example.com"}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Audit(ctx, store.AuditFilter{Name: "WWW.Example.com."})
	if err != nil || len(got) != 1 || got[0].Name != "www.example.com" {
		t.Fatalf("Audit by name: %+v, %v", got, err)
	}
}
