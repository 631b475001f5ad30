package hook

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/internal/observe"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/verify"
)

// NewRunner builds a Runner over an opened dcvd: the app's store, router and
// engine (for crash-safe publish and removal) and its checker (for waiting).
func NewRunner(a *app.App) *Runner {
	return &Runner{
		store:    a.Store,
		router:   a.Router,
		engine:   a.Engine,
		wait:     checkerWait(a.Checker, a.Recorder),
		delegate: a.Engine.EffectiveRecord,
		log:      a.Logger,
		now:      time.Now,
	}
}

// checkerWait waits with the configured propagation checker ([propagation]
// in the config: authoritative servers, or a fixed delay) and writes each
// record's per-server evidence to the audit trail (rec may be nil).
func checkerWait(c *verify.Checker, rec *observe.Recorder) waiter {
	return func(ctx context.Context, rows []*store.Challenge) error {
		qs := make([]verify.Query, len(rows))
		for i, row := range rows {
			qs[i] = verify.Query{Name: row.Record.FQDN, Type: row.Record.Type, Value: row.Record.Value, MinSerial: row.Serial}
		}
		start := time.Now()
		reports, err := c.WaitAll(ctx, qs)
		if rec != nil {
			rec.Verified(ctx, rows, reports)
		}
		missing, first := 0, -1
		for i, rep := range reports {
			if rep != nil && !rep.Visible && i < len(rows) {
				missing++
				if first < 0 {
					first = i
				}
			}
		}
		if missing > 0 {
			took := time.Since(start).Round(100 * time.Millisecond)
			if len(rows) == 1 {
				return fmt.Errorf("hook: %s not visible after %s: %s", rows[first].Record, took, reports[first].Summary())
			}
			return fmt.Errorf("hook: %d of %d records not visible after %s; first %s: %s", missing, len(rows), took, rows[first].Record, reports[first].Summary())
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("hook: propagation timeout after %s: %w", time.Since(start).Round(100*time.Millisecond), err)
			}
			return fmt.Errorf("hook: waiting for %s: %w", describe(rows), err)
		}
		if len(reports) < len(rows) {
			return fmt.Errorf("hook: waiting for %s: checker returned %d reports", describe(rows), len(reports))
		}
		return nil
	}
}
