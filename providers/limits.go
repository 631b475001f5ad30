package providers

import (
	"time"

	"github.com/dcvd/dcvd/internal/apiclient"
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

// SharedLimiter builds a limiter that every process using one credential
// shares: with the state in PostgreSQL, the store's database-backed limiter,
// so that several dcvd instances stay under the CA's limits together.
type SharedLimiter func(key string, limits []RateLimit) apiclient.Waiter

// Limiter returns the request limiter of one CA account: every window of
// limits lengthened by DeliveryAllowance, enforced by b.Shared when set
// (several instances on one database) and otherwise by the process-wide
// ratelimit.Shared limiter for key. key names the CA type, account and API
// instance, never a secret. Every goroutine that calls the CA with this
// account's credential must wait for it; pass it as apiclient.Config.Limiter.
func (b Base) Limiter(key string, limits []RateLimit) apiclient.Waiter {
	stretched := make([]RateLimit, len(limits))
	for i, l := range limits {
		stretched[i] = RateLimit{N: l.N, Window: l.Window + DeliveryAllowance}
	}
	if b.Shared != nil {
		return b.Shared(key, stretched)
	}
	return ratelimit.Shared(key, stretched)
}
