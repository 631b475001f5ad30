package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/store"
)

// testDomains: the domain inventory (store.DomainStore) replaces one
// account's rows at a time, lists soonest expiry first (never-validated
// first of all) and round-trips every field; persistent records are kept
// by (domain, value), updated in place and forgotten one by one.
func testDomains(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	ds, ok := s.(store.DomainStore)
	if !ok {
		t.Fatalf("%T does not implement store.DomainStore", s)
	}
	now := time.Now().Round(time.Millisecond)
	row := func(acct, name string, exp time.Duration, status string) store.Domain {
		d := store.Domain{Account: acct, Refreshed: now, Domain: providers.Domain{
			ID: "id-" + name, Name: name, Status: status, Method: "dns-txt-token"}}
		if exp != 0 {
			d.Expires, d.Validated = now.Add(exp), now.Add(exp-200*24*time.Hour)
		}
		if status != providers.DomainValid {
			d.Reason = "not validated yet"
		}
		return d
	}
	a := []store.Domain{row("a", "late.example", 90*24*time.Hour, "valid"),
		row("a", "soon.example", 5*24*time.Hour, "valid"), row("a", "new.example", 0, "pending")}
	if err := ds.ReplaceDomains(ctx, "a", a); err != nil {
		t.Fatal(err)
	}
	if err := ds.ReplaceDomains(ctx, "b", []store.Domain{row("b", "other.example", 30*24*time.Hour, "valid")}); err != nil {
		t.Fatal(err)
	}
	got, err := ds.Domains(ctx, "a")
	if err != nil || len(got) != 3 {
		t.Fatalf("domains(a) = %+v, %v", got, err)
	}
	for i, want := range []string{"new.example", "soon.example", "late.example"} {
		if got[i].Name != want {
			t.Fatalf("order: got[%d] = %s, want %s", i, got[i].Name, want)
		}
	}
	g := got[1]
	if g.Account != "a" || g.ID != "id-soon.example" || g.Status != "valid" || g.Method != "dns-txt-token" ||
		!g.Expires.Equal(a[1].Expires) || !g.Validated.Equal(a[1].Validated) || !g.Refreshed.Equal(now) {
		t.Fatalf("round trip: %+v, want %+v", g, a[1])
	}
	if got[0].Reason != "not validated yet" || !got[0].Expires.IsZero() {
		t.Fatalf("pending row: %+v", got[0])
	}
	// A refresh replaces the account's rows only.
	if err := ds.ReplaceDomains(ctx, "a", a[:1]); err != nil {
		t.Fatal(err)
	}
	all, err := ds.Domains(ctx, "")
	if err != nil || len(all) != 2 || all[0].Name != "other.example" || all[1].Name != "late.example" {
		t.Fatalf("all after refresh = %+v, %v", all, err)
	}

	p := store.PersistRecord{Domain: "example.com", FQDN: "_validation-persist.example.com.",
		Value: "digicert.com; accounturi=https://x/1", Backend: "bind", Zone: "example.com.", State: "present", Checked: now}
	if err := ds.PutPersist(ctx, p); err != nil {
		t.Fatal(err)
	}
	p.State = "repaired"
	if err := ds.PutPersist(ctx, p); err != nil {
		t.Fatal(err)
	}
	q := p
	q.Domain, q.FQDN = "example.org", "_validation-persist.example.org."
	if err := ds.PutPersist(ctx, q); err != nil {
		t.Fatal(err)
	}
	recs, err := open(t).(store.DomainStore).PersistRecords(ctx)
	if err != nil || len(recs) != 2 || recs[0].Domain != "example.com" || recs[0].State != "repaired" ||
		recs[0].Value != p.Value || recs[0].Backend != "bind" || !recs[0].Checked.Equal(now) || recs[0].Created.IsZero() {
		t.Fatalf("persist records = %+v, %v", recs, err)
	}
	if err := ds.DeletePersist(ctx, "example.com", p.Value); err != nil {
		t.Fatal(err)
	}
	if recs, err := ds.PersistRecords(ctx); err != nil || len(recs) != 1 || recs[0].Domain != "example.org" {
		t.Fatalf("after delete = %+v, %v", recs, err)
	}
}
