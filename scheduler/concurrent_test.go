package scheduler

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvd/dcvd/providers"
	sim "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/sqlite"
)

// Two `dcvd run` at once on one state: each one's summary and exit code
// report where the rows it touched are when it ends, not a stale copy of a
// row the other process finished (issue 8 item 7).
func TestConcurrentRunsSummaries(t *testing.T) {
	e := newEnv(t, zoneNames(4), sim.Options{NoLimits: true})
	ids := addOrders(e.sim, e.Zones, "dns-txt-token")
	var engines []*Engine
	for i := 0; i < 2; i++ {
		// Every order waits on the CA once (a poll after the submit), so
		// each run sees rows the other one finishes.
		eng, _ := e.engine(t, testLogger(t), pendingOnSubmit{e.provider(t, "dns-txt")})
		eng.cfg.PollMin, eng.cfg.PollMax = 200*time.Millisecond, 400*time.Millisecond
		engines = append(engines, eng)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sums := make([]Summary, len(engines))
	errs := make([]error, len(engines))
	var wg sync.WaitGroup
	for i, eng := range engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[i], errs[i] = eng.RunOnce(ctx)
		}()
	}
	wg.Wait()
	wantIssued(t, e.sim, ids)
	for i, s := range sums {
		if errs[i] != nil {
			t.Fatalf("run %d: %v", i, errs[i])
		}
		for _, c := range append(append(s.Pending, s.Failed...), s.Leftover...) {
			t.Errorf("run %d reports row %d %s as %s dns=%s (%q)", i, c.ID, c.Name, c.State, c.DNS, c.Reason)
		}
		if s.ExitCode() != 0 || s.ByState[store.Cleaned] != s.Total {
			t.Errorf("run %d: %s, exit %d", i, s, s.ExitCode())
		}
	}
	if left := e.dcvRecords(t); len(left) != 0 {
		t.Fatalf("records left: %v", left)
	}
}

// gatedDiscovery counts its discoveries; the first one signals started and
// waits for release, then fails when fail is set.
type gatedDiscovery struct {
	providers.Provider
	calls            *atomic.Int32
	started, release chan struct{}
	fail             bool
}

func (g gatedDiscovery) Discover(ctx context.Context) ([]providers.Challenge, error) {
	if g.calls.Add(1) == 1 && g.started != nil {
		close(g.started)
		<-g.release
		if g.fail {
			return nil, errors.New("discovery cut short")
		}
	}
	return g.Provider.Discover(ctx)
}

// A `dcvd run` started while another process discovers the same account
// waits for that discovery and, when it completes, works on what it stored
// instead of asking the CA again; when the other's discovery does not
// complete (it failed, or its process died: the lock is freed without
// store.Finish), the run discovers itself.
func TestRunFollowsDiscovery(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fail      bool
		wantCalls int32 // discoveries the second run makes
	}{
		{"completed", false, 0},
		{"cut short", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, zoneNames(3), sim.Options{NoLimits: true})
			ids := addOrders(e.sim, e.Zones, "dns-txt-token")
			var firstCalls, secondCalls atomic.Int32
			started, release := make(chan struct{}), make(chan struct{})
			first, _ := e.engine(t, testLogger(t), gatedDiscovery{Provider: e.provider(t, "dns-txt"), calls: &firstCalls,
				started: started, release: release, fail: tc.fail})
			second, _ := e.engine(t, testLogger(t), gatedDiscovery{Provider: e.provider(t, "dns-txt"), calls: &secondCalls})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var sums [2]Summary
			var errs [2]error
			var wg sync.WaitGroup
			wg.Go(func() { sums[0], errs[0] = first.RunOnce(ctx) })
			<-started
			wg.Go(func() { sums[1], errs[1] = second.RunOnce(ctx) })
			// The second run is waiting for the lock once it has read the
			// completion count; then the first discovery goes on.
			deadline := time.Now().Add(10 * time.Second)
			for second.waitingDiscovery.Load() == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the second run never waited for the discovery lock")
				}
				time.Sleep(5 * time.Millisecond)
			}
			close(release)
			wg.Wait()
			if got := secondCalls.Load(); got != tc.wantCalls {
				t.Fatalf("second run discovered %d times, want %d", got, tc.wantCalls)
			}
			wantIssued(t, e.sim, ids)
			if errs[0] != nil || errs[1] != nil {
				t.Fatalf("runs: %v, %v", errs[0], errs[1])
			}
			if c := sums[1].ExitCode(); c != 0 {
				t.Fatalf("second run: %s, exit %d", sums[1], c)
			}
			if left := e.dcvRecords(t); len(left) != 0 {
				t.Fatalf("records left: %v", left)
			}
		})
	}
}

// A row the CA left pending whose next poll lies beyond Linger is polled
// once more before the run ends: here the CA validated the orders right
// after saying "pending" (as when another instance's check of the same
// order lands), and the run finishes them instead of exiting 3.
func TestRunPollsOnceMoreBeforeEnding(t *testing.T) {
	e, ids, eng, _ := pendingBeyondLinger(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := eng.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := sum.ExitCode(); c != 0 || sum.ByState[store.Cleaned] != sum.Total {
		t.Fatalf("%s, exit %d: want every row cleaned", sum, c)
	}
	wantIssued(t, e.sim, ids)
	if left := e.dcvRecords(t); len(left) != 0 {
		t.Fatalf("records left: %v", left)
	}
}

// The last poll waits for rows another process holds at that moment: here
// every row the run left waiting on the CA is held by "other" when the
// last poll tries to take it, and let go a moment later. The run polls
// them once "other" lets go and ends with every row cleaned, instead of
// ending with them pending (exit 3).
func TestRunLastPollWaitsForOtherProcess(t *testing.T) {
	e, ids, eng, st := pendingBeyondLinger(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var held atomic.Bool
	eng.st = &claimHook{Store: st, hook: func(ids []int64) {
		for _, id := range ids {
			if c, err := st.Get(ctx, id); err != nil || c.State != store.Submitted {
				return // not the last poll's claim
			}
		}
		if !held.CompareAndSwap(false, true) {
			return
		}
		if got, err := st.Claim(ctx, ids, "other", time.Minute); err != nil || len(got) != len(ids) {
			t.Errorf("other claims the rows waiting on the CA: %d of %d, %v", len(got), len(ids), err)
		}
		time.AfterFunc(500*time.Millisecond, func() { st.Release(context.Background(), ids, "other") })
	}}
	sum, err := eng.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !held.Load() {
		t.Fatal("the last poll never claimed the rows waiting on the CA")
	}
	if c := sum.ExitCode(); c != 0 || sum.ByState[store.Cleaned] != sum.Total {
		t.Fatalf("%s, exit %d: want every row cleaned", sum, c)
	}
	wantIssued(t, e.sim, ids)
}

// pendingBeyondLinger: two orders whose checks the CA answers "pending",
// with the next poll due far beyond a run's Linger (only a last poll
// finishes them).
func pendingBeyondLinger(t *testing.T) (*env, []int, *Engine, *sqlite.Store) {
	e := newEnv(t, zoneNames(2), sim.Options{NoLimits: true})
	ids := addOrders(e.sim, e.Zones, "dns-txt-token")
	eng, st := e.engine(t, testLogger(t), pendingOnSubmit{e.provider(t, "dns-txt")})
	eng.cfg.PollMin, eng.cfg.PollMax = time.Hour, time.Hour
	return e, ids, eng, st
}

// claimHook calls hook with the ids of every Claim before it is made.
type claimHook struct {
	store.Store
	hook func(ids []int64)
}

func (c *claimHook) Claim(ctx context.Context, ids []int64, owner string, lease time.Duration) ([]store.Challenge, error) {
	c.hook(ids)
	return c.Store.Claim(ctx, ids, owner, lease)
}

// slowChecks counts the CA calls in flight at once; each takes a while, as
// a CA's own DNS lookups do.
type slowChecks struct {
	providers.Provider
	now, most *atomic.Int32
}

func (p slowChecks) Submit(ctx context.Context, order string, chs []providers.Challenge) ([]providers.Outcome, error) {
	n := p.now.Add(1)
	defer p.now.Add(-1)
	for m := p.most.Load(); n > m && !p.most.CompareAndSwap(m, n); m = p.most.Load() {
	}
	time.Sleep(100 * time.Millisecond) // the CA's latency
	return p.Provider.Submit(ctx, order, chs)
}

// A submit step's orders are checked several at a time, not one after
// another, and each still exactly once.
func TestSubmitStepChecksOrdersConcurrently(t *testing.T) {
	e := newEnv(t, zoneNames(6), sim.Options{NoLimits: true})
	ids := addOrders(e.sim, e.Zones, "dns-txt-token")
	var now, most atomic.Int32
	eng, _ := e.engine(t, testLogger(t), slowChecks{Provider: e.provider(t, "dns-txt"), now: &now, most: &most})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := eng.RunOnce(ctx)
	if err != nil || sum.ExitCode() != 0 {
		t.Fatalf("run: %s, %v", sum, err)
	}
	wantIssued(t, e.sim, ids)
	if most.Load() < 2 {
		t.Fatalf("at most %d check in flight at once for %d orders, want several", most.Load(), len(ids))
	}
	if n := e.sim.Requests("good-key", "PUT /order/certificate/{id}/check-dcv"); n != len(ids) {
		t.Fatalf("%d check-dcv requests for %d orders", n, len(ids))
	}
}

// A one-shot run does not end while its discovery is still storing rows,
// even when the discovery ends between the loop's read of the store and its
// check that discovery is over: here the discovery is held until the loop
// has read the store and found nothing due, and ends before that read
// returns. The run must still work on the rows it stored.
func TestRunWaitsForDiscoveryEndingMidRead(t *testing.T) {
	e := newEnv(t, zoneNames(1), sim.Options{NoLimits: true})
	ids := addOrders(e.sim, e.Zones, "dns-txt-token")
	var calls atomic.Int32
	release := make(chan struct{})
	eng, st := e.engine(t, testLogger(t), gatedDiscovery{Provider: e.provider(t, "dns-txt"), calls: &calls,
		started: make(chan struct{}), release: release})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var once sync.Once
	eng.st = &workHook{Store: st, after: func(now time.Time) {
		if now.Before(time.Now().Add(time.Second)) {
			return // a fetch; the loop's "anything due soon?" read looks ahead
		}
		once.Do(func() {
			close(release)
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if rows, _ := st.List(ctx, store.Filter{}); len(rows) > 0 {
					break
				}
			}
			time.Sleep(200 * time.Millisecond) // the discovery goroutine ends and marks itself over
		})
	}}
	sum, err := eng.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := sum.ExitCode(); c != 0 || sum.Total == 0 || sum.ByState[store.Cleaned] != sum.Total {
		t.Fatalf("%s, exit %d: want the discovered rows cleaned", sum, c)
	}
	wantIssued(t, e.sim, ids)
}

// workHook calls after with each Work's now once the read is made, before
// its rows are returned.
type workHook struct {
	store.Store
	after func(now time.Time)
}

func (w *workHook) Work(ctx context.Context, now time.Time, limit int) ([]store.Challenge, error) {
	rows, err := w.Store.Work(ctx, now, limit)
	w.after(now)
	return rows, err
}
