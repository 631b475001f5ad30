package scheduler

import (
	"time"

	"github.com/dcvd/dcvd/internal/ratelimit"
)

// backendLimiter is the per-backend write limit, perSec writes per second
// on average (nil when unlimited). CA calls are limited by each CA's client
// (providers.Limiter), per HTTP request, as the CA counts them.
func backendLimiter(perSec float64) *ratelimit.Limiter {
	if perSec <= 0 {
		return nil
	}
	n := max(1, int(perSec+0.5))
	return ratelimit.New([]ratelimit.Limit{{N: n, Window: time.Duration(float64(n) / perSec * float64(time.Second))}}, ratelimit.WithMargin(0))
}
