package ratelimit

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// drive admits calls as fast as the limiter allows on a fake clock for the
// given span and returns their admission times.
func drive(l *Limiter, c *fakeClock, span time.Duration) []time.Time {
	start := c.Now()
	var got []time.Time
	for c.Now().Sub(start) < span {
		if d := l.reserve(); d > 0 {
			c.Add(d)
			continue
		}
		got = append(got, c.Now())
	}
	return got
}

// maxInWindow is the most admissions within any half-open interval [t, t+w).
func maxInWindow(ts []time.Time, w time.Duration) int {
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

func TestDigiCertWindowsUsedInFullNeverExceeded(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	limits := []Limit{{100, 5 * time.Second}, {1000, 3 * time.Minute}}
	l := New(limits, WithMargin(0), WithClock(c.Now))
	got := drive(l, c, 10*time.Minute)
	if n := maxInWindow(got, 5*time.Second); n != 100 {
		t.Errorf("most calls in any 5 s = %d, want exactly 100 (the window used in full)", n)
	}
	if n := maxInWindow(got, 3*time.Minute); n != 1000 {
		t.Errorf("most calls in any 3 min = %d, want exactly 1000", n)
	}
	// The first 1000 calls take 45 s (ten bursts of 100, 5 s apart), not the
	// 200+ s a token bucket refilled at a steady rate needs.
	if d := got[999].Sub(got[0]); d > 46*time.Second {
		t.Errorf("1000 calls took %v, want ≤ 45 s as the windows allow", d)
	}
	if !sort.SliceIsSorted(got, func(i, j int) bool { return got[i].Before(got[j]) }) {
		t.Fatal("admissions out of order")
	}
}

func TestMarginKeepsWindowsBelowN(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	l := New([]Limit{{100, 5 * time.Second}}, WithClock(c.Now)) // default 5 %
	got := drive(l, c, time.Minute)
	if n := maxInWindow(got, 5*time.Second); n != 95 {
		t.Fatalf("most calls in any 5 s with the default margin = %d, want 95", n)
	}
	if m := l.MaxIn(5 * time.Second); m != 95 {
		t.Fatalf("MaxIn(5s) = %d, want 95", m)
	}
	if m := l.MaxIn(12 * time.Second); m != 285 {
		t.Fatalf("MaxIn(12s) = %d, want 285", m)
	}
}

func TestPauseHoldsEveryCaller(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	l := New([]Limit{{10, time.Second}}, WithClock(c.Now))
	l.Pause(30 * time.Second)
	if d := l.reserve(); d != 30*time.Second {
		t.Fatalf("wait during pause = %v, want 30s", d)
	}
	l.Pause(time.Second) // a shorter pause does not shorten it
	c.Add(30 * time.Second)
	if d := l.reserve(); d != 0 {
		t.Fatalf("wait after pause = %v, want 0", d)
	}
}

func TestSharedIsOnePerKey(t *testing.T) {
	a := Shared("test/acct-a", []Limit{{1, time.Hour}})
	b := Shared("test/acct-a", nil)
	if a != b {
		t.Fatal("Shared returned two limiters for one key")
	}
	if Shared("test/acct-b", []Limit{{1, time.Hour}}) == a {
		t.Fatal("Shared returned one limiter for two keys")
	}
}

func TestWaitConcurrentCallersRealClock(t *testing.T) {
	l := New([]Limit{{20, 200 * time.Millisecond}}, WithMargin(0))
	var mu sync.Mutex
	var got []time.Time
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 5; k++ {
				if err := l.Wait(context.Background()); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got = append(got, time.Now())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Slice(got, func(i, j int) bool { return got[i].Before(got[j]) })
	// Timestamps taken after Wait returns can only be later than the
	// admissions, so allow the scheduling slack of one call.
	if n := maxInWindow(got, 190*time.Millisecond); n > 21 {
		t.Fatalf("%d calls within 190 ms, limit 20 per 200 ms", n)
	}
	if len(got) != 40 {
		t.Fatalf("admitted %d calls, want 40", len(got))
	}
}

func TestWaitHonoursContext(t *testing.T) {
	l := New([]Limit{{1, time.Hour}})
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := l.Wait(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Wait on a full window = %v, want DeadlineExceeded", err)
	}
	var nilL *Limiter
	if err := nilL.Wait(context.Background()); err != nil || nilL.MaxIn(time.Second) != -1 {
		t.Fatal("nil limiter must admit everything")
	}
}
