package verify

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Wait polls until q is visible, Options.Timeout passes or ctx ends. The
// first poll runs at once; the interval then starts at PollMin and doubles
// to PollMax, and falls back to PollMin whenever another server starts
// serving the record. The last report is returned with the error.
func (c *Checker) Wait(ctx context.Context, q Query) (*Report, error) {
	reps, err := c.WaitAll(ctx, []Query{q})
	if len(reps) == 0 {
		return nil, err
	}
	return reps[0], err
}

// WaitGone polls until no authoritative server of q's final name serves the
// value any more (every one answers NXDOMAIN, NODATA or other values).
func (c *Checker) WaitGone(ctx context.Context, q Query) (*Report, error) {
	q.MinSerial = 0
	reps, err := c.wait(ctx, []Query{q}, goalGone)
	if len(reps) == 0 {
		return nil, err
	}
	return reps[0], err
}

// WaitAll polls many records together: each poll checks every record not
// yet visible, with at most Options.Concurrency records and
// Options.MaxInFlight queries at a time; zone cuts, NS sets and addresses
// are looked up once per zone (cached), and with MinSerial one SOA query per
// zone and address serves every record of the zone. Reports are in the order
// of qs. The error names how many records are not visible and why the first
// one is not.
func (c *Checker) WaitAll(ctx context.Context, qs []Query) ([]*Report, error) {
	return c.wait(ctx, qs, goalVisible)
}

func (c *Checker) wait(ctx context.Context, qs []Query, g goal) ([]*Report, error) {
	states := make([]*recState, len(qs))
	for i, q := range qs {
		nq, err := q.normalize()
		if err != nil {
			return nil, err
		}
		states[i] = newState(nq)
	}
	reports := make([]*Report, len(qs))
	if c.opts.Mode == "wait" {
		t := time.NewTimer(c.opts.Wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, fmt.Errorf("verify: mode \"wait\": %w", ctx.Err())
		}
		for i, st := range states {
			reports[i] = c.waitModeReport(st.q, true)
			if g == goalGone {
				reports[i].Visible = false
			}
		}
		return reports, nil
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()

	pending := make([]int, len(qs))
	for i := range pending {
		pending[i] = i
	}
	interval := c.opts.PollMin / 2
	var partialSince time.Time // first poll where a pending record was served by some servers
	sem := make(chan struct{}, c.opts.Concurrency)
	for {
		rnd := newRound()
		fresh := make([]*Report, len(qs))
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			progress bool
			partial  bool
		)
		for _, i := range pending {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				st := states[i]
				rep := c.poll(ctx, st, rnd, g)
				served := countServing(rep)
				mu.Lock()
				if served > st.served {
					progress = true
				}
				if served > 0 && !rep.Visible {
					partial = true
				}
				mu.Unlock()
				st.served = served
				fresh[i] = rep
			})
		}
		wg.Wait()
		// A poll cut short by the deadline says nothing: keep the last
		// complete one.
		cut := ctx.Err() != nil
		var next []int
		for _, i := range pending {
			if !cut || reports[i] == nil {
				reports[i] = fresh[i]
			}
			r := reports[i]
			done := (g == goalVisible && r.Visible) || (g == goalGone && !r.Visible && r.Error == "")
			if !done && !permanent(r) {
				next = append(next, i)
			}
		}
		pending = next
		if len(pending) == 0 || cut {
			break
		}
		if partial && partialSince.IsZero() {
			partialSince = time.Now()
		}
		switch {
		case progress:
			interval = c.opts.PollMin
		case partial && time.Since(partialSince) < partialWindow:
			// Some servers serve it: the others are transferring right now.
			interval = min(interval+interval/4, partialCap*c.opts.PollMin, c.opts.PollMax)
		default:
			interval = min(interval*2, c.opts.PollMax)
		}
		t := time.NewTimer(interval)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		if ctx.Err() != nil {
			break
		}
	}
	return reports, c.waitError(ctx, reports, g, time.Since(start))
}

// While some but not all servers serve a record (for at most partialWindow
// after that was first seen), the interval grows by a quarter per poll up to
// partialCap × PollMin (100 ms by default) instead of doubling: secondaries that got the NOTIFY
// are expected within moments.
const (
	partialWindow = 30 * time.Second
	partialCap    = 2
)

func countServing(r *Report) int {
	n := 0
	for _, h := range r.hops() {
		for _, s := range h.Servers {
			if s.Serves() {
				n++
			}
		}
	}
	return n
}

func (c *Checker) waitError(ctx context.Context, reps []*Report, g goal, elapsed time.Duration) error {
	var bad []*Report
	for _, r := range reps {
		if (g == goalVisible && !r.Visible) || (g == goalGone && (r.Visible || r.Error != "")) {
			bad = append(bad, r)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	what := "not visible"
	if g == goalGone {
		what = "still served"
	}
	why := "after " + elapsed.Round(time.Millisecond).String()
	switch {
	case permanent(bad[0]):
		why = "(permanent)"
	case ctx.Err() != nil && elapsed < c.opts.Timeout-time.Millisecond:
		why = fmt.Sprintf("%s (%v)", why, context.Cause(ctx))
	}
	if len(reps) == 1 {
		return fmt.Errorf("verify: %s %s %s %s: %s", bad[0].Type, bad[0].Name, what, why, bad[0].Summary())
	}
	return fmt.Errorf("verify: %d of %d records %s %s; first: %s %s: %s", len(bad), len(reps), what, why, bad[0].Type, bad[0].Name, bad[0].Summary())
}
