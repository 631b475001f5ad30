package backoff

import (
	"context"
	"testing"
	"time"
)

func TestStepDoublesAndCaps(t *testing.T) {
	p := Policy{Min: time.Second, Max: 10 * time.Second}
	want := []time.Duration{1, 2, 4, 8, 10, 10, 10}
	for i, w := range want {
		if got := p.Step(i); got != w*time.Second {
			t.Errorf("Step(%d) = %v, want %v", i, got, w*time.Second)
		}
	}
	if got := p.Step(1000); got != 10*time.Second {
		t.Errorf("Step(1000) = %v, want the cap", got)
	}
}

func TestZeroPolicyDefaults(t *testing.T) {
	var p Policy
	if p.Step(0) != DefaultMin || p.Step(100) != DefaultMax {
		t.Fatalf("zero policy: Step(0)=%v Step(100)=%v", p.Step(0), p.Step(100))
	}
}

func TestDelayIsEqualJitter(t *testing.T) {
	p := Policy{Min: 100 * time.Millisecond, Max: time.Second}
	seen := map[time.Duration]bool{}
	for i := 0; i < 200; i++ {
		for a := 0; a < 6; a++ {
			d, s := p.Delay(a), p.Step(a)
			if d < s/2 || d > s {
				t.Fatalf("Delay(%d) = %v outside [%v, %v]", a, d, s/2, s)
			}
			if a == 0 {
				seen[d] = true
			}
		}
	}
	if len(seen) < 10 {
		t.Fatalf("Delay(0) took only %d distinct values in 200 draws: no jitter", len(seen))
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); err != context.Canceled {
		t.Fatalf("Sleep on a cancelled context = %v, want context.Canceled", err)
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("Sleep 1ms = %v", err)
	}
}
