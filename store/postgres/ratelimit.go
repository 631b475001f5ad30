package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"github.com/dcvd/dcvd/internal/ratelimit"
)

// Limiter enforces a CA's documented limits for one credential across every
// instance sharing the database: the calls are rows of rate_calls, and calls
// are admitted under a transaction advisory lock on the credential's key
// only when every sliding window (at most N calls in any Window) has room,
// by the server's clock. It satisfies apiclient.Waiter, like
// ratelimit.Limiter does within one process.
//
// Where the windows are wide, one round trip admits a batch of calls (a
// twentieth of the smallest window's cap, at most 16) that this process
// hands out over the next hold (a twentieth of the shortest window, at most
// 1 s). The batch is recorded as made hold after its admission, so every
// call is counted at least as long as the CA counts it; a call not made
// within hold is lost budget, never extra. A narrow window (cap under 40)
// admits one call per round trip, at its own time, as before.
type Limiter struct {
	s      *Store
	key    string
	limits []ratelimit.Limit
	margin float64
	keep   time.Duration // the longest window
	batch  int           // calls admitted per round trip
	hold   time.Duration // how long an admitted batch may be used

	// The admission's arguments, fixed at construction.
	lock    int64   // the credential's advisory lock key
	windows []int64 // ns, parallel to caps
	caps    []int32

	sem    chan struct{} // one admission at a time in this process
	tokens int           // admitted calls not handed out yet
	until  time.Time     // when they lapse (local monotonic clock)
}

// Batching bounds (see Limiter).
const (
	maxBatch = 16
	maxHold  = time.Second
)

// Limiter returns the shared limiter of key (CA type, account name and
// endpoint; never a secret) for limits, keeping margin (0 ≤ margin < 1,
// like ratelimit.WithMargin) of every window free.
func (s *Store) Limiter(key string, limits []ratelimit.Limit, margin float64) *Limiter {
	l := &Limiter{s: s, key: key, limits: limits, margin: margin, batch: maxBatch, hold: maxHold, sem: make(chan struct{}, 1)}
	for _, lim := range limits {
		l.keep = max(l.keep, lim.Window)
		l.batch = min(l.batch, l.capOf(lim)/20)
		l.hold = min(l.hold, lim.Window/20)
	}
	if l.batch <= 1 {
		l.batch, l.hold = 1, 0
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	l.lock = int64(h.Sum64() >> 1)
	for _, lim := range limits {
		l.windows = append(l.windows, lim.Window.Nanoseconds())
		l.caps = append(l.caps, int32(l.capOf(lim)))
	}
	return l
}

// capOf is the calls a window admits after the margin, at least one.
func (l *Limiter) capOf(lim ratelimit.Limit) int {
	return max(1, int(math.Floor(float64(lim.N)*(1-l.margin))))
}

// Wait blocks until the call is admitted by every window, or ctx ends.
func (l *Limiter) Wait(ctx context.Context) error {
	if len(l.limits) == 0 {
		return nil
	}
	for {
		select {
		case l.sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		if l.tokens > 0 && time.Now().Before(l.until) {
			l.tokens--
			<-l.sem
			return nil
		}
		// One statement (dcvd_rate_admit_n, migration 10): the lock, the
		// windows' check and the calls' record in one round trip, so
		// admissions of many goroutines and instances follow each other
		// as fast as the server runs them.
		start := time.Now()
		var res []int64
		err := l.s.pool.QueryRow(ctx, `SELECT dcvd_rate_admit_n($1, $2, $3, $4, $5, $6, $7)`,
			l.key, l.lock, l.windows, l.caps, l.keep.Nanoseconds(), l.batch, l.hold.Nanoseconds()).Scan(&res)
		if err == nil && len(res) != 2 {
			err = fmt.Errorf("admission returned %v", res)
		}
		if err != nil {
			<-l.sem
			return fmt.Errorf("postgres: rate limit %s: %w", l.key, err)
		}
		if n := int(res[0]); n > 0 {
			l.tokens, l.until = n-1, start.Add(l.hold)
			<-l.sem
			return nil
		}
		<-l.sem
		t := time.NewTimer(time.Duration(res[1]))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
