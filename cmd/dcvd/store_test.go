package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/testenv"
	sandbox "github.com/dcvd/dcvd/sandbox/digicert"
)

// An installation moves from SQLite to PostgreSQL: dcvd run on SQLite,
// `dcvd store copy --from sqlite --to postgres`, `dcvd migrate`, `dcvd
// config check --online` and `dcvd status` on PostgreSQL, then dcvd run on
// PostgreSQL validates new orders and leaves nothing behind. The DSN (with a
// password) is never printed.
func TestStoreCopyToPostgresAndRun(t *testing.T) {
	pg := testenv.StartPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w := newWorld(t, []string{"pgcopy.test"}, nil)
	w.sim.AddOrder(sandbox.OrderSpec{CommonName: "pgcopy.test", DNSNames: []string{"www.pgcopy.test"}})
	cfgSQLite := w.config(t, "test-key", "")
	if r := runDcvd(t, ctx, nil, "--config", cfgSQLite, "run"); r.code != 0 {
		t.Fatalf("run on sqlite: exit %d: %s", r.code, r.stderr)
	}

	// The password is wrong for nothing (trust auth) but must never show.
	dsn := strings.Replace(pg.NewDatabase(t), "dcvd@", "dcvd:pw-s3cret@", 1)
	dsnFile := filepath.Join(w.dir, "pg.dsn")
	if err := os.WriteFile(dsnFile, []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPG := filepath.Join(w.dir, "pg.toml")
	text := readFile(t, cfgSQLite) + "\n[store]\ntype = \"postgres\"\ndsn_file = \"" + dsnFile + "\"\nlease = \"5s\"\n"
	if err := os.WriteFile(cfgPG, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(r result, what string) {
		t.Helper()
		if strings.Contains(r.stdout+r.stderr, "s3cret") {
			t.Fatalf("%s printed the DSN's password: %s %s", what, r.stdout, r.stderr)
		}
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s %s", what, r.code, r.stdout, r.stderr)
		}
	}
	r := runDcvd(t, ctx, nil, "--config", cfgPG, "store", "copy", "--from", "sqlite", "--to", "postgres")
	check(r, "store copy")
	if !strings.Contains(r.stdout, "1 challenges") {
		t.Fatalf("store copy said %q, want 1 challenges", r.stdout)
	}
	r = runDcvd(t, ctx, nil, "--config", cfgPG, "store", "copy", "--from", "sqlite", "--to", "postgres")
	if r.code == 0 || !strings.Contains(r.stderr, "empty") {
		t.Fatalf("second copy: exit %d %q; want a refusal naming the non-empty destination", r.code, r.stderr)
	}
	r = runDcvd(t, ctx, nil, "--config", cfgPG, "migrate")
	check(r, "migrate")
	if !strings.Contains(r.stdout, "schema version") {
		t.Fatalf("migrate said %q", r.stdout)
	}
	r = runDcvd(t, ctx, nil, "--config", cfgPG, "config", "check", "--online")
	check(r, "config check --online")
	if !strings.Contains(r.stdout, "store: postgres: connected") {
		t.Fatalf("config check --online: %q", r.stdout)
	}
	r = runDcvd(t, ctx, nil, "--config", cfgPG, "status", "--all")
	check(r, "status")
	if !strings.Contains(r.stdout, "pgcopy.test") || !strings.Contains(r.stdout, "cleaned") {
		t.Fatalf("status on postgres misses the copied rows: %s", r.stdout)
	}

	w.sim.AddOrder(sandbox.OrderSpec{CommonName: "pgcopy.test", DNSNames: []string{"*.pgcopy.test"}})
	r = runDcvd(t, ctx, nil, "--config", cfgPG, "run")
	check(r, "run on postgres")
	if issued, total := w.allIssued(t); issued != total {
		t.Fatalf("%d of %d orders issued", issued, total)
	}
	if left := w.leftovers(t); len(left) != 0 {
		t.Fatalf("records left: %v", left)
	}

	// A database that does not answer: one line, exit 1, no password.
	bad := filepath.Join(w.dir, "bad.toml")
	os.WriteFile(dsnFile+".bad", []byte("postgres://dcvd:pw-s3cret@127.0.0.1:1/x?connect_timeout=2\n"), 0o600)
	os.WriteFile(bad, []byte(strings.Replace(text, dsnFile, dsnFile+".bad", 1)), 0o600)
	r = runDcvd(t, ctx, nil, "--config", bad, "config", "check", "--online")
	if r.code != 1 || !strings.Contains(r.stdout, "store: FAILED") || strings.Contains(r.stdout+r.stderr, "s3cret") {
		t.Fatalf("unreachable database: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
}
