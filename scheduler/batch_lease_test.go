package scheduler

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/testenv"
	sim "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/postgres"
)

// A DNS batch is claimed as a unit (issue 15): an instance that stalled past
// its lease in the middle of a batch neither sends the batch for rows
// another instance took over, nor saves its result over the new owner's.

// gatedPublisher is engine A's backend: it fails its first Add (leaving the
// rows' add intent stored, as a failed write does), can hold an Add back at
// the gate until released (a stall inside the write), and counts the Adds
// that reached the real backend.
type gatedPublisher struct {
	dnspublish.Publisher
	failFirst atomic.Bool
	gate      chan struct{} // nil: no stall
	entered   chan struct{} // closed when an Add reaches the gate
	once      sync.Once
	adds      atomic.Int64
	failRm    atomic.Bool // every Remove fails while set
	removes   atomic.Int64
}

func (p *gatedPublisher) Remove(ctx context.Context, zone string, recs []dnspublish.Record) (dnspublish.Result, error) {
	if p.failRm.Load() {
		return dnspublish.Result{}, errors.New("SERVFAIL (injected)")
	}
	p.removes.Add(1)
	return p.Publisher.Remove(ctx, zone, recs)
}

func (p *gatedPublisher) Add(ctx context.Context, zone string, recs []dnspublish.Record) (dnspublish.Result, error) {
	if p.failFirst.CompareAndSwap(true, false) {
		return dnspublish.Result{}, errors.New("SERVFAIL (injected)")
	}
	if p.gate != nil {
		p.once.Do(func() { close(p.entered) })
		<-p.gate
	}
	p.adds.Add(1)
	return p.Publisher.Add(ctx, zone, recs)
}

// pgPair builds two engines on one fresh PostgreSQL database, with a short
// lease, and wraps A's backend.
func pgPair(t *testing.T, pg *testenv.Postgres, e *env, lease time.Duration) (a, b *Engine, st store.Store, gp *gatedPublisher) {
	t.Helper()
	dsn := pg.NewDatabase(t)
	mk := func() *Engine {
		s, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		_, router, chk := e.parts(t)
		eng, err := New(Config{Store: s, Router: router, Checker: chk, Logger: testLogger(t),
			Accounts: []Account{{Provider: e.provider(t, "dns-txt")}},
			RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond,
			PollMin: 20 * time.Millisecond, PollMax: 100 * time.Millisecond,
			Linger: 2 * time.Second, Lease: lease})
		if err != nil {
			t.Fatal(err)
		}
		return eng
	}
	a, b = mk(), mk()
	gp = &gatedPublisher{}
	for _, be := range a.backends {
		gp.Publisher = be.pub
		be.pub = gp
	}
	return a, b, a.st, gp
}

// claimAll discovers the orders with a and claims every row for a, as a's
// driver does before it builds a batch.
func claimAll(t *testing.T, ctx context.Context, a *Engine) []*store.Challenge {
	t.Helper()
	if err := a.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	return claimStored(t, ctx, a)
}

// claimStored claims every stored row for a.
func claimStored(t *testing.T, ctx context.Context, a *Engine) []*store.Challenge {
	t.Helper()
	list, err := a.st.List(ctx, store.Filter{})
	if err != nil || len(list) == 0 {
		t.Fatalf("discovered %d rows: %v", len(list), err)
	}
	ids := make([]int64, len(list))
	for i, c := range list {
		ids[i] = c.ID
	}
	got, err := a.claim(ctx, ids)
	if err != nil || len(got) != len(list) {
		t.Fatalf("a claimed %d of %d rows: %v", len(got), len(list), err)
	}
	rows := make([]*store.Challenge, len(got))
	for i := range got {
		rows[i] = &got[i]
	}
	return rows
}

// finishedByB: every order issued, every row cleaned and its value gone.
func finishedByB(t *testing.T, ctx context.Context, e *env, st store.Store, ids []int) {
	t.Helper()
	wantIssued(t, e.sim, ids)
	rows, err := st.List(ctx, store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rows {
		if c.State != store.Cleaned || c.DNS != store.DNSRemoved {
			t.Errorf("row %d %s: %s dns=%s reason=%q (the new owner's outcome was overwritten)", c.ID, c.Name, c.State, c.DNS, c.Reason)
		}
	}
	if left := e.dcvRecords(t); len(left) != 0 {
		t.Errorf("records left in the zone: %v", left)
	}
}

func TestStaleBatchNotSent(t *testing.T) {
	const lease = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg := testenv.StartPostgres(t)

	// A's rows already hold an add intent (its first Add failed); A stalls
	// past its lease before the retry; B takes the rows over and finishes
	// them. A's retry batch, built from its stale copies, must not reach
	// the backend: the renewal just before the intent save finds the
	// leases gone.
	t.Run("retry batch after the lease was lost", func(t *testing.T) {
		e := newEnv(t, zoneNames(1), sim.Options{NoLimits: true})
		ids := addOrders(e.sim, e.Zones, "dns-txt-token")
		a, b, st, gp := pgPair(t, pg, e, lease)
		gp.failFirst.Store(true)
		rows := claimAll(t, ctx, a)
		be, zone, err := a.backendFor(rows[0])
		if err != nil {
			t.Fatal(err)
		}
		stale, err := a.publish(ctx, be, zoneRows{zone: rows})
		if err != nil || len(stale) != len(rows) || stale[0].DNS != store.DNSAdding {
			t.Fatalf("first publish by a: %d rows saved, dns %s, %v", len(stale), stale[0].DNS, err)
		}
		time.Sleep(lease + 200*time.Millisecond) // a stalls
		if _, err := b.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		finishedByB(t, ctx, e, st, ids)
		saved, err := a.publish(ctx, be, zoneRows{zone: stale}) // a wakes up
		if err != nil {
			t.Fatal(err)
		}
		if len(saved) != 0 || gp.adds.Load() != 0 {
			t.Errorf("stale batch: %d rows saved, %d Adds sent (want none)", len(saved), gp.adds.Load())
		}
		finishedByB(t, ctx, e, st, ids)
	})

	// A stores its add intent, then stalls inside the write past its
	// lease; B takes over, publishes, validates and removes. A's write
	// lands late: its outcome is not saved over B's (the fence), and the
	// value it put back is removed again.
	t.Run("write in flight when the lease was lost", func(t *testing.T) {
		e := newEnv(t, zoneNames(1), sim.Options{NoLimits: true})
		ids := addOrders(e.sim, e.Zones, "dns-txt-token")
		a, b, st, gp := pgPair(t, pg, e, lease)
		gp.gate, gp.entered = make(chan struct{}), make(chan struct{})
		rows := claimAll(t, ctx, a)
		be, zone, err := a.backendFor(rows[0])
		if err != nil {
			t.Fatal(err)
		}
		type res struct {
			saved []*store.Challenge
			err   error
		}
		done := make(chan res, 1)
		go func() {
			saved, err := a.publish(ctx, be, zoneRows{zone: rows})
			done <- res{saved, err}
		}()
		select {
		case <-gp.entered:
		case <-ctx.Done():
			t.Fatal("a never reached its Add")
		}
		time.Sleep(lease + 200*time.Millisecond) // a stalls inside the write
		if _, err := b.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		finishedByB(t, ctx, e, st, ids)
		close(gp.gate) // the late write lands
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		if gp.adds.Load() != 1 || len(r.saved) != 0 {
			t.Errorf("late write: %d Adds, %d rows saved by a (want 1 Add, none saved)", gp.adds.Load(), len(r.saved))
		}
		finishedByB(t, ctx, e, st, ids)
	})

	// A's beat (its process lease) holds its rows while live. A stalls past
	// it; B takes one row over; A's driver then renews the beat, which is
	// live again. A check step whose rows were last known held before the
	// lapse must still leave out the row B took: a live beat alone does
	// not prove a row was never lost.
	t.Run("check after the process lease lapsed", func(t *testing.T) {
		e := newEnv(t, zoneNames(1), sim.Options{NoLimits: true})
		addOrders(e.sim, e.Zones, "dns-txt-token")
		a, b, _, _ := pgPair(t, pg, e, lease)
		if _, err := a.beat(ctx); err != nil {
			t.Fatal(err)
		}
		rows := claimAll(t, ctx, a)
		since := time.Now()
		if live, err := a.beat(ctx); err != nil || !live {
			t.Fatalf("a's beat: live %v, %v", live, err)
		}
		time.Sleep(lease + 200*time.Millisecond) // a stalls
		taken, err := b.claim(ctx, []int64{rows[0].ID})
		if err != nil || len(taken) != 1 {
			t.Fatalf("b takes a row of a's lapsed beat: %d rows, %v", len(taken), err)
		}
		if live, err := a.beat(ctx); err != nil || live {
			t.Fatalf("a's beat after the stall: live %v, %v; want lapsed", live, err)
		}
		if live, err := a.beat(ctx); err != nil || !live {
			t.Fatalf("a's next beat: live %v, %v", live, err)
		}
		kept, err := a.held(ctx, "check", rows, since)
		if err != nil {
			t.Fatal(err)
		}
		if len(kept) != len(rows)-1 || slices.Contains(kept, rows[0]) {
			t.Errorf("held after the lapse: %d of %d rows, the row b took included: %v", len(kept), len(rows), slices.Contains(kept, rows[0]))
		}
	})

	// The same for a removal: a's rows are validated and their remove
	// intent stored (its Removes fail); a stalls past its lease; b removes
	// the records and finishes. a's retry batch is not sent.
	t.Run("remove batch after the lease was lost", func(t *testing.T) {
		e := newEnv(t, zoneNames(1), sim.Options{NoLimits: true})
		ids := addOrders(e.sim, e.Zones, "dns-txt-token")
		a, b, st, gp := pgPair(t, pg, e, lease)
		gp.failRm.Store(true)
		rctx, rcancel := context.WithTimeout(ctx, 3*time.Second) // removal retries forever
		a.RunOnce(rctx)
		rcancel()
		rows := claimStored(t, ctx, a)
		for _, c := range rows {
			if c.State != store.Validated || c.DNS != store.DNSRemoving {
				t.Fatalf("after a's run: row %d %s dns=%s (%s)", c.ID, c.State, c.DNS, c.Reason)
			}
		}
		gp.failRm.Store(false)
		be, zone, err := a.backendFor(rows[0])
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(lease + 200*time.Millisecond) // a stalls
		if _, err := b.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		finishedByB(t, ctx, e, st, ids)
		saved, err := a.remove(ctx, be, zoneRows{zone: rows}) // a wakes up
		if err != nil {
			t.Fatal(err)
		}
		if len(saved) != 0 || gp.removes.Load() != 0 {
			t.Errorf("stale remove batch: %d rows saved, %d Removes sent (want none)", len(saved), gp.removes.Load())
		}
		finishedByB(t, ctx, e, st, ids)
	})
}

// An order's due rows are claimed together (issue 15): when another
// process takes part of an order between a fetch's read and its claim (two
// instances fetching the same due rows at once), the fetch leaves the rest
// of the order to that process instead of checking the order once per
// part; once the other process lets go, the next fetch takes the whole
// order.
func TestFetchTakesWholeOrders(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg := testenv.StartPostgres(t)
	e := newEnv(t, zoneNames(3), sim.Options{NoLimits: true})
	for _, label := range []string{"a", "b", "c"} { // three orders of a name in each zone
		e.sim.AddOrder(sim.OrderSpec{CommonName: label + "." + e.Zones[0],
			DNSNames: []string{label + "." + e.Zones[1], label + "." + e.Zones[2]}, Method: "dns-txt-token"})
	}
	a, b, st, _ := pgPair(t, pg, e, time.Minute)
	if err := a.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	list, err := st.List(ctx, store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	byOrder := map[string][]store.Challenge{}
	for _, c := range list {
		byOrder[c.Order] = append(byOrder[c.Order], c)
	}
	split := list[0]
	if len(byOrder) != 3 || len(byOrder[split.Order]) != 3 {
		t.Fatalf("discovered %d orders, %d rows in order %s; want 3 orders of 3 rows", len(byOrder), len(byOrder[split.Order]), split.Order)
	}
	// b takes one row of the order after a's fetch read it, before a claims.
	var once sync.Once
	a.st = &claimHook{Store: st, hook: func([]int64) {
		once.Do(func() {
			if got, err := b.claim(ctx, []int64{split.ID}); err != nil || len(got) != 1 {
				t.Errorf("b claims one row of order %s: %d rows, %v", split.Order, len(got), err)
			}
		})
	}}
	d := newDriver(a, true)
	d.fetch(ctx, time.Now())
	ready := map[string]int{}
	for _, c := range d.ready {
		ready[c.Order]++
	}
	for o, rows := range byOrder {
		want := len(rows)
		if o == split.Order {
			want = 0
		}
		if ready[o] != want {
			t.Errorf("order %s: a's fetch took %d of its %d rows, want %d", o, ready[o], len(rows), want)
		}
	}
	for _, c := range byOrder[split.Order][1:] {
		if cur, err := st.Get(ctx, c.ID); err != nil || cur.Owner != "" {
			t.Errorf("row %d of the split order after a's fetch: owner %q, %v; want free", c.ID, cur.Owner, err)
		}
	}
	b.release(ctx, []int64{split.ID})
	d.fetch(ctx, time.Now())
	n := 0
	for _, c := range d.ready {
		if c.Order == split.Order {
			n++
		}
	}
	if n != len(byOrder[split.Order]) {
		t.Errorf("after b let go: a's fetch took %d of the order's %d rows", n, len(byOrder[split.Order]))
	}
}
