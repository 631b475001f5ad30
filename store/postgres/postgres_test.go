package postgres

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/testenv"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/storetest"
)

// pg is one PostgreSQL server for the whole package; each test gets its own
// database.
var pg *testenv.Postgres

func TestMain(m *testing.M) { os.Exit(testenv.PostgresMain(m, &pg)) }

func open(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	testenv.RequirePostgres(t, pg)
	storetest.Run(t, storetest.Harness{Fresh: func(t *testing.T) storetest.Opener {
		dsn := pg.NewDatabase(t)
		return func(t *testing.T) store.Store { return open(t, dsn) }
	}})
}

// Instances starting together apply the migrations once (advisory lock),
// and a database from a newer dcvd is refused.
func TestMigrateConcurrentAndNewerRefused(t *testing.T) {
	testenv.RequirePostgres(t, pg)
	ctx := context.Background()
	dsn := pg.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(ctx, dsn)
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent open: %v", err)
	}
	s := open(t, dsn)
	if v, err := s.SchemaVersion(ctx); err != nil || v != len(migrations) {
		t.Fatalf("schema version %d, %v", v, err)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, dsn); err == nil {
		t.Fatal("opening a newer schema succeeded")
	}
}

// A bad DSN is refused without echoing it (it may hold a password).
func TestOpenBadDSN(t *testing.T) {
	_, err := Open(context.Background(), "postgres://u:s3cret@[::1:5432/x")
	if err == nil {
		t.Fatal("bad dsn accepted")
	}
	if got := err.Error(); contains(got, "s3cret") {
		t.Fatalf("error echoes the password: %s", got)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// A lock ends with its holder's connection: when the instance holding it
// goes away, another takes it at once (no lease to wait out).
func TestLockEndsWithHolder(t *testing.T) {
	testenv.RequirePostgres(t, pg)
	ctx := context.Background()
	dsn := pg.NewDatabase(t)
	a, b := open(t, dsn), open(t, dsn)
	if ok, err := a.Lock(ctx, "discover x", "A", time.Hour); err != nil || !ok {
		t.Fatalf("A locks: %v, %v", ok, err)
	}
	if ok, _ := b.Lock(ctx, "discover x", "B", time.Hour); ok {
		t.Fatal("B took A's lock")
	}
	a.Close() // the process dies: its connections close
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := b.Lock(ctx, "discover x", "B", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("lock of a closed holder never freed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
