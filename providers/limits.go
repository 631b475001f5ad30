package providers

import (
	"time"

	"github.com/dcvd/dcvd/internal/ratelimit"
)

// DeliveryAllowance lengthens every window a CA client enforces. The
// limiter admits a call when it starts, but the CA counts it when it
// arrives: a call that waited on a new connection (or a slow network)
// arrives later than one admitted a window after it, and two windows'
// worth of calls would land in one of the CA's windows. Measured on
// loopback with a cold connection pool: up to 45 ms. Lengthening each
// window by this much keeps every documented window from being overrun at
// a cost of 5 % of the throughput of a 5-second window.
const DeliveryAllowance = 250 * time.Millisecond

// Limiter returns the request limiter of one CA account: the process-wide
// ratelimit.Shared limiter for key (the CA type, account name and API
// instance, never a secret), enforcing limits with every window lengthened
// by DeliveryAllowance. Every goroutine that calls the CA with this
// account's credential must wait for it; pass it as apiclient.Config.Limiter.
func Limiter(key string, limits []RateLimit) *ratelimit.Limiter {
	stretched := make([]RateLimit, len(limits))
	for i, l := range limits {
		stretched[i] = RateLimit{N: l.N, Window: l.Window + DeliveryAllowance}
	}
	return ratelimit.Shared(key, stretched)
}
