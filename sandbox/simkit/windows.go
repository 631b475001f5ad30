package simkit

import (
	"sync"
	"time"

	"github.com/dcvd/dcvd/internal/ratelimit"
)

// Limit is "at most N requests in any window of length Window" for one
// credential: the shape every CA documents its limits in.
type Limit = ratelimit.Limit

// Windows enforces a CA's documented request limits per credential the
// way the CA does: a request is accepted when, for every limit, fewer than
// N accepted requests of that credential fall within the last Window (a
// sliding window; rejected requests do not count, so a client that backs
// off gets through as soon as the window drains). It also keeps the
// accepted times so tests can prove a client stayed under every window
// (MaxIn). Safe for concurrent use.
type Windows struct {
	limits []Limit
	now    func() time.Time

	mu       sync.Mutex
	seen     map[string][]time.Time // per key, within the longest window
	accepted map[string][]time.Time // per key, every accepted request (bounded)
	rejected map[string]int
}

// maxAccepted bounds the per-key history kept for MaxIn.
const maxAccepted = 100000

// NewWindows enforces limits (none: everything is accepted) on the clock
// now (nil: time.Now).
func NewWindows(limits []Limit, now func() time.Time) *Windows {
	if now == nil {
		now = time.Now
	}
	return &Windows{limits: limits, now: now, seen: map[string][]time.Time{}, accepted: map[string][]time.Time{}, rejected: map[string]int{}}
}

// Allow reports whether a request of key is accepted now and records it.
// When it is not, retry is how long until the fullest window frees a slot
// (for a Retry-After header).
func (w *Windows) Allow(key string) (ok bool, retry time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	ts := w.seen[key]
	var longest time.Duration
	for _, l := range w.limits {
		longest = max(longest, l.Window)
	}
	cut := 0
	for cut < len(ts) && now.Sub(ts[cut]) >= longest {
		cut++
	}
	ts = ts[cut:]
	w.seen[key] = ts
	for _, l := range w.limits {
		if l.N <= 0 {
			continue
		}
		n := 0
		for i := len(ts) - 1; i >= 0 && now.Sub(ts[i]) < l.Window; i-- {
			n++
		}
		if n >= l.N {
			// The oldest of the last N frees the slot.
			retry = max(retry, l.Window-now.Sub(ts[len(ts)-l.N]))
		}
	}
	if retry > 0 {
		w.rejected[key]++
		return false, retry
	}
	w.seen[key] = append(ts, now)
	acc := append(w.accepted[key], now)
	if len(acc) > maxAccepted {
		acc = append([]time.Time(nil), acc[len(acc)/2:]...)
	}
	w.accepted[key] = acc
	return true, 0
}

// Rejected returns how many requests of key were refused (429).
func (w *Windows) Rejected(key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rejected[key]
}

// MaxIn returns the largest number of accepted requests of key that fell
// within any window of length d (to prove a client stayed under a limit).
func (w *Windows) MaxIn(key string, d time.Duration) int {
	w.mu.Lock()
	ts := append([]time.Time(nil), w.accepted[key]...)
	w.mu.Unlock()
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= d {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}
