package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

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
	for {
		var wait time.Duration
		err := l.s.tx(ctx, func(tx pgx.Tx) error {
			wait = 0
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lock); err != nil {
				return err
			}
			var now int64
			if err := tx.QueryRow(ctx, `SELECT `+nowNS).Scan(&now); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM rate_calls WHERE key = $1 AND at <= $2`, l.key, now-l.keep.Nanoseconds()); err != nil {
				return err
			}
			for _, lim := range l.limits {
				c := l.capOf(lim)
				// The c-th most recent call in the window: when it leaves
				// the window, there is room.
				var at int64
				err := tx.QueryRow(ctx, `SELECT at FROM rate_calls WHERE key = $1 AND at > $2
					ORDER BY at DESC OFFSET $3 LIMIT 1`, l.key, now-lim.Window.Nanoseconds(), c-1).Scan(&at)
				switch {
				case err == pgx.ErrNoRows:
				case err != nil:
					return err
				default:
					wait = max(wait, time.Duration(at+lim.Window.Nanoseconds()-now)+time.Millisecond)
				}
			}
			if wait > 0 {
				return nil
			}
			_, err := tx.Exec(ctx, `INSERT INTO rate_calls (key, at) VALUES ($1, $2)`, l.key, now)
			return err
		})
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
