// Package ratelimit is dcvd's one request limiter. A CA documents its limits
// as "at most N requests in any window of W" (DigiCert: 100 per 5 s and 1000
// per 3 min per key); a Limiter enforces every such window exactly, as a
// sliding window over the times it admitted calls, so a window can be used
// in full as documented (a burst of N at once) and never exceeded — unlike a
// token bucket, which either refills a long window far too slowly or lets a
// burst overrun it.
//
// A safety margin (WithMargin, default 5 %) keeps each window a little below
// N, for requests that reach the CA in another order or later than they were
// admitted. After a 429 the caller holds every user of the limiter with
// Pause(Retry-After).
//
// One Limiter serves every goroutine that uses one credential: Shared returns
// the process-wide Limiter for a key (an account name plus what it limits,
// never a secret).
package ratelimit

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"
)

// Limit is "at most N calls in any window of length Window".
type Limit struct {
	N      int
	Window time.Duration
}

func (l Limit) String() string { return fmt.Sprintf("%d/%s", l.N, l.Window) }

// DefaultMargin is the share of each window kept free by default.
const DefaultMargin = 0.05

// Option configures New and Shared.
type Option func(*Limiter)

// WithMargin keeps fraction f (0 ≤ f < 1) of every window unused: a limit of
// N admits floor(N·(1−f)) calls per window, at least one.
func WithMargin(f float64) Option {
	return func(l *Limiter) {
		if f >= 0 && f < 1 {
			l.margin = f
		}
	}
}

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(l *Limiter) { l.now = now } }

// Limiter admits calls so that no window of any of its limits sees more than
// its cap. It is safe for concurrent use. A nil *Limiter admits everything.
type Limiter struct {
	mu      sync.Mutex
	margin  float64
	now     func() time.Time
	windows []*window
	paused  time.Time // no call is admitted before this (after a 429)
}

// window is one limit: the admission times of the last cap calls, in a ring.
type window struct {
	span time.Duration
	cap  int
	ring []time.Time // len ≤ cap; once full, ring[head] is the oldest
	head int
}

// New returns a Limiter enforcing every limit in limits. Limits with N or
// Window ≤ 0 are ignored; no limits at all admits everything.
func New(limits []Limit, opts ...Option) *Limiter {
	l := &Limiter{margin: DefaultMargin, now: time.Now}
	for _, o := range opts {
		o(l)
	}
	for _, lim := range limits {
		if lim.N <= 0 || lim.Window <= 0 {
			continue
		}
		c := max(1, int(math.Floor(float64(lim.N)*(1-l.margin))))
		l.windows = append(l.windows, &window{span: lim.Window, cap: c, ring: make([]time.Time, 0, c)})
	}
	return l
}

var (
	sharedMu sync.Mutex
	shared   = map[string]*Limiter{}
)

// Shared returns the process-wide Limiter for key, creating it from limits
// and opts on first use; later calls with the same key return the same
// Limiter whatever limits they pass. key names the credential ("digicert/" +
// account name), never the secret itself.
func Shared(key string, limits []Limit, opts ...Option) *Limiter {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if l, ok := shared[key]; ok {
		return l
	}
	l := New(limits, opts...)
	shared[key] = l
	return l
}

// Wait blocks until every window admits one more call (and any Pause has
// passed), records the call, and returns nil; or returns ctx's error.
func (l *Limiter) Wait(ctx context.Context) error {
	if l == nil {
		return ctx.Err()
	}
	for {
		d := l.reserve()
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// reserve admits a call now and returns 0, or returns how long to wait
// before asking again. Nothing is recorded when it returns a wait.
func (l *Limiter) reserve() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	wait := l.paused.Sub(now)
	for _, w := range l.windows {
		if len(w.ring) < w.cap {
			continue
		}
		// The call is admitted once the oldest of the last cap calls has
		// left the window: at oldest+span, strictly after it.
		if d := w.ring[w.head].Add(w.span).Sub(now) + time.Nanosecond; d > wait {
			wait = d
		}
	}
	if wait > 0 {
		return wait
	}
	for _, w := range l.windows {
		if len(w.ring) < w.cap {
			w.ring = append(w.ring, now)
			continue
		}
		w.ring[w.head] = now
		w.head = (w.head + 1) % w.cap
	}
	return 0
}

// Pause holds every caller until now+d (a CA's Retry-After). Overlapping
// pauses keep the later end.
func (l *Limiter) Pause(d time.Duration) {
	if l == nil || d <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := l.now().Add(d); until.After(l.paused) {
		l.paused = until
	}
}

// Delay reports how long a call would wait now, without admitting it.
func (l *Limiter) Delay() time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	wait := l.paused.Sub(now)
	for _, w := range l.windows {
		if len(w.ring) == w.cap {
			wait = max(wait, w.ring[w.head].Add(w.span).Sub(now)+time.Nanosecond)
		}
	}
	return max(wait, 0)
}

// MaxIn returns the most calls the limiter can admit within any half-open
// interval of length d: for each window, its cap times the number of windows
// d spans (rounded up), and the smallest of those. -1 means unlimited.
func (l *Limiter) MaxIn(d time.Duration) int {
	if l == nil || len(l.windows) == 0 {
		return -1
	}
	best := -1
	for _, w := range l.windows {
		spans := max(1, int((d+w.span-1)/w.span))
		if n := spans * w.cap; best < 0 || n < best {
			best = n
		}
	}
	return best
}

// Limits returns the effective limits (caps after the margin), for logs.
func (l *Limiter) Limits() []Limit {
	if l == nil {
		return nil
	}
	out := make([]Limit, len(l.windows))
	for i, w := range l.windows {
		out[i] = Limit{N: w.cap, Window: w.span}
	}
	return out
}
