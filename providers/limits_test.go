package providers

import (
	"context"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/internal/ratelimit"
)

type recordingLimiter struct {
	key    string
	limits []RateLimit
}

func (r *recordingLimiter) Wait(context.Context) error { return nil }

func TestBaseLimiterSharedAcrossInstancesWhenSet(t *testing.T) {
	limits := []RateLimit{{N: 100, Window: 5 * time.Second}, {N: 1000, Window: 3 * time.Minute}}
	rec := &recordingLimiter{}
	b := Base{Shared: func(key string, ls []RateLimit) apiclient.Waiter {
		rec.key, rec.limits = key, ls
		return rec
	}}
	if got := b.Limiter("testca/acct@https://api", limits); got != rec {
		t.Fatalf("Limiter with Shared set returned %T, want the shared limiter", got)
	}
	if rec.key != "testca/acct@https://api" || len(rec.limits) != 2 ||
		rec.limits[0].Window != 5*time.Second+DeliveryAllowance || rec.limits[1].N != 1000 {
		t.Fatalf("shared limiter built with key %q limits %v", rec.key, rec.limits)
	}
	// Without Shared: the process-wide limiter of the key, the same for
	// every caller.
	a1 := Base{}.Limiter("testca/other", limits)
	a2 := Base{}.Limiter("testca/other", nil)
	if _, ok := a1.(*ratelimit.Limiter); !ok || a1 != a2 {
		t.Fatalf("per-process limiters %T %T are not one ratelimit.Limiter", a1, a2)
	}
}
