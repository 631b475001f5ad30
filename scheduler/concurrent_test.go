package scheduler

import (
	"context"
	"sync"
	"testing"
	"time"

	sim "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store"
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
