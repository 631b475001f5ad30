package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dcvd/dcvd/store"
)

// testAudit: the audit trail (store.Auditor) appends with IDs and times,
// filters by time, name (case-insensitive, trailing dot ignored), challenge,
// backend and kind, returns newest first with evidence intact, and prunes by age.
func testAudit(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	old := time.Now().Add(-100 * 24 * time.Hour)
	entries := []store.AuditEntry{
		{Time: old, Kind: store.AuditAdd, Actor: "run", Challenge: 1, Name: "_dnsauth.old.example.", Type: "TXT", Value: "v0", Backend: "b1", Result: "ok"},
		{Kind: store.AuditAdd, Actor: "daemon", Challenge: 2, Account: "dc", Order: "42", Name: "_dnsauth.www.Example.com.", Type: "TXT", Value: "v1", Backend: "b1", Zone: "example.com.", Serial: 7, Result: "ok", Took: 3 * time.Millisecond},
		{Kind: store.AuditVerify, Actor: "daemon", Challenge: 2, Name: "_dnsauth.www.example.com.", Result: "visible",
			Evidence: []store.Evidence{{Server: "ns1.example.com.", Addr: "127.0.0.1:53", Status: "ok", Rcode: "NOERROR", Answer: []string{"v1"}, RTT: 2 * time.Millisecond}}},
		{Kind: store.AuditRemove, Actor: "daemon", Challenge: 3, Name: "_dnsauth.other.example.", Backend: "b2", Result: "error", Detail: "REFUSED"},
	}
	if err := s.AppendAudit(ctx, entries); err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		if e.ID == 0 || e.Time.IsZero() {
			t.Fatalf("entry %d: ID %d, Time %v not filled", i, e.ID, e.Time)
		}
	}
	all, err := s.Audit(ctx, store.AuditFilter{})
	if err != nil || len(all) != 4 || all[0].Kind != store.AuditRemove {
		t.Fatalf("all = %d entries (first %+v), %v; want 4 newest first", len(all), all[0], err)
	}
	byName, err := s.Audit(ctx, store.AuditFilter{Name: "_dnsauth.www.example.com"})
	if err != nil || len(byName) != 2 {
		t.Fatalf("by name: %d entries, %v; want 2 (case-insensitive, trailing dot ignored)", len(byName), err)
	}
	v := byName[0]
	if v.Kind != store.AuditVerify || len(v.Evidence) != 1 || v.Evidence[0].Rcode != "NOERROR" || v.Evidence[0].RTT != 2*time.Millisecond || v.Evidence[0].Answer[0] != "v1" {
		t.Fatalf("verify entry evidence did not round-trip: %+v", v)
	}
	a := byName[1]
	if a.Serial != 7 || a.Took != 3*time.Millisecond || a.Zone != "example.com." || a.Order != "42" {
		t.Fatalf("add entry did not round-trip: %+v", a)
	}
	recent, err := s.Audit(ctx, store.AuditFilter{Since: time.Now().Add(-time.Hour), Kinds: []string{store.AuditAdd, store.AuditRemove}})
	if err != nil || len(recent) != 2 {
		t.Fatalf("since+kinds: %d entries, %v; want 2", len(recent), err)
	}
	last, err := s.Audit(ctx, store.AuditFilter{Backend: "b1", Kinds: []string{store.AuditAdd}, Limit: 1})
	if err != nil || len(last) != 1 || last[0].Value != "v1" {
		t.Fatalf("last write of b1 = %+v, %v", last, err)
	}
	n, err := s.PruneAudit(ctx, time.Now().Add(-90*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("prune = %d, %v; want 1", n, err)
	}
	if all, _ := s.Audit(ctx, store.AuditFilter{}); len(all) != 3 {
		t.Fatalf("after prune %d entries, want 3", len(all))
	}
}

// testAuditMany: appends of every size (one entry, a few, more than any one
// statement takes) give each entry the ID it is stored under, IDs increase
// in append order, and an ID is never given again after its entry was
// pruned.
func testAuditMany(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	old := time.Now().Add(-100 * 24 * time.Hour)
	var prev int64
	challenge := int64(0)
	for _, n := range []int{1, 3, 600} {
		entries := make([]store.AuditEntry, n)
		for i := range entries {
			challenge++
			entries[i] = store.AuditEntry{Time: old, Kind: store.AuditAdd, Challenge: challenge, Name: fmt.Sprintf("n%d.example.com", challenge), Result: "ok"}
		}
		if err := s.AppendAudit(ctx, entries); err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.ID <= prev {
				t.Fatalf("append of %d: entry of challenge %d got ID %d after %d", n, e.Challenge, e.ID, prev)
			}
			prev = e.ID
			got, err := s.Audit(ctx, store.AuditFilter{Challenge: e.Challenge})
			if err != nil || len(got) != 1 || got[0].ID != e.ID || got[0].Name != e.Name {
				t.Fatalf("append of %d: challenge %d stored as %+v, %v; want ID %d", n, e.Challenge, got, err, e.ID)
			}
		}
	}
	if n, err := s.PruneAudit(ctx, time.Now().Add(-90*24*time.Hour)); err != nil || n != 604 {
		t.Fatalf("prune = %d, %v; want 604", n, err)
	}
	next := []store.AuditEntry{{Kind: store.AuditAdd, Challenge: challenge + 1, Result: "ok"}}
	if err := s.AppendAudit(ctx, next); err != nil {
		t.Fatal(err)
	}
	if next[0].ID <= prev {
		t.Fatalf("after pruning every entry: ID %d given again (last was %d)", next[0].ID, prev)
	}
}
