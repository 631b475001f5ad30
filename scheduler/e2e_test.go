package scheduler

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/internal/testenv"
	sim "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store"
)

// addOrders seeds per zone: apex + wildcard (one shared TXT value) + www
// (its own name, same order value).
func addOrders(s *sim.Server, zones []string, method string) []int {
	var ids []int
	for _, z := range zones {
		ids = append(ids, s.AddOrder(sim.OrderSpec{CommonName: z, DNSNames: []string{"*." + z, "www." + z}, Method: method}))
	}
	return ids
}

func wantIssued(t *testing.T, s *sim.Server, ids []int) {
	t.Helper()
	for _, id := range ids {
		o, ok := s.Order(id)
		if !ok || o.Status != "issued" {
			t.Errorf("order %d: %+v, want issued", id, o)
		}
	}
}

// Several zones, TXT and CNAME orders: RunOnce validates everything through
// BIND and the simulator and leaves no record behind (AXFR).
func TestRunOnceEndToEnd(t *testing.T) {
	e := newEnv(t, zoneNames(6), sim.Options{NoLimits: true})
	txt := addOrders(e.sim, e.Zones[:4], "dns-txt-token")
	cname := addOrders(e.sim, e.Zones[4:], "dns-cname-token")
	var changes int
	eng, st := e.engine(t, testLogger(t), e.provider(t, "dns-txt"))
	eng.cfg.OnChange = func(store.Challenge) { changes++ }

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sum, err := eng.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.ExitCode() != 0 || sum.ByState[store.Cleaned] != sum.Total || sum.Total == 0 {
		t.Fatalf("summary %s; exit %d; failed %+v; pending %+v", sum, sum.ExitCode(), sum.Failed, sum.Pending)
	}
	wantIssued(t, e.sim, append(txt, cname...))
	if left := e.dcvRecords(t); len(left) != 0 {
		t.Fatalf("records left in the zones: %v", left)
	}
	e.spfIntact(t)
	rows, _ := st.List(ctx, store.Filter{})
	for _, c := range rows {
		if c.State != store.Cleaned || c.DNS != store.DNSRemoved || c.Backend != "bind" || c.Zone == "" {
			t.Errorf("row %d: %s dns=%s backend=%s zone=%s reason=%q", c.ID, c.State, c.DNS, c.Backend, c.Zone, c.Reason)
		}
	}
	if changes < 5*len(rows) {
		t.Errorf("OnChange called %d times for %d rows", changes, len(rows))
	}

	// A second pass has nothing to do.
	sum, err = eng.RunOnce(ctx)
	if err != nil || sum.Total != 0 || sum.ExitCode() != 0 {
		t.Fatalf("second run: %s, %v", sum, err)
	}
}

// A name outside every configured zone fails with the router's error, and
// nothing is written anywhere.
func TestOutOfZoneFails(t *testing.T) {
	e := newEnv(t, zoneNames(1), sim.Options{NoLimits: true})
	ok := addOrders(e.sim, e.Zones, "dns-txt-token")
	e.sim.AddOrder(sim.OrderSpec{CommonName: "elsewhere.example.org"})
	eng, _ := e.engine(t, testLogger(t), e.provider(t, "dns-txt"))
	sum, err := eng.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Failed) != 1 || sum.ExitCode() != 1 {
		t.Fatalf("summary %s, failed %+v", sum, sum.Failed)
	}
	f := sum.Failed[0]
	if f.Name != "elsewhere.example.org" || f.DNS.Owned() || !contains(f.Reason, "outside every configured zone") {
		t.Fatalf("failed row: name=%s dns=%s reason=%q", f.Name, f.DNS, f.Reason)
	}
	wantIssued(t, e.sim, ok)
	if left := e.dcvRecords(t); len(left) != 0 {
		t.Fatalf("records left: %v", left)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// A challenge whose value expired before it was validated becomes Expired
// and its record is removed.
func TestExpiredIsCleanedUp(t *testing.T) {
	e := newEnv(t, zoneNames(1), sim.Options{NoLimits: true})
	eng, st := e.engine(t, testLogger(t))
	ctx := context.Background()
	// A row that was published, then expired (as after a long outage).
	c := &store.Challenge{Account: "digicert", Order: "1", Name: e.Zones[0],
		Record:  mustRecord(t, e.Zones[0], "expired-value"),
		Expires: time.Now().Add(-time.Minute)}
	if err := st.Insert(ctx, []*store.Challenge{c}); err != nil {
		t.Fatal(err)
	}
	// The account is not configured in this engine; configure one that
	// discovers nothing so the row is driven.
	eng.accounts["digicert"] = &account{name: "digicert", Account: Account{Provider: emptyProvider{"digicert"}}}
	if err := eng.Publish(ctx, []*store.Challenge{c}); err != nil {
		t.Fatal(err)
	}
	if left := e.dcvRecords(t); len(left) != 1 {
		t.Fatalf("published records: %v", left)
	}
	sum, err := eng.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := st.Get(ctx, c.ID)
	if got.State != store.Expired || got.DNS != store.DNSRemoved || !contains(got.Reason, "expired") {
		t.Fatalf("row: %s dns=%s reason=%q (summary %s)", got.State, got.DNS, got.Reason, sum)
	}
	if sum.ExitCode() != 1 {
		t.Fatalf("exit code %d for an expired challenge", sum.ExitCode())
	}
	if left := e.dcvRecords(t); len(left) != 0 {
		t.Fatalf("records left: %v", left)
	}
}

func mustRecord(t testing.TB, name, value string) dnspublishRecord {
	t.Helper()
	r, err := dnspublishRecord{FQDN: name, Type: "TXT", Value: value}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Ensure test helpers compile against the real types.
var _ = fmt.Sprint

// With a claim window smaller than the work, the engine holds at most that
// many leases at once and still takes every row through: the rest wait in
// the store, due, until the window has room.
func TestClaimWindow(t *testing.T) {
	e := newEnv(t, zoneNames(6), sim.Options{NoLimits: true})
	ids := addOrders(e.sim, e.Zones, "dns-txt-token")
	eng, st := e.engine(t, testLogger(t), e.provider(t, "dns-txt"))
	const window = 3
	eng.cfg.ClaimWindow = window
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	held := 0
	eng.cfg.OnChange = func(store.Challenge) {
		rows, err := st.List(ctx, store.Filter{})
		if err != nil {
			t.Error(err)
			return
		}
		n := 0
		for _, c := range rows {
			if c.Owner == eng.cfg.Owner && c.LeaseUntil.After(time.Now()) {
				n++
			}
		}
		held = max(held, n)
	}
	sum, err := eng.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.ExitCode() != 0 || sum.ByState[store.Cleaned] != sum.Total || sum.Total <= window {
		t.Fatalf("summary %s; failed %+v; pending %+v", sum, sum.Failed, sum.Pending)
	}
	wantIssued(t, e.sim, ids)
	if left := e.dcvRecords(t); len(left) != 0 {
		t.Fatalf("records left in the zones: %v", left)
	}
	if held == 0 || held > window {
		t.Fatalf("at most %d rows leased at once, want 1..%d", held, window)
	}
}

// The CA's own lookup of one name fails (its resolver gets SERVFAIL once,
// as from an overloaded server) while the record is there: DigiCert's
// check-dcv approves the order's other name and leaves this one pending.
// The run checks again after the usual backoff rather than only polling
// (a poll never makes DigiCert look), and ends with the order issued and
// nothing left: two checks of the order, the second one finding the name.
func TestRunChecksAgainWhenTheCAMissedAName(t *testing.T) {
	e := newEnv(t, zoneNames(2), sim.Options{NoLimits: true})
	flaky := testenv.StartQueryCounter(t, e.BindAddr)
	e.sim = sim.New(sim.Options{Keys: []string{"good-key"}, NoLimits: true, DNSServers: []string{flaky.Addr}})
	srv := httptest.NewServer(e.sim)
	t.Cleanup(srv.Close)
	e.SimURL = srv.URL + sim.Prefix
	// One order, a name in each zone (two records).
	ids := []int{e.sim.AddOrder(sim.OrderSpec{CommonName: e.Zones[0], DNSNames: []string{e.Zones[1]}})}
	missed := e.Zones[1]
	flaky.FailNext(missed, dns.TypeTXT, 1)
	eng, _ := e.engine(t, testLogger(t), e.provider(t, "dns-txt"))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sum, err := eng.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.ExitCode() != 0 || sum.ByState[store.Cleaned] != sum.Total || sum.Total != 2 {
		t.Fatalf("summary %s; exit %d; pending %+v", sum, sum.ExitCode(), sum.Pending)
	}
	wantIssued(t, e.sim, ids)
	if left := e.dcvRecords(t); len(left) != 0 {
		t.Fatalf("records left in the zones: %v", left)
	}
	checks := e.sim.DCVChecks()
	if len(checks) != 2 || len(checks[0].Approved) != 1 || len(checks[1].Approved) != 1 || checks[1].Approved[0] != missed {
		t.Errorf("check-dcv requests %+v; want two, the second approving %s", checks, missed)
	}
	if n := flaky.Count(missed, dns.TypeTXT); n != 2 {
		t.Errorf("the CA asked for %s TXT %d times, want 2 (failed, then found)", missed, n)
	}
}
