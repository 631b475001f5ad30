package scheduler

import (
	"context"
	"testing"
	"time"

	sim "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store"
)

// Hook flow: Publish (rows inserted by Publish), WaitVisible, Unpublish. Two
// rows holding the same value (apex + wildcard of one ACME order) share one
// record that stays until the last of them is unpublished; a value dcvd did
// not write (SPF) is never touched.
func TestHookPublishSharedValue(t *testing.T) {
	e := newEnv(t, zoneNames(2), sim.Options{NoLimits: true})
	eng, st := e.engine(t, testLogger(t))
	ctx := context.Background()
	z := e.Zones[0]
	apex := &store.Challenge{Record: mustRecord(t, "_acme-challenge."+z, "shared-token")}
	wild := &store.Challenge{Record: mustRecord(t, "_acme-challenge."+z, "shared-token"), Key: "wildcard"}
	other := &store.Challenge{Record: mustRecord(t, "_acme-challenge."+e.Zones[1], "other-token")}
	rows := []*store.Challenge{apex, wild, other}
	if err := eng.Publish(ctx, rows); err != nil {
		t.Fatal(err)
	}
	for _, c := range rows {
		if c.ID == 0 || c.Account != HookAccount || c.State != store.Published || c.DNS != store.DNSPresent {
			t.Fatalf("after publish: %+v", c)
		}
	}
	if err := eng.WaitVisible(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if left := e.dcvRecords(t); len(left) != 2 {
		t.Fatalf("zone records after publish: %v", left)
	}
	// The daemon's pipeline leaves live hook rows alone.
	sum, err := eng.RunOnce(ctx)
	if err != nil || sum.Total != 0 {
		t.Fatalf("RunOnce touched hook rows: %s %v", sum, err)
	}
	if err := eng.Unpublish(ctx, []*store.Challenge{apex}); err != nil {
		t.Fatal(err)
	}
	if left := e.dcvRecords(t); len(left) != 2 {
		t.Fatalf("shared value removed while the wildcard row still holds it: %v", left)
	}
	if err := eng.Unpublish(ctx, []*store.Challenge{wild, other}); err != nil {
		t.Fatal(err)
	}
	if left := e.dcvRecords(t); len(left) != 0 {
		t.Fatalf("records left: %v", left)
	}
	e.spfIntact(t)
	for _, c := range rows {
		got, _ := st.Get(ctx, c.ID)
		if got.State != store.Cleaned || got.DNS != store.DNSRemoved {
			t.Fatalf("row %d after unpublish: %s %s", c.ID, got.State, got.DNS)
		}
	}
}

// Publish refuses a name outside every zone with the router's error and
// stores the row as failed.
func TestHookPublishOutsideZones(t *testing.T) {
	e := newEnv(t, zoneNames(1), sim.Options{NoLimits: true})
	eng, st := e.engine(t, testLogger(t))
	c := &store.Challenge{Record: mustRecord(t, "_acme-challenge.example.org", "x")}
	err := eng.Publish(context.Background(), []*store.Challenge{c})
	if err == nil || !contains(err.Error(), "outside every configured zone") {
		t.Fatalf("err = %v", err)
	}
	got, _ := st.Get(context.Background(), c.ID)
	if got.State != store.Failed || got.DNS.Owned() {
		t.Fatalf("row: %s %s", got.State, got.DNS)
	}
}

// Cleanup removes what abandoned hooks (and finished rows) left behind and
// leaves a hook that is still within olderThan alone.
func TestCleanupAbandoned(t *testing.T) {
	e := newEnv(t, zoneNames(1), sim.Options{NoLimits: true})
	eng, st := e.engine(t, testLogger(t))
	ctx := context.Background()
	z := e.Zones[0]
	old := &store.Challenge{Record: mustRecord(t, "_acme-challenge."+z, "abandoned")}
	if err := eng.Publish(ctx, []*store.Challenge{old}); err != nil {
		t.Fatal(err)
	}
	// Simulate a hook killed between "intent stored" and "backend called":
	// the row says adding, the zone may or may not hold it.
	crashed := &store.Challenge{Record: mustRecord(t, "_acme-challenge."+z, "crashed"), DNS: store.DNSAdding, Backend: "bind", Zone: z + "."}
	if err := st.Insert(ctx, []*store.Challenge{crashed}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // the two rows above are now older than 5ms
	fresh := &store.Challenge{Record: mustRecord(t, "_acme-challenge."+z, "fresh")}
	if err := eng.Publish(ctx, []*store.Challenge{fresh}); err != nil {
		t.Fatal(err)
	}
	n, err := eng.Cleanup(ctx, fresh.Updated.Sub(old.Updated)/2+time.Since(fresh.Updated))
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("cleanup removed %d, want 2", n)
	}
	if left := e.dcvRecords(t); len(left) != 1 || !contains(left[0], "fresh") {
		t.Fatalf("records after cleanup: %v", left)
	}
	got, _ := st.Get(ctx, old.ID)
	if got.State != store.Failed || got.DNS != store.DNSRemoved || !contains(got.Reason, "abandoned") {
		t.Fatalf("abandoned row: %s %s %q", got.State, got.DNS, got.Reason)
	}
	if err := eng.Unpublish(ctx, []*store.Challenge{fresh}); err != nil {
		t.Fatal(err)
	}
	if n, err := eng.Cleanup(ctx, 0); err != nil || n != 0 {
		t.Fatalf("second cleanup: %d %v", n, err)
	}
}
