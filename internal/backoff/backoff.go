// Package backoff is dcvd's one retry delay: exponential from a minimum,
// doubling per attempt up to a cap, with "equal jitter" (a random point in
// the upper half of the step) so that many callers do not retry in step.
//
// Every retry in the tree uses it: API clients after 429 and 5xx, the
// scheduler after a failed step, providers polling a CA.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is an exponential backoff. The zero value of a field takes its
// default: Min 1 s, Max 1 min.
type Policy struct {
	Min time.Duration // delay before the first retry (upper bound of its jitter range)
	Max time.Duration // cap
}

// Defaults for a zero Policy.
const (
	DefaultMin = time.Second
	DefaultMax = time.Minute
)

// Step returns the delay before retry attempt (0 = first retry) without
// jitter: Min·2^attempt, capped at Max.
func (p Policy) Step(attempt int) time.Duration {
	lo, hi := p.Min, p.Max
	if lo <= 0 {
		lo = DefaultMin
	}
	if hi <= 0 {
		hi = DefaultMax
	}
	if hi < lo {
		hi = lo
	}
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// Delay returns the jittered delay before retry attempt (0 = first retry):
// a uniformly random duration in [Step/2, Step].
func (p Policy) Delay(attempt int) time.Duration {
	d := p.Step(attempt)
	half := d / 2
	return half + rand.N(d-half+1)
}

// Sleep waits for d or until ctx ends, whichever is first, and returns
// ctx.Err() in the second case.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
