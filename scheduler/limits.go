package scheduler

import (
	"context"
	"time"

	"golang.org/x/time/rate"

	"github.com/dcvd/dcvd/providers"
)

// limiter waits for every one of several token buckets.
type limiter []*rate.Limiter

// newLimiter builds one bucket per limit such that no window of length
// l.Window ever sees more than l.N calls. A bucket of burst b refilled at r
// per second admits at most b + r·W calls in any window W, so the burst is a
// tenth of N (at least 1) and the rate (N−b)/W. DigiCert's 100/5 s and
// 1000/3 min become bursts of 10 and 100 refilled at 18/s and 5/s: at most
// 100 and 1000 calls per window.
func newLimiter(limits []providers.RateLimit) limiter {
	var l limiter
	for _, lim := range limits {
		burst := max(1, lim.N/10)
		if burst >= lim.N {
			burst = lim.N
		}
		perSec := float64(lim.N-burst) / lim.Window.Seconds()
		r := rate.Limit(perSec)
		if lim.N == burst { // N == 1: one call per window
			r = rate.Every(lim.Window)
		}
		l = append(l, rate.NewLimiter(r, burst))
	}
	return l
}

// newRateLimiter is the per-backend write limit (nil when unlimited).
func newRateLimiter(perSec float64) limiter {
	if perSec <= 0 {
		return nil
	}
	return limiter{rate.NewLimiter(rate.Limit(perSec), max(1, int(perSec)))}
}

// Wait blocks until every bucket admits one call, or ctx ends.
func (l limiter) Wait(ctx context.Context) error {
	for _, b := range l {
		if err := b.Wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

// reserveDelay reports how long a call would wait now (for tests and logs).
func (l limiter) reserveDelay() time.Duration {
	var d time.Duration
	now := time.Now()
	for _, b := range l {
		r := b.ReserveN(now, 1)
		d = max(d, r.DelayFrom(now))
		r.CancelAt(now)
	}
	return d
}
