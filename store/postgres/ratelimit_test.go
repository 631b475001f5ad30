package postgres

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/ratelimit"
	"github.com/dcvd/dcvd/internal/testenv"
)

// Two instances (two store handles) share one credential's limit of 5 calls
// in any 400 ms: 16 calls from both never exceed it in any window, and take
// at least three windows.
func TestLimiterSharedByInstances(t *testing.T) {
	testenv.RequirePostgres(t, pg)
	ctx := context.Background()
	dsn := pg.NewDatabase(t)
	limits := []ratelimit.Limit{{N: 5, Window: 400 * time.Millisecond}}
	lims := []*Limiter{open(t, dsn).Limiter("digicert:acct", limits, 0), open(t, dsn).Limiter("digicert:acct", limits, 0)}
	other := open(t, dsn).Limiter("webnic:other", limits, 0)
	var (
		mu    sync.Mutex
		times []time.Time
		wg    sync.WaitGroup
	)
	start := time.Now()
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 4; i++ {
				if err := lims[g%2].Wait(ctx); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				times = append(times, time.Now())
				mu.Unlock()
			}
		}(g)
	}
	// Another credential is not held up by this one.
	t0 := time.Now()
	for i := 0; i < 5; i++ {
		if err := other.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(t0); d > 350*time.Millisecond {
		t.Errorf("another key's 5 calls took %s", d)
	}
	wg.Wait()
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	// Admission times come from the server clock; allow the client's
	// observation a little jitter.
	for i := 5; i < len(times); i++ {
		if gap := times[i].Sub(times[i-5]); gap < 400*time.Millisecond-30*time.Millisecond {
			t.Fatalf("calls %d and %d only %s apart: more than 5 in a 400 ms window", i-5, i, gap)
		}
	}
	if took := time.Since(start); took < 3*400*time.Millisecond-50*time.Millisecond {
		t.Fatalf("16 calls at 5/400ms took %s, want at least 3 windows", took)
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	for {
		if err := lims[0].Wait(cctx); err != nil {
			break // ctx ended while waiting: returned, not stuck
		}
	}
}
