// Package storetest is the conformance suite every store.Store passes.
//
// An implementation's test calls Run with a Harness that creates a fresh,
// empty state and opens handles on it; every handle stands for another
// process (the daemon, `dcvd run`, a hook, another instance), so the suite
// checks what the pipeline relies on across processes, not only within
// one:
//
//   - Discover inserts only unknown (account, key); Insert fills ID,
//     Version, Key, State and times; Get and List read them back, every
//     field intact (CAANames included, set by Insert and by Discover);
//   - Save is a compare-and-swap on Version for a whole batch: one stale row
//     and nothing is written (store.ErrConflict);
//   - Work returns due rows oldest first, terminal rows only while their DNS
//     is owned; Holders counts adding/present rows except the given ones;
//     Counts groups by state;
//   - leases: Claim takes a row for one owner at a time and bumps Version
//     (the fencing token), Renew extends without bumping and reports lost
//     rows, Release lets others in, an expired lease is taken over; many
//     owners claiming the same rows at once each get disjoint rows;
//   - beats: a live Beat holds its owner's rows past their own leases (for
//     Claim, Work and Leases); an ended or lapsed one does not, and the
//     next Beat reports the lapse;
//   - named locks (Lock/Unlock) are held by one owner at a time;
//   - migrations: a fresh state is at the newest schema version and a
//     reopened one keeps its rows;
//   - concurrent writers on several handles lose nothing;
//   - the embedded DNS server's records (dnspublish.RecordStore);
//   - the audit trail (store.Auditor).
//
// Usage, from an implementation's _test.go:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{Fresh: func(t *testing.T) storetest.Opener {
//			path := filepath.Join(t.TempDir(), "state.db")
//			return func(t *testing.T) store.Store { return mustOpen(t, path) }
//		}})
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/store"
)

// Opener opens one more handle on a state; the handle is closed when t
// ends.
type Opener func(t *testing.T) store.Store

// Harness adapts an implementation to the suite.
type Harness struct {
	// Fresh creates a new, empty state and returns its Opener.
	Fresh func(t *testing.T) Opener
}

// Run runs every conformance test as a subtest of t.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"Migrations", testMigrations},
		{"DiscoverInsertsOnlyUnknown", testDiscover},
		{"FieldsRoundTrip", testRoundTrip},
		{"SaveCASBetweenHandles", testSaveCAS},
		{"SaveManyInParts", testSaveMany},
		{"ConcurrentWriters", testConcurrentWriters},
		{"WorkOrderingAndBackoff", testWork},
		{"Holders", testHolders},
		{"Counts", testCounts},
		{"RecordStore", testRecordStore},
		{"ClaimRenewRelease", testClaim},
		{"Beat", testBeat},
		{"ClaimIsFencing", testFencing},
		{"SaveHeldRenews", testSaveHeld},
		{"ClaimConcurrent", testClaimConcurrent},
		{"Locks", testLocks},
		{"Audit", testAudit},
		{"AuditManyIDs", testAuditMany},
		{"Domains", testDomains},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h.Fresh(t)) })
	}
	t.Run("Copy", func(t *testing.T) { testCopy(t, h.Fresh(t), h.Fresh(t)) })
}

// testCopy: store.Copy moves every row verbatim (IDs, versions, times),
// the records and the audit trail into an empty store, refuses a non-empty
// one, and the copy works on: new rows get new IDs, claims and saves work.
func testCopy(t *testing.T, openFrom, openTo Opener) {
	ctx := context.Background()
	from, to := openFrom(t), openTo(t)
	rows := []*store.Challenge{ptr(Row("a", "1", "x.example.com", "1")), ptr(Row("a", "2", "y.example.com", "2"))}
	rows[1].CAANames = []string{"y.example.com", "*.y.example.com"}
	if err := from.Insert(ctx, rows); err != nil {
		t.Fatal(err)
	}
	rows[1].State, rows[1].DNS, rows[1].Backend, rows[1].Zone = store.Published, store.DNSPresent, "emb", "example.com"
	if err := from.Save(ctx, rows[1:]); err != nil {
		t.Fatal(err)
	}
	if _, err := from.Claim(ctx, []int64{rows[0].ID}, "someone", time.Hour); err != nil {
		t.Fatal(err)
	}
	rec := dnspublish.Record{FQDN: "y.example.com.", Type: dnspublish.TXT, Value: "2", TTL: 60}
	if err := from.AddRecords(ctx, "emb", []dnspublish.Record{rec}); err != nil {
		t.Fatal(err)
	}
	if err := from.AppendAudit(ctx, []store.AuditEntry{{Kind: store.AuditAdd, Challenge: rows[1].ID, Name: "y.example.com", Result: "ok"}}); err != nil {
		t.Fatal(err)
	}
	want, _ := from.List(ctx, store.Filter{})
	res, err := store.Copy(ctx, from, to, []string{"emb", "other"})
	if err != nil {
		t.Fatal(err)
	}
	if res != (store.CopyResult{Challenges: 2, Records: 1, Audit: 1}) {
		t.Fatalf("copy result %+v", res)
	}
	got, _ := to.List(ctx, store.Filter{})
	if len(got) != len(want) {
		t.Fatalf("copied %d rows, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		w.Owner, w.LeaseUntil = "", time.Time{} // leases are not copied
		if !g.Created.Equal(w.Created) || !g.Updated.Equal(w.Updated) || !g.Expires.Equal(w.Expires) || !g.NextAt.Equal(w.NextAt) {
			t.Fatalf("times not copied: %+v\nwant %+v", g, w)
		}
		g.Created, g.Updated, g.Expires, g.NextAt = w.Created, w.Updated, w.Expires, w.NextAt
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("copied row:\n got %+v\nwant %+v", g, w)
		}
	}
	if recs, _ := to.Records(ctx, "emb"); len(recs) != 1 || recs[0] != rec {
		t.Fatalf("copied records %+v", recs)
	}
	if a, _ := to.Audit(ctx, store.AuditFilter{}); len(a) != 1 || a[0].Challenge != rows[1].ID {
		t.Fatalf("copied audit %+v", a)
	}
	if _, err := store.Copy(ctx, from, to, nil); err == nil {
		t.Fatal("copy into a non-empty store succeeded")
	}
	fresh := ptr(Row("a", "3", "z.example.com", "3"))
	if err := to.Insert(ctx, []*store.Challenge{fresh}); err != nil {
		t.Fatalf("insert after copy: %v", err)
	}
	if fresh.ID <= rows[1].ID {
		t.Fatalf("new row id %d collides with copied ids (max %d)", fresh.ID, rows[1].ID)
	}
	if c, err := to.Claim(ctx, []int64{rows[0].ID}, "me", time.Minute); err != nil || len(c) != 1 {
		t.Fatalf("claim of a copied row: %v, %v", c, err)
	}
}

// Row returns a TXT challenge row for tests.
func Row(account, order, name, value string) store.Challenge {
	r := dnspublish.Record{FQDN: name + ".", Type: dnspublish.TXT, Value: value, TTL: 60}
	return store.Challenge{Account: account, Order: order, Name: name, Record: r,
		Key: order + "|" + name + "|" + r.Key(), Expires: time.Now().Add(time.Hour).Round(0)}
}

func ptr(c store.Challenge) *store.Challenge { return &c }

func ids(rows []store.Challenge) []int64 {
	out := make([]int64, len(rows))
	for i, c := range rows {
		out[i] = c.ID
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func testMigrations(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	m, ok := s.(store.Migrator)
	if !ok {
		t.Fatalf("%T does not implement store.Migrator", s)
	}
	if v, err := m.SchemaVersion(ctx); err != nil || v != m.Migrations() || v < 1 {
		t.Fatalf("schema version = %d, %v; want %d", v, err, m.Migrations())
	}
	if n, err := s.Discover(ctx, []store.Challenge{Row("a", "1", "example.com", "v1")}); err != nil || n != 1 {
		t.Fatalf("discover = %d, %v", n, err)
	}
	s.Close()
	// Opening an up-to-date state again applies nothing and loses nothing;
	// so does a second handle opened while the first is open.
	s2, s3 := open(t), open(t)
	for _, h := range []store.Store{s2, s3} {
		if v, _ := h.(store.Migrator).SchemaVersion(ctx); v != m.Migrations() {
			t.Fatalf("reopen: schema version %d", v)
		}
		got, err := h.List(ctx, store.Filter{})
		if err != nil || len(got) != 1 || got[0].Record.Value != "v1" || got[0].State != store.Discovered {
			t.Fatalf("reopen: rows = %+v, %v", got, err)
		}
	}
}

func testDiscover(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	rows := []store.Challenge{Row("a", "1", "example.com", "v1"), Row("a", "1", "www.example.com", "v2")}
	rows[0].CAANames = []string{"example.com", "*.example.com"} // the record also validates *.example.com
	if n, err := s.Discover(ctx, rows); err != nil || n != 2 {
		t.Fatalf("first discover = %d, %v", n, err)
	}
	// Same keys again plus one other account with the same key: one new.
	again := append(rows, Row("b", "1", "example.com", "v1"))
	if n, err := s.Discover(ctx, again); err != nil || n != 1 {
		t.Fatalf("second discover = %d, %v; want 1", n, err)
	}
	all, _ := s.List(ctx, store.Filter{})
	if len(all) != 3 {
		t.Fatalf("%d rows, want 3", len(all))
	}
	if all[0].ID <= all[1].ID || all[1].ID <= all[2].ID {
		t.Fatalf("list not newest first: ids %d %d %d", all[0].ID, all[1].ID, all[2].ID)
	}
	c := all[2] // oldest
	if c.ID == 0 || c.Version != 1 || c.Created.IsZero() || !c.Expires.Equal(rows[0].Expires) || c.State != store.Discovered || !slices.Equal(c.CAANames, rows[0].CAANames) {
		t.Fatalf("row not filled: %+v", c)
	}
	only, _ := s.List(ctx, store.Filter{Account: "a", Name: "www.example.com"})
	if len(only) != 1 || only[0].Record.Value != "v2" || only[0].CAANames != nil {
		t.Fatalf("filtered list = %+v", only)
	}
	if got, _ := s.List(ctx, store.Filter{Limit: 2}); len(got) != 2 {
		t.Fatalf("limit 2 listed %d", len(got))
	}
	if got, _ := s.List(ctx, store.Filter{States: []store.State{store.Discovered, store.Failed}}); len(got) != 3 {
		t.Fatalf("state filter listed %d", len(got))
	}
	if _, err := s.Get(ctx, 12345); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get unknown: %v, want ErrNotFound", err)
	}
	// Empty key and state are filled.
	r := Row("c", "9", "fill.example.com", "v")
	r.Key = ""
	if n, err := s.Discover(ctx, []store.Challenge{r}); err != nil || n != 1 {
		t.Fatalf("discover without key = %d, %v", n, err)
	}
	got, _ := s.List(ctx, store.Filter{Account: "c"})
	if len(got) != 1 || got[0].Key != r.Record.Key() {
		t.Fatalf("key not defaulted to Record.Key(): %+v", got)
	}
	// One key twice in one call (a CA listing a name twice) is one row.
	dup := Row("d", "1", "dup.example.com", "v")
	if n, err := s.Discover(ctx, []store.Challenge{dup, dup, Row("d", "1", "other.example.com", "w")}); err != nil || n != 2 {
		t.Fatalf("discover with a key twice = %d, %v; want 2", n, err)
	}
}

func testRoundTrip(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	now := time.Now().Round(0)
	c := &store.Challenge{Account: "acct", Order: "o-1", Name: "*.example.com", Key: "k1",
		Record: dnspublish.Record{FQDN: "_acme-challenge.example.com.", Type: dnspublish.TXT,
			Value: `back\slash "quoted" ünï`, TTL: 300, KeyAuth: "tok.thumb"},
		Expires: now.Add(time.Hour), Ref: "ref-1", State: store.Discovered, CAANames: []string{"*.example.com"}}
	if err := s.Insert(ctx, []*store.Challenge{c}); err != nil {
		t.Fatal(err)
	}
	if c.ID == 0 || c.Version != 1 || c.Created.IsZero() || c.Updated.IsZero() {
		t.Fatalf("insert did not fill the row: %+v", c)
	}
	c.Backend, c.Zone, c.State, c.DNS = "bind", "example.com", store.Published, store.DNSPresent
	c.Serial, c.Attempts, c.NextAt, c.Reason = 4294967295, 3, now.Add(time.Minute), "why"
	c.Expires, c.Ref = now.Add(2*time.Hour), "ref-2"
	if err := s.Save(ctx, []*store.Challenge{c}); err != nil {
		t.Fatal(err)
	}
	got, err := open(t).Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := *c
	if !got.Created.Equal(want.Created) || !got.Updated.Equal(want.Updated) ||
		!got.Expires.Equal(want.Expires) || !got.NextAt.Equal(want.NextAt) {
		t.Fatalf("times: got %+v\nwant %+v", got, want)
	}
	got.Created, got.Updated, got.Expires, got.NextAt = want.Created, want.Updated, want.Expires, want.NextAt
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
}

func testSaveCAS(t *testing.T, open Opener) {
	ctx := context.Background()
	a, b := open(t), open(t)
	rows := []*store.Challenge{ptr(Row("a", "1", "x.example.com", "1")), ptr(Row("a", "1", "y.example.com", "2"))}
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
	if err := a.Save(ctx, nil); err != nil {
		t.Fatalf("empty save: %v", err)
	}
}

// testSaveMany: saves of every size a store may split or pad (1 row, a few,
// more than any one statement takes) write every row and only those, and a
// stale row in the last part leaves the whole save unwritten.
func testSaveMany(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	rows := make([]*store.Challenge, 1237)
	for i := range rows {
		rows[i] = ptr(Row("a", "1", fmt.Sprintf("n%d.example.com", i), "v"))
	}
	if err := s.Insert(ctx, rows); err != nil {
		t.Fatal(err)
	}
	start := 0
	for _, n := range []int{1, 3, 5, 17, 100, 1111} {
		part := rows[start : start+n]
		for _, c := range part {
			c.Reason = fmt.Sprintf("saved in a save of %d", n)
			c.Attempts = n
		}
		if err := s.Save(ctx, part); err != nil {
			t.Fatalf("save of %d rows: %v", n, err)
		}
		start += n
	}
	for i, c := range rows {
		got, err := s.Get(ctx, c.ID)
		if err != nil || got.Reason != c.Reason || got.Attempts != c.Attempts || got.Version != 2 || c.Version != 2 {
			t.Fatalf("row %d after saves: %+v, %v; want reason %q, version 2", i, got, err, c.Reason)
		}
	}
	// Every row saved again, the last one stale: nothing is written.
	stale := *rows[len(rows)-1]
	stale.Version = 1
	batch := append(slices.Clone(rows[:len(rows)-1]), &stale)
	for _, c := range batch {
		c.Reason = "not written"
	}
	if err := s.Save(ctx, batch); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("save with a stale last row: %v, want ErrConflict", err)
	}
	for _, id := range []int64{rows[0].ID, rows[600].ID, rows[len(rows)-2].ID} {
		if got, _ := s.Get(ctx, id); got.Version != 2 || got.Reason == "not written" {
			t.Fatalf("row %d written by a failed save: %+v", id, got)
		}
	}
}

func testConcurrentWriters(t *testing.T, open Opener) {
	ctx := context.Background()
	stores := []store.Store{open(t), open(t)}
	const perWriter, writers = 40, 4
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
				shared := Row("a", "shared", fmt.Sprintf("s%d.example.com", i), "v")
				own := ptr(Row("a", fmt.Sprint(w), fmt.Sprintf("w%d-%d.example.com", w, i), "v"))
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

func testWork(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	now := time.Now()
	mk := func(name string, st store.State, dns store.DNSState, next time.Duration) *store.Challenge {
		c := Row("a", "1", name, name)
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
		// A check in doubt is due by its state alone (DNS none: a value
		// someone else kept, say).
		mk("triggering.example.com", store.Triggering, store.DNSNone, -4*time.Second),
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
	want := []string{"first.example.com", "triggering.example.com", "validated.example.com", "failed-owned.example.com", "later.example.com"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("work = %v, want %v", names, want)
	}
	if got, _ := s.Work(ctx, now, 2); len(got) != 2 {
		t.Fatalf("limit 2 returned %d", len(got))
	}
	// Once the backoff passes, the row is due.
	got, _ = s.Work(ctx, now.Add(2*time.Minute), 0)
	if len(got) != 6 {
		t.Fatalf("after backoff: %d rows, want 6", len(got))
	}
	// A row under a live lease is its owner's: not returned, and reported
	// by Leases; once released (or its lease ended) it is due again.
	first := rows[1].ID
	if _, err := s.Claim(ctx, []int64{first}, "X", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, []int64{rows[0].ID}, "Y", time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	got, _ = s.Work(ctx, now, 0)
	names = names[:0]
	for _, c := range got {
		names = append(names, c.Name)
	}
	want = []string{"triggering.example.com", "validated.example.com", "failed-owned.example.com", "later.example.com"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("work with first.example.com leased (and later.example.com's lease ended) = %v, want %v", names, want)
	}
	leases, err := s.Leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(leases) != 1 || leases[0].Owner != "X" || leases[0].Account != "a" || leases[0].Rows != 1 ||
		time.Until(leases[0].Until) < 50*time.Minute {
		t.Fatalf("leases = %+v, want X holding 1 row of a for about an hour", leases)
	}
	if err := s.Release(ctx, []int64{first}, "X"); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.Work(ctx, now, 0); len(got) != 5 {
		t.Fatalf("after release: %d rows, want 5", len(got))
	}
	if leases, _ := s.Leases(ctx); len(leases) != 0 {
		t.Fatalf("leases after release = %+v, want none", leases)
	}
}

func testHolders(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	// Apex and wildcard of one order share the same TXT value.
	a := ptr(Row("a", "1", "example.com", "same"))
	b := ptr(Row("a", "2", "example.com", "same"))
	c := ptr(Row("a", "3", "other.example.com", "x"))
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
	// Many keys (beyond any one chunk) work.
	keys := make([]string, 1200)
	for i := range keys {
		keys[i] = fmt.Sprint(i)
	}
	keys[1100] = key
	if h, err := s.Holders(ctx, keys, nil); err != nil || h[key] != 1 {
		t.Fatalf("holders over 1200 keys = %v, %v", h[key], err)
	}
	if h, err := s.Holders(ctx, nil, nil); err != nil || len(h) != 0 {
		t.Fatalf("holders of nothing = %v, %v", h, err)
	}
}

func testCounts(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	if got, err := s.Counts(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty counts = %v, %v", got, err)
	}
	s.Discover(ctx, []store.Challenge{Row("a", "1", "a.example", "v1"), Row("a", "1", "b.example", "v2"), Row("a", "2", "c.example", "v3")})
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

func testRecordStore(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
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
	got, err := open(t).Records(ctx, "emb")
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
	if got, err := s.Records(ctx, "none"); err != nil || len(got) != 0 {
		t.Fatalf("unknown backend: %v, %v", got, err)
	}
}

func testClaim(t *testing.T, open Opener) {
	ctx := context.Background()
	a, b := open(t), open(t)
	rows := []*store.Challenge{ptr(Row("a", "1", "x.example.com", "1")), ptr(Row("a", "1", "y.example.com", "2")),
		ptr(Row("a", "1", "z.example.com", "3"))}
	if err := a.Insert(ctx, rows); err != nil {
		t.Fatal(err)
	}
	x, y, z := rows[0].ID, rows[1].ID, rows[2].ID
	got, err := a.Claim(ctx, []int64{x, y}, "A", time.Minute)
	if err != nil || fmt.Sprint(ids(got)) != fmt.Sprint([]int64{x, y}) {
		t.Fatalf("A claims x, y: %v, %v", ids(got), err)
	}
	for _, c := range got {
		if c.Owner != "A" || c.Version != 2 || time.Until(c.LeaseUntil) < 50*time.Second || !c.LeasedBy("B", time.Now()) || c.LeasedBy("A", time.Now()) {
			t.Fatalf("claimed row: owner %q version %d lease until %v", c.Owner, c.Version, c.LeaseUntil)
		}
	}
	// B gets only the row nobody holds.
	got, err = b.Claim(ctx, []int64{x, y, z}, "B", time.Minute)
	if err != nil || fmt.Sprint(ids(got)) != fmt.Sprint([]int64{z}) {
		t.Fatalf("B claims x, y, z: got %v, %v; want only z", ids(got), err)
	}
	// A claiming again what it holds succeeds (and bumps Version again).
	got, err = a.Claim(ctx, []int64{x}, "A", time.Minute)
	if err != nil || len(got) != 1 || got[0].Version != 3 {
		t.Fatalf("A re-claims x: %+v, %v", got, err)
	}
	// Save keeps the lease; Renew keeps Version.
	cx := got[0]
	cx.State = store.Published
	if err := a.Save(ctx, []*store.Challenge{&cx}); err != nil {
		t.Fatal(err)
	}
	lost, err := a.Renew(ctx, []int64{x, y, z}, "A", 2*time.Minute)
	if err != nil || fmt.Sprint(lost) != fmt.Sprint([]int64{z}) {
		t.Fatalf("A renews x, y, z: lost %v, %v; want z", lost, err)
	}
	cur, _ := b.Get(ctx, x)
	if cur.Owner != "A" || cur.Version != cx.Version || time.Until(cur.LeaseUntil) < 110*time.Second {
		t.Fatalf("after save and renew: owner %q version %d (want %d) lease %v", cur.Owner, cur.Version, cx.Version, cur.LeaseUntil)
	}
	// Release lets B in; releasing rows one does not hold changes nothing.
	if err := b.Release(ctx, []int64{x, y}, "B"); err != nil {
		t.Fatal(err)
	}
	if cur, _ := b.Get(ctx, x); cur.Owner != "A" {
		t.Fatalf("B released A's lease: %+v", cur)
	}
	if err := a.Release(ctx, []int64{x}, "A"); err != nil {
		t.Fatal(err)
	}
	if cur, _ := b.Get(ctx, x); cur.Owner != "" || !cur.LeaseUntil.IsZero() || cur.Version != cx.Version {
		t.Fatalf("released row: owner %q lease %v version %d", cur.Owner, cur.LeaseUntil, cur.Version)
	}
	got, err = b.Claim(ctx, []int64{x}, "B", time.Minute)
	if err != nil || len(got) != 1 || got[0].Owner != "B" || got[0].State != store.Published {
		t.Fatalf("B claims released x: %+v, %v", got, err)
	}
	// An expired lease is taken over.
	if _, err := a.Claim(ctx, []int64{rows[1].ID}, "A", 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err = b.Claim(ctx, []int64{y}, "B", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an expired lease was never taken over")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if lost, _ := a.Renew(ctx, []int64{y}, "A", time.Minute); fmt.Sprint(lost) != fmt.Sprint([]int64{y}) {
		t.Fatalf("A renews y after B took it over: lost %v", lost)
	}
	// Expire ends every lease of a dead owner at once, and fences it.
	got, err = a.Claim(ctx, []int64{z}, "dead", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("dead claimed B's row z: %+v", got)
	}
	if err := a.Release(ctx, []int64{z}, "B"); err != nil {
		t.Fatal(err)
	}
	got, _ = a.Claim(ctx, []int64{z}, "dead", time.Hour)
	if len(got) != 1 {
		t.Fatalf("dead claims z: %+v", got)
	}
	if err := b.Expire(ctx, "dead"); err != nil {
		t.Fatal(err)
	}
	if cur, _ := b.Get(ctx, z); cur.Owner != "" || cur.Version <= got[0].Version {
		t.Fatalf("after Expire: owner %q version %d (claimed at %d)", cur.Owner, cur.Version, got[0].Version)
	}
	if got, err := a.Claim(ctx, nil, "A", time.Minute); err != nil || len(got) != 0 {
		t.Fatalf("claim of nothing: %v, %v", got, err)
	}
	if _, err := a.Claim(ctx, []int64{x}, "", time.Minute); err == nil {
		t.Fatal("claim with an empty owner succeeded")
	}
	// Ids beyond any one chunk.
	many := make([]*store.Challenge, 700)
	for i := range many {
		many[i] = ptr(Row("m", "1", fmt.Sprintf("m%d.example.com", i), "v"))
	}
	if err := a.Insert(ctx, many); err != nil {
		t.Fatal(err)
	}
	all := make([]int64, len(many))
	for i, c := range many {
		all[i] = c.ID
	}
	if got, err := a.Claim(ctx, all, "A", time.Minute); err != nil || len(got) != len(all) {
		t.Fatalf("claim of %d rows: %d, %v", len(all), len(got), err)
	}
	if lost, err := a.Renew(ctx, all, "A", time.Minute); err != nil || len(lost) != 0 {
		t.Fatalf("renew of %d rows: lost %d, %v", len(all), len(lost), err)
	}
	if err := a.Release(ctx, all, "A"); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Claim(ctx, all, "B", time.Minute); err != nil || len(got) != len(all) {
		t.Fatalf("claim of %d released rows: %d, %v", len(all), len(got), err)
	}
}

// testBeat: while an owner's beat is live its rows stay its own after their
// own leases end; a lapsed or ended beat no longer holds them.
func testBeat(t *testing.T, open Opener) {
	ctx := context.Background()
	a, b := open(t), open(t)
	rows := []*store.Challenge{ptr(Row("a", "1", "x.example.com", "1")), ptr(Row("a", "1", "y.example.com", "2"))}
	if err := a.Insert(ctx, rows); err != nil {
		t.Fatal(err)
	}
	x, y := rows[0].ID, rows[1].ID
	if live, err := a.Beat(ctx, "A", time.Hour); err != nil || live {
		t.Fatalf("first beat: live %v, %v; want not live (nothing held before it)", live, err)
	}
	if live, err := a.Beat(ctx, "A", time.Hour); err != nil || !live {
		t.Fatalf("second beat: live %v, %v", live, err)
	}
	const short = 50 * time.Millisecond
	got, err := a.Claim(ctx, []int64{x, y}, "A", short)
	if err != nil || len(got) != 2 {
		t.Fatalf("A claims x, y: %v, %v", ids(got), err)
	}
	ended := time.Now().Add(short)
	for time.Now().Before(ended.Add(20 * time.Millisecond)) {
		time.Sleep(10 * time.Millisecond) // until the rows' own leases have ended
	}
	if got, err := b.Claim(ctx, []int64{x, y}, "B", time.Minute); err != nil || len(got) != 0 {
		t.Fatalf("B claimed rows of an owner whose beat is live: %v, %v", ids(got), err)
	}
	if w, err := b.Work(ctx, time.Now(), 0); err != nil || len(w) != 0 {
		t.Fatalf("Work returned rows of an owner whose beat is live: %d rows, %v", len(w), err)
	}
	leases, err := b.Leases(ctx)
	if err != nil || len(leases) != 1 || leases[0].Owner != "A" || leases[0].Rows != 2 || time.Until(leases[0].Until) < 50*time.Minute {
		t.Fatalf("leases while A's beat is live: %+v, %v", leases, err)
	}
	// Ended: the rows are free (their own leases are over).
	if _, err := a.Beat(ctx, "A", 0); err != nil {
		t.Fatal(err)
	}
	if w, err := b.Work(ctx, time.Now(), 0); err != nil || len(w) != 2 {
		t.Fatalf("Work after A's beat ended: %d rows, %v; want 2", len(w), err)
	}
	if got, err := b.Claim(ctx, []int64{x}, "B", time.Minute); err != nil || len(got) != 1 {
		t.Fatalf("B claims x after A's beat ended: %v, %v", ids(got), err)
	}
	if lost, err := a.Renew(ctx, []int64{x, y}, "A", time.Minute); err != nil || fmt.Sprint(lost) != fmt.Sprint([]int64{x}) {
		t.Fatalf("A renews x, y after B took x: lost %v, %v; want x", lost, err)
	}
	// Lapsed: a beat that ended on its own is reported so at the next one,
	// and holds nothing meanwhile.
	if _, err := a.Beat(ctx, "A", short); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Claim(ctx, []int64{y}, "A", short); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := b.Claim(ctx, []int64{y}, "B", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a row of an owner whose beat lapsed was never taken over")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if live, err := a.Beat(ctx, "A", time.Hour); err != nil || live {
		t.Fatalf("beat after a lapse: live %v, %v; want not live", live, err)
	}
	// Expire ends the beat of a dead owner with its leases.
	if err := b.Release(ctx, []int64{x, y}, "B"); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Claim(ctx, []int64{x, y}, "A", short); err != nil || len(got) != 2 {
		t.Fatalf("A claims x, y again: %v, %v", ids(got), err)
	}
	if err := b.Expire(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	if live, err := a.Beat(ctx, "A", time.Hour); err != nil || live {
		t.Fatalf("beat after Expire: live %v, %v; want not live", live, err)
	}
	if _, err := a.Beat(ctx, "", time.Hour); err == nil {
		t.Fatal("a beat with an empty owner succeeded")
	}
}

// testFencing: an owner that stalled past its lease cannot overwrite the
// work of the owner that took over.
func testFencing(t *testing.T, open Opener) {
	ctx := context.Background()
	a, b := open(t), open(t)
	c := ptr(Row("a", "1", "x.example.com", "1"))
	if err := a.Insert(ctx, []*store.Challenge{c}); err != nil {
		t.Fatal(err)
	}
	got, err := a.Claim(ctx, []int64{c.ID}, "A", 30*time.Millisecond)
	if err != nil || len(got) != 1 {
		t.Fatalf("claim: %v, %v", got, err)
	}
	stale := got[0]
	var taken []store.Challenge
	deadline := time.Now().Add(5 * time.Second)
	for len(taken) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("lease never expired")
		}
		time.Sleep(10 * time.Millisecond)
		if taken, err = b.Claim(ctx, []int64{c.ID}, "B", time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	nb := taken[0]
	nb.State, nb.DNS = store.Published, store.DNSPresent
	if err := b.Save(ctx, []*store.Challenge{&nb}); err != nil {
		t.Fatal(err)
	}
	stale.State, stale.DNS = store.Failed, store.DNSRemoved
	if err := a.Save(ctx, []*store.Challenge{&stale}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stalled owner's save: %v, want ErrConflict", err)
	}
	if cur, _ := a.Get(ctx, c.ID); cur.State != store.Published || cur.Owner != "B" {
		t.Fatalf("row after the stalled owner's save: %+v", cur)
	}
}

// testSaveHeld: SaveHeld extends the lease of the owner that holds the row
// (by the store's clock) and saves like Save; it neither gives a lease to
// a row the owner does not hold nor shortens one; a row another owner
// claimed meanwhile is a conflict, as with Save.
func testSaveHeld(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	mine, free := ptr(Row("a", "1", "x.example.com", "1")), ptr(Row("a", "2", "y.example.com", "2"))
	if err := s.Insert(ctx, []*store.Challenge{mine, free}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Claim(ctx, []int64{mine.ID}, "A", time.Second)
	if err != nil || len(got) != 1 {
		t.Fatalf("claim: %v, %v", got, err)
	}
	held := got[0]
	held.State = store.Published
	fr, _ := s.Get(ctx, free.ID)
	fr.State = store.Published
	if err := s.SaveHeld(ctx, []*store.Challenge{&held, &fr}, "A", time.Hour); err != nil {
		t.Fatal(err)
	}
	cur, _ := s.Get(ctx, mine.ID)
	if cur.State != store.Published || cur.Owner != "A" || time.Until(cur.LeaseUntil) < 50*time.Minute {
		t.Fatalf("held row after SaveHeld: state %s owner %q lease until %s (want about an hour ahead)", cur.State, cur.Owner, cur.LeaseUntil)
	}
	if cur, _ := s.Get(ctx, free.ID); cur.State != store.Published || cur.Owner != "" || !cur.LeaseUntil.IsZero() && cur.LeaseUntil.After(time.Now()) {
		t.Fatalf("free row after SaveHeld: state %s owner %q lease until %s (want saved, no lease)", cur.State, cur.Owner, cur.LeaseUntil)
	}
	until := cur.LeaseUntil
	if err := s.SaveHeld(ctx, []*store.Challenge{&held}, "A", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if cur, _ := s.Get(ctx, mine.ID); cur.LeaseUntil.Before(until.Add(-time.Second)) {
		t.Fatalf("a shorter SaveHeld shortened the lease: %s, was %s", cur.LeaseUntil, until)
	}
	if err := s.Expire(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, []int64{mine.ID}, "B", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveHeld(ctx, []*store.Challenge{&held}, "A", time.Hour); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("SaveHeld of a row another owner claimed: %v, want ErrConflict", err)
	}
	// The same row twice in one save: the second copy is stale.
	cur, _ = s.Get(ctx, free.ID)
	a, b := cur, cur
	a.Reason, b.Reason = "first", "second"
	if err := s.Save(ctx, []*store.Challenge{&a, &b}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("one row twice in a save: %v, want ErrConflict", err)
	}
	if got, _ := s.Get(ctx, free.ID); got.Version != cur.Version || got.Reason != cur.Reason {
		t.Fatalf("a conflicting save wrote: version %d reason %q, want %d %q", got.Version, got.Reason, cur.Version, cur.Reason)
	}
}

// testClaimConcurrent: owners on several handles claim the same rows at
// once; every row goes to exactly one of them.
func testClaimConcurrent(t *testing.T, open Opener) {
	ctx := context.Background()
	handles := []store.Store{open(t), open(t), open(t)}
	rows := make([]*store.Challenge, 200)
	for i := range rows {
		rows[i] = ptr(Row("a", "1", fmt.Sprintf("c%d.example.com", i), "v"))
	}
	if err := handles[0].Insert(ctx, rows); err != nil {
		t.Fatal(err)
	}
	all := make([]int64, len(rows))
	for i, c := range rows {
		all[i] = c.ID
	}
	const owners = 6
	var (
		mu    sync.Mutex
		owner = map[int64]string{}
		wg    sync.WaitGroup
		errs  = make(chan error, owners)
	)
	for o := 0; o < owners; o++ {
		wg.Add(1)
		go func(o int) {
			defer wg.Done()
			name := fmt.Sprintf("owner-%d", o)
			// Claim in small slices, in a different order per owner.
			for k := 0; k < len(all); k += 20 {
				start := (k + o*40) % len(all)
				part := all[start:min(start+20, len(all))]
				got, err := handles[o%len(handles)].Claim(ctx, part, name, time.Minute)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, c := range got {
					if prev, ok := owner[c.ID]; ok {
						errs <- fmt.Errorf("row %d claimed by %s and %s", c.ID, prev, name)
					}
					owner[c.ID] = name
				}
				mu.Unlock()
			}
		}(o)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(owner) != len(all) {
		t.Fatalf("%d of %d rows claimed", len(owner), len(all))
	}
	for _, id := range all {
		cur, err := handles[1].Get(ctx, id)
		if err != nil || cur.Owner != owner[id] {
			t.Fatalf("row %d: stored owner %q, claimed by %q (%v)", id, cur.Owner, owner[id], err)
		}
	}
}

func testLocks(t *testing.T, open Opener) {
	ctx := context.Background()
	a, b := open(t), open(t)
	ok, err := a.Lock(ctx, "discover digicert", "A", time.Minute)
	if err != nil || !ok {
		t.Fatalf("A locks: %v, %v", ok, err)
	}
	if ok, err := b.Lock(ctx, "discover digicert", "B", time.Minute); err != nil || ok {
		t.Fatalf("B locks a held lock: %v, %v", ok, err)
	}
	if ok, err := b.Lock(ctx, "discover other", "B", time.Minute); err != nil || !ok {
		t.Fatalf("B locks another name: %v, %v", ok, err)
	}
	if ok, err := a.Lock(ctx, "discover digicert", "A", time.Minute); err != nil || !ok {
		t.Fatalf("A locks again what it holds: %v, %v", ok, err)
	}
	if err := b.Unlock(ctx, "discover digicert", "B"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.Lock(ctx, "discover digicert", "B", time.Minute); ok {
		t.Fatal("B's unlock of A's lock released it")
	}
	if err := a.Unlock(ctx, "discover digicert", "A"); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Lock(ctx, "discover digicert", "B", time.Minute); err != nil || !ok {
		t.Fatalf("B locks after A's unlock: %v, %v", ok, err)
	}

	// Finish counts completed runs per name, for every handle.
	if n, err := b.Finished(ctx, "discover digicert"); err != nil || n != 0 {
		t.Fatalf("Finished before any Finish: %d, %v", n, err)
	}
	for i := 0; i < 2; i++ {
		if err := a.Finish(ctx, "discover digicert"); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := b.Finished(ctx, "discover digicert"); err != nil || n != 2 {
		t.Fatalf("Finished after two: %d, %v (want 2)", n, err)
	}
	if n, err := a.Finished(ctx, "discover other"); err != nil || n != 0 {
		t.Fatalf("Finished of another name: %d, %v (want 0)", n, err)
	}
}
