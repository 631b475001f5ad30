package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/store"
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

func row(account, order, name, value string) store.Challenge {
	r := dnspublish.Record{FQDN: name + ".", Type: dnspublish.TXT, Value: value, TTL: 60}
	return store.Challenge{Account: account, Order: order, Name: name, Record: r,
		Key: order + "|" + name + "|" + r.Key(), Expires: time.Now().Add(time.Hour).Round(0)}
}

func TestMigrateFromEmptyAndReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path)
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != len(migrations) {
		t.Fatalf("schema version = %d, %v; want %d", v, err, len(migrations))
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	n, err := s.Discover(ctx, []store.Challenge{row("a", "1", "example.com", "v1")})
	if err != nil || n != 1 {
		t.Fatalf("discover = %d, %v", n, err)
	}
	s.Close()

	s2 := open(t, path)
	if v, _ := s2.SchemaVersion(ctx); v != len(migrations) {
		t.Fatalf("reopen: schema version %d", v)
	}
	got, err := s2.List(ctx, store.Filter{})
	if err != nil || len(got) != 1 || got[0].Record.Value != "v1" || got[0].State != store.Discovered {
		t.Fatalf("reopen: rows = %+v, %v", got, err)
	}
	// A database from a newer dcvd is refused, not misread.
	if _, err := s2.db.ExecContext(ctx, "UPDATE schema_version SET version = 99"); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if _, err := Open(ctx, path); err == nil {
		t.Fatal("opening a newer schema succeeded")
	}
}

func TestDiscoverInsertsOnlyUnknown(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "state.db"))
	rows := []store.Challenge{row("a", "1", "example.com", "v1"), row("a", "1", "www.example.com", "v2")}
	if n, err := s.Discover(ctx, rows); err != nil || n != 2 {
		t.Fatalf("first discover = %d, %v", n, err)
	}
	// Same keys again plus one other account with the same key: one new.
	again := append(rows, row("b", "1", "example.com", "v1"))
	if n, err := s.Discover(ctx, again); err != nil || n != 1 {
		t.Fatalf("second discover = %d, %v; want 1", n, err)
	}
	all, _ := s.List(ctx, store.Filter{})
	if len(all) != 3 {
		t.Fatalf("%d rows, want 3", len(all))
	}
	c := all[2] // oldest
	if c.ID == 0 || c.Version != 1 || c.Created.IsZero() || !c.Expires.Equal(rows[0].Expires) {
		t.Fatalf("row not filled: %+v", c)
	}
	only, _ := s.List(ctx, store.Filter{Account: "a", Name: "www.example.com"})
	if len(only) != 1 || only[0].Record.Value != "v2" {
		t.Fatalf("filtered list = %+v", only)
	}
	if _, err := s.Get(ctx, 12345); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get unknown: %v", err)
	}
}

func TestSaveCASBetweenHandles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	a, b := open(t, path), open(t, path)
	rows := []*store.Challenge{ptr(row("a", "1", "x.example.com", "1")), ptr(row("a", "1", "y.example.com", "2"))}
	if err := a.Insert(ctx, rows); err != nil {
		t.Fatal(err)
	}
	ca, _ := a.Get(ctx, rows[0].ID)
	cb, _ := b.Get(ctx, rows[0].ID)
	ca.State, ca.DNS = store.Published, store.DNSPresent
	if err := a.Save(ctx, []*store.Challenge{&ca}); err != nil {
		t.Fatal(err)
	}
	if ca.Version != 2 {
		t.Fatalf("version after save = %d", ca.Version)
	}
	// b read version 1: its save must fail and write nothing, including the
	// other (fresh) row of the same batch.
	other, _ := b.Get(ctx, rows[1].ID)
	other.Reason = "should not be written"
	cb.State = store.Failed
	err := b.Save(ctx, []*store.Challenge{&other, &cb})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale save: %v, want ErrConflict", err)
	}
	got, _ := a.Get(ctx, rows[0].ID)
	if got.State != store.Published || got.Version != 2 {
		t.Fatalf("row after conflict: %+v", got)
	}
	if got, _ := a.Get(ctx, rows[1].ID); got.Reason != "" || got.Version != 1 {
		t.Fatalf("batch partially written: %+v", got)
	}
	if other.Version != 1 {
		t.Fatalf("failed save bumped a version: %d", other.Version)
	}
}

func ptr(c store.Challenge) *store.Challenge { return &c }

func TestConcurrentWritersTwoHandles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	stores := []*Store{open(t, path), open(t, path)}
	const perWriter, writers = 50, 4
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := stores[w%2]
			for i := 0; i < perWriter; i++ {
				// Every writer discovers the same shared rows plus its own, and
				// moves its own rows forward with Save.
				shared := row("a", "shared", fmt.Sprintf("s%d.example.com", i), "v")
				own := ptr(row("a", fmt.Sprint(w), fmt.Sprintf("w%d-%d.example.com", w, i), "v"))
				if _, err := s.Discover(ctx, []store.Challenge{shared}); err != nil {
					errs <- err
					return
				}
				if err := s.Insert(ctx, []*store.Challenge{own}); err != nil {
					errs <- err
					return
				}
				own.State = store.Published
				if err := s.Save(ctx, []*store.Challenge{own}); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, err := stores[0].List(ctx, store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if want := perWriter + perWriter*writers; len(all) != want {
		t.Fatalf("%d rows, want %d (shared rows discovered once each)", len(all), want)
	}
	pub, _ := stores[1].List(ctx, store.Filter{States: []store.State{store.Published}})
	if len(pub) != perWriter*writers {
		t.Fatalf("%d published rows, want %d", len(pub), perWriter*writers)
	}
}

func TestWorkOrderingAndBackoff(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "state.db"))
	now := time.Now()
	mk := func(name string, st store.State, dns store.DNSState, next time.Duration) *store.Challenge {
		c := row("a", "1", name, name)
		c.State, c.DNS, c.NextAt = st, dns, now.Add(next)
		return &c
	}
	rows := []*store.Challenge{
		mk("later.example.com", store.Published, store.DNSPresent, -time.Second),
		mk("first.example.com", store.Discovered, store.DNSNone, -time.Minute),
		mk("backoff.example.com", store.Published, store.DNSPresent, time.Minute),
		mk("done.example.com", store.Cleaned, store.DNSRemoved, -time.Hour),
		mk("failed-clean.example.com", store.Failed, store.DNSNone, -time.Hour),
		mk("failed-owned.example.com", store.Failed, store.DNSAdding, -2*time.Second),
		mk("validated.example.com", store.Validated, store.DNSPresent, -3*time.Second),
	}
	if err := s.Insert(ctx, rows); err != nil {
		t.Fatal(err)
	}
	got, err := s.Work(ctx, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range got {
		names = append(names, c.Name)
	}
	want := []string{"first.example.com", "validated.example.com", "failed-owned.example.com", "later.example.com"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("work = %v, want %v", names, want)
	}
	if got, _ := s.Work(ctx, now, 2); len(got) != 2 {
		t.Fatalf("limit 2 returned %d", len(got))
	}
	// Once the backoff passes, the row is due.
	got, _ = s.Work(ctx, now.Add(2*time.Minute), 0)
	if len(got) != 5 {
		t.Fatalf("after backoff: %d rows, want 5", len(got))
	}
}

func TestHolders(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "state.db"))
	// Apex and wildcard of one order share the same TXT value.
	a := ptr(row("a", "1", "example.com", "same"))
	b := ptr(row("a", "2", "example.com", "same"))
	c := ptr(row("a", "3", "other.example.com", "x"))
	a.DNS, b.DNS, c.DNS = store.DNSPresent, store.DNSAdding, store.DNSRemoving
	if err := s.Insert(ctx, []*store.Challenge{a, b, c}); err != nil {
		t.Fatal(err)
	}
	key := a.Record.Key()
	h, err := s.Holders(ctx, []string{key, c.Record.Key()}, []int64{a.ID})
	if err != nil {
		t.Fatal(err)
	}
	if h[key] != 1 || h[c.Record.Key()] != 0 {
		t.Fatalf("holders = %v; want %s:1 (b), removing row c holds nothing", h, key)
	}
	if h, _ := s.Holders(ctx, []string{key}, []int64{a.ID, b.ID}); h[key] != 0 {
		t.Fatalf("holders except both = %v", h)
	}
	b.DNS = store.DNSRemoved
	if err := s.Save(ctx, []*store.Challenge{b}); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.Holders(ctx, []string{key}, []int64{a.ID}); h[key] != 0 {
		t.Fatalf("holders after b removed = %v", h)
	}
	// Many keys (beyond one chunk) work.
	keys := make([]string, 1200)
	for i := range keys {
		keys[i] = fmt.Sprint(i)
	}
	keys[1100] = key
	if h, err := s.Holders(ctx, keys, nil); err != nil || h[key] != 1 {
		t.Fatalf("holders over 1200 keys = %v, %v", h[key], err)
	}
}

func TestRecordStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path)
	r1 := dnspublish.Record{FQDN: "_dnsauth.example.com.", Type: dnspublish.TXT, Value: "abc", TTL: 60}
	r2 := dnspublish.Record{FQDN: "_dnsauth.example.com.", Type: dnspublish.TXT, Value: "def", TTL: 60}
	r3 := dnspublish.Record{FQDN: "x.dcv.example.net.", Type: dnspublish.CNAME, Value: "t.dcv.digicert.com.", TTL: 30}
	if err := s.AddRecords(ctx, "emb", []dnspublish.Record{r1, r2, r3}); err != nil {
		t.Fatal(err)
	}
	r1b := r1
	r1b.TTL = 120
	if err := s.AddRecords(ctx, "emb", []dnspublish.Record{r1b}); err != nil { // idempotent on key
		t.Fatal(err)
	}
	if err := s.AddRecords(ctx, "other", []dnspublish.Record{r1}); err != nil {
		t.Fatal(err)
	}
	// Another handle (another process) sees them.
	got, err := open(t, path).Records(ctx, "emb")
	if err != nil || len(got) != 3 {
		t.Fatalf("records = %v, %v", got, err)
	}
	if got[0] != r1b || got[1] != r2 || got[2] != r3 {
		t.Fatalf("records = %+v", got)
	}
	if err := s.RemoveRecords(ctx, "emb", []dnspublish.Record{r1, r1, {FQDN: "absent.", Type: dnspublish.TXT, Value: "z"}}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Records(ctx, "emb")
	if len(got) != 2 || got[0] != r2 {
		t.Fatalf("after remove: %+v", got)
	}
	if got, _ := s.Records(ctx, "other"); len(got) != 1 {
		t.Fatalf("other backend touched: %+v", got)
	}
}

func TestCounts(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "state.db"))
	if got, err := s.Counts(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty counts = %v, %v", got, err)
	}
	s.Discover(ctx, []store.Challenge{row("a", "1", "a.example", "v1"), row("a", "1", "b.example", "v2"), row("a", "2", "c.example", "v3")})
	all, _ := s.List(ctx, store.Filter{})
	all[0].State = store.Cleaned
	if err := s.Save(ctx, []*store.Challenge{&all[0]}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Counts(ctx)
	if err != nil || got[store.Discovered] != 2 || got[store.Cleaned] != 1 || len(got) != 2 {
		t.Fatalf("counts = %v, %v; want 2 discovered, 1 cleaned", got, err)
	}
}
