package providers

import (
	"fmt"
	"testing"
	"time"
)

// RevalidateAt puts each domain at a point of the first third of the
// window fixed by its key: the same key always gets the same point, and
// 1,000 domains with one expiry are spread over all ten days of a 30-day
// window's first third, not taken up in one pass.
func TestRevalidateAtSpreads(t *testing.T) {
	day := 24 * time.Hour
	exp := time.Date(2027, 1, 31, 12, 0, 0, 0, time.UTC)
	start := exp.Add(-30 * day)
	perDay := make([]int, 10)
	for i := range 1000 {
		key := fmt.Sprintf("3f2a9c1e-0000-4000-8000-%012d", i)
		at := RevalidateAt(exp, 30*day, key)
		if at.Before(start) || !at.Before(start.Add(10*day)) {
			t.Fatalf("%s: %v outside the first third [%v, %v)", key, at, start, start.Add(10*day))
		}
		if again := RevalidateAt(exp, 30*day, key); !again.Equal(at) {
			t.Fatalf("%s: %v, then %v", key, at, again)
		}
		perDay[int(at.Sub(start)/day)]++
	}
	for d, n := range perDay {
		if n < 50 || n > 150 { // 100 expected per day
			t.Errorf("day %d of the window: %d of 1000 domains (%v)", d, n, perDay)
		}
	}
	if got := RevalidateAt(exp, 0, "x"); !got.Equal(exp) {
		t.Errorf("window 0: %v, want the expiry", got)
	}
}

// RevalidateFrom is RevalidateAt while the window is shorter than the
// validation's life, and a third of that life once it is not.
func TestRevalidateFrom(t *testing.T) {
	day := 24 * time.Hour
	v := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	if exp := v.Add(200 * day); !RevalidateFrom(exp, v, 30*day, "k").Equal(RevalidateAt(exp, 30*day, "k")) {
		t.Errorf("200-day validation, 30-day window: %v, want RevalidateAt's %v", RevalidateFrom(exp, v, 30*day, "k"), RevalidateAt(exp, 30*day, "k"))
	}
	if exp := v.Add(200 * day); !RevalidateFrom(exp, time.Time{}, 30*day, "k").Equal(RevalidateAt(exp, 30*day, "k")) {
		t.Errorf("unknown validation date: not RevalidateAt's")
	}
	if exp := v.Add(9 * day); !RevalidateFrom(exp, v, 30*day, "k").Equal(v.Add(3 * day)) {
		t.Errorf("9-day validation, 30-day window: %v, want a third of its life (%v)", RevalidateFrom(exp, v, 30*day, "k"), v.Add(3*day))
	}
}
