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
// in any 400 ms: 16 calls from both never exceed it in any window, by the
// admission times the database recorded (the server's clock, which decides;
// a client's own clock reading after Wait returns can lag under load), and
// take at least three windows. Another credential is not held up.
func TestLimiterSharedByInstances(t *testing.T) {
	testenv.RequirePostgres(t, pg)
	ctx := context.Background()
	dsn := pg.NewDatabase(t)
	// The one-minute window never binds; it keeps every call's row, so the
	// test can read all admission times back.
	limits := []ratelimit.Limit{{N: 5, Window: 400 * time.Millisecond}, {N: 1000, Window: time.Minute}}
	st := open(t, dsn)
	lims := []*Limiter{st.Limiter("digicert:acct", limits, 0), open(t, dsn).Limiter("digicert:acct", limits, 0)}
	other := open(t, dsn).Limiter("webnic:other", limits, 0)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 4; i++ {
				if err := lims[g%2].Wait(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	for i := 0; i < 5; i++ {
		if err := other.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	admitted := func(key string) []time.Duration {
		rows, err := st.pool.Query(ctx, `SELECT at FROM rate_calls WHERE key = $1 ORDER BY at`, key)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []time.Duration
		for rows.Next() {
			var at int64
			if err := rows.Scan(&at); err != nil {
				t.Fatal(err)
			}
			out = append(out, time.Duration(at))
		}
		return out
	}
	times := admitted("digicert:acct")
	if len(times) != 16 {
		t.Fatalf("%d calls recorded, want 16", len(times))
	}
	for i := 5; i < len(times); i++ {
		if gap := times[i] - times[i-5]; gap < 400*time.Millisecond {
			t.Fatalf("calls %d and %d only %s apart: more than 5 in a 400 ms window", i-5, i, gap)
		}
	}
	if took := times[15] - times[0]; took < 3*400*time.Millisecond {
		t.Fatalf("16 calls at 5/400ms admitted within %s, want at least 3 windows", took)
	}
	// Had the other key waited on this one's window, its 5 calls (its own
	// limit's worth) would span a window.
	if o := admitted("webnic:other"); len(o) != 5 || o[4]-o[0] >= 400*time.Millisecond {
		t.Errorf("another key's calls admitted at %v, want 5 within one window", o)
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	for {
		if err := lims[0].Wait(cctx); err != nil {
			break // ctx ended while waiting: returned, not stuck
		}
	}
}

// A wide window is admitted in batches: 300 calls from two instances at
// 100 per second take a fraction of the round trips, never put more than
// 100 records in any second, and still take two windows beyond the first.
func TestLimiterBatches(t *testing.T) {
	testenv.RequirePostgres(t, pg)
	ctx := context.Background()
	dsn := pg.NewDatabase(t)
	limits := []ratelimit.Limit{{N: 100, Window: time.Second}, {N: 10000, Window: time.Minute}}
	st := open(t, dsn)
	lims := []*Limiter{st.Limiter("digicert:wide", limits, 0), open(t, dsn).Limiter("digicert:wide", limits, 0)}
	if lims[0].batch != 5 || lims[0].hold != 50*time.Millisecond {
		t.Fatalf("batch %d, hold %s: want 5 calls, 50ms", lims[0].batch, lims[0].hold)
	}
	var (
		mu    sync.Mutex
		calls []time.Time
		wg    sync.WaitGroup
	)
	for g := 0; g < 6; g++ {
		wg.Go(func() {
			for i := 0; i < 50; i++ {
				if err := lims[g%2].Wait(ctx); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				calls = append(calls, time.Now())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	var at []int64
	rows, err := st.pool.Query(ctx, `SELECT at FROM rate_calls WHERE key = 'digicert:wide' ORDER BY at`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v int64
		rows.Scan(&v)
		at = append(at, v)
	}
	rows.Close()
	distinct := map[int64]bool{}
	for _, v := range at {
		distinct[v] = true
	}
	// Every call was admitted; at most one unused batch per instance.
	if len(at) < 300 || len(at) > 300+2*5 {
		t.Fatalf("%d calls recorded for 300 made", len(at))
	}
	if len(distinct) > 300/3 {
		t.Fatalf("%d admissions for 300 calls: not batched", len(distinct))
	}
	for i := 100; i < len(at); i++ {
		if gap := time.Duration(at[i] - at[i-100]); gap < time.Second {
			t.Fatalf("records %d and %d only %s apart: more than 100 in a second", i-100, i, gap)
		}
	}
	sort.Slice(calls, func(i, j int) bool { return calls[i].Before(calls[j]) })
	if took := calls[len(calls)-1].Sub(calls[0]); took < 2*time.Second-200*time.Millisecond {
		t.Fatalf("300 calls at 100/s made within %s, want about two windows after the first", took)
	}
}
