package digicert

import (
	"context"
	"time"

	"golang.org/x/time/rate"

	"github.com/dcvd/dcvd/providers"
)

// limiter keeps a client under several "N requests per window" limits at
// once: one token bucket per limit, and a request waits for a token from
// every bucket.
//
// A token bucket with burst b and rate r lets through at most b + r·W
// requests in any window of length W. For a limit of N per W the bucket
// gets b = N/10 (at least 1) and r = 0.9·(N−b)/W, so even a full burst
// followed by steady traffic stays at or below 0.9·N + 0.1·b < N — a margin
// for clock skew and requests that arrive at DigiCert out of order.
type limiter struct {
	buckets []*rate.Limiter
}

func newLimiter(ls []providers.RateLimit) *limiter {
	l := &limiter{}
	for _, rl := range ls {
		if rl.N <= 0 || rl.Window <= 0 {
			continue
		}
		b := rl.N / 10
		if b < 1 {
			b = 1
		}
		r := 0.9 * float64(rl.N-b) / rl.Window.Seconds()
		if r <= 0 {
			r = float64(rl.N) / rl.Window.Seconds() / 2
		}
		l.buckets = append(l.buckets, rate.NewLimiter(rate.Limit(r), b))
	}
	return l
}

// wait blocks until every bucket grants one request or ctx ends.
func (l *limiter) wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	for _, b := range l.buckets {
		if err := b.Wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

// maxIn returns how many requests the limiter can let through in the worst
// case within a window of length w (for documentation and tests).
func (l *limiter) maxIn(w time.Duration) float64 {
	best := -1.0
	for _, b := range l.buckets {
		n := float64(b.Burst()) + float64(b.Limit())*w.Seconds()
		if best < 0 || n < best {
			best = n
		}
	}
	return best
}
