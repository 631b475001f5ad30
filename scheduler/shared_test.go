package scheduler

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	sim "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store"
)

// countingPublisher wraps a real backend: it counts, per engine, every
// value it was asked to add, and can hold each Add back for a while before
// the real write (a slow DNS server).
type countingPublisher struct {
	dnspublish.Publisher
	delay time.Duration
	mu    *sync.Mutex
	adds  map[string]int // record key -> Add calls
}

func (p *countingPublisher) Add(ctx context.Context, zone string, recs []dnspublish.Record) (dnspublish.Result, error) {
	p.mu.Lock()
	for _, r := range recs {
		p.adds[r.Key()]++
	}
	p.mu.Unlock()
	if p.delay > 0 {
		// The write goes out late even when the caller has moved on, as an
		// UPDATE stuck in a slow server's queue would.
		time.Sleep(p.delay)
		ctx = context.WithoutCancel(ctx)
	}
	return p.Publisher.Add(ctx, zone, recs)
}

// record wraps every backend of eng.
func record(eng *Engine, delay time.Duration) *countingPublisher {
	rp := &countingPublisher{delay: delay, mu: &sync.Mutex{}, adds: map[string]int{}}
	for _, b := range eng.backends {
		rp.Publisher = b.pub
		b.pub = rp
	}
	return rp
}

// Issue 8 item 1: two processes on one state file; the first one's DNS
// update is slow. Before leases, the second took the first's live "adding"
// rows for a crash leftover, published, validated and removed the records,
// and the first's late update then re-added them for good (no row held them,
// `dcvd cleanup` saw nothing). Now the second leaves rows leased by the first
// alone, and no record is left.
func TestTwoProcessesSlowUpdateNoLeak(t *testing.T) {
	e := newEnv(t, zoneNames(4), sim.Options{NoLimits: true})
	ids := addOrders(e.sim, e.Zones, "dns-txt-token")
	a, st := e.engine(t, testLogger(t), e.provider(t, "dns-txt"))
	b, _ := e.engine(t, testLogger(t), e.provider(t, "dns-txt"))
	slow := record(a, 3*time.Second)
	fast := record(b, 0)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	aDone := make(chan error, 1)
	go func() { _, err := a.RunOnce(ctx); aDone <- err }()
	// Wait until A has stored its add intents and is inside the slow Add.
	deadline := time.Now().Add(20 * time.Second)
	for {
		rows, err := st.List(ctx, store.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		adding := 0
		for _, c := range rows {
			if c.DNS == store.DNSAdding {
				adding++
			}
		}
		if len(rows) > 0 && adding == len(rows) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine A never stored its add intents: %d rows", len(rows))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := b.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	// A may still be back off-ing on nothing; one more pass by B settles.
	if _, err := b.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	wantIssued(t, e.sim, ids)
	if left := e.dcvRecords(t); len(left) != 0 {
		t.Fatalf("records left in the zones (leak): %v", left)
	}
	for k := range fast.adds {
		if slow.adds[k] > 0 {
			t.Errorf("value %s added by both processes", k)
		}
	}
	e.spfIntact(t)
}

// Two daemons on one state file: every order validated, no record left, no
// value added by both.
func TestTwoDaemonsNoDuplicateAdds(t *testing.T) {
	e := newEnv(t, zoneNames(10), sim.Options{NoLimits: true})
	ids := addOrders(e.sim, e.Zones, "dns-txt-token")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var recs []*countingPublisher
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		eng, _ := e.engine(t, testLogger(t), e.provider(t, "dns-txt"))
		eng.accounts["digicert"].Schedule = "@every 1s"
		eng.cfg.Fetch = 50 * time.Millisecond                  // each sees the other's rows soon
		recs = append(recs, record(eng, 150*time.Millisecond)) // a DNS round trip as on a real network
		wg.Add(1)
		go func() { defer wg.Done(); eng.Run(ctx) }()
	}
	// More orders while both run: each daemon's discovery and fetch see
	// them.
	for wave := 0; wave < 4; wave++ {
		time.Sleep(300 * time.Millisecond)
		ids = append(ids, addOrders(e.sim, e.Zones, "dns-txt-token")...)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		all := true
		for _, id := range ids {
			if o, _ := e.sim.Order(id); o.Status != "issued" {
				all = false
			}
		}
		if all && len(e.dcvRecords(t)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("orders not issued and cleaned within 30s; records %v", e.dcvRecords(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	both := 0
	for k := range recs[0].adds {
		if recs[1].adds[k] > 0 {
			both++
			t.Errorf("value %s added by both daemons", k)
		}
	}
	t.Logf("adds: daemon 1 %d values, daemon 2 %d values, %d by both", len(recs[0].adds), len(recs[1].adds), both)
}
