package scheduler

import (
	"math/rand/v2"
	"time"
)

// backoff returns the delay before try number attempt+1 (attempt ≥ 1 failed
// tries so far): min·2^(attempt−1) capped at max, jittered uniformly into
// [d/2, d] so that rows failing together do not retry together.
func backoff(attempt int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(d-half+1)
}
