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
// instance sharing the database: the calls are rows of rate_calls, and a
// call is admitted under a transaction advisory lock on the credential's
// key only when every sliding window (at most N calls in any Window) has
// room, by the server's clock. It satisfies apiclient.Waiter, like
// ratelimit.Limiter does within one process.
type Limiter struct {
	s      *Store
	key    string
	limits []ratelimit.Limit
	margin float64
	keep   time.Duration // the longest window
}

// Limiter returns the shared limiter of key (CA type, account name and
// endpoint; never a secret) for limits, keeping margin (0 ≤ margin < 1,
// like ratelimit.WithMargin) of every window free.
func (s *Store) Limiter(key string, limits []ratelimit.Limit, margin float64) *Limiter {
	l := &Limiter{s: s, key: key, limits: limits, margin: margin}
	for _, lim := range limits {
		l.keep = max(l.keep, lim.Window)
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
	h := fnv.New64a()
	h.Write([]byte(l.key))
	lock := int64(h.Sum64() >> 1)
	windows := make([]int64, len(l.limits))
	caps := make([]int32, len(l.limits))
	for i, lim := range l.limits {
		windows[i], caps[i] = lim.Window.Nanoseconds(), int32(l.capOf(lim))
	}
	for {
		// One statement (dcvd_rate_admit, migration 8): the lock, the
		// windows' check and the call's record in one round trip, so
		// admissions of many goroutines and instances follow each other
		// as fast as the server runs them.
		var ns int64
		err := l.s.pool.QueryRow(ctx, `SELECT dcvd_rate_admit($1, $2, $3, $4, $5)`,
			l.key, lock, windows, caps, l.keep.Nanoseconds()).Scan(&ns)
		wait := time.Duration(ns)
		if err != nil {
			return fmt.Errorf("postgres: rate limit %s: %w", l.key, err)
		}
		if wait == 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
