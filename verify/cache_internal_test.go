package verify

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestCacheSweepsExpired: entries that expired are dropped as new ones
// arrive, so a daemon checking a new name per challenge keeps a bounded
// cache; live entries stay.
func TestCacheSweepsExpired(t *testing.T) {
	c := newCache()
	ctx := context.Background()
	c.set("live", "v", time.Hour)
	for i := range 3 * sweepEvery {
		c.get(ctx, fmt.Sprintf("for:name%d", i), func() (any, time.Duration, error) {
			return i, time.Nanosecond, nil // minCacheTTL applies: one second
		})
	}
	if n := c.len(); n < 3*sweepEvery {
		t.Fatalf("%d entries before they expire, want all %d", n, 3*sweepEvery+1)
	}
	time.Sleep(minCacheTTL + 10*time.Millisecond)
	for i := range sweepEvery {
		c.set(fmt.Sprintf("cut:n%d", i), "z", time.Hour)
	}
	if n := c.len(); n > sweepEvery+1 {
		t.Fatalf("%d entries after the first ones expired, want at most %d", n, sweepEvery+1)
	}
	if _, ok := c.peek("live"); !ok {
		t.Fatal("a live entry was swept")
	}
}
