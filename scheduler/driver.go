package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dcvd/dcvd/store"
)

// driver runs the pipeline loop: it reads due rows from the store, groups
// them into batched steps, runs the steps on a bounded pool, and feeds each
// step's saved rows straight into the next one. Only the loop goroutine
// touches its maps.
type driver struct {
	e        *Engine
	once     bool
	inflight map[int64]bool
	ready    map[int64]*store.Challenge
	seen     map[int64]store.Challenge // once: every row touched, for the Summary
	done     chan result
	sem      chan struct{}
	running  int
	held     map[int64]time.Time // removals held back to form larger batches
	fetched  time.Time
	every    time.Duration // fetch interval: Fetch, or longer when a fetch is slow
	storeErr error
	leased   map[int64]bool // rows this process holds the lease on (leases.go)
	unlease  []int64        // leases to release at the next fetch
	renewed  time.Time
}

// storePause is how long the daemon waits after the store failed before it
// reads and writes again.
const storePause = 5 * time.Second

type result struct {
	what  string
	rows  []*store.Challenge // every row the step was given
	saved []*store.Challenge // the rows it saved, in their new state
	err   error
}

func newDriver(e *Engine, once bool) *driver {
	d := &driver{
		e:        e,
		once:     once,
		inflight: map[int64]bool{},
		ready:    map[int64]*store.Challenge{},
		held:     map[int64]time.Time{},
		leased:   map[int64]bool{},
		done:     make(chan result),
		sem:      make(chan struct{}, e.cfg.Workers),
	}
	if once {
		d.seen = map[int64]store.Challenge{}
	}
	return d
}

// loop drives rows until ctx ends, or (once) until no row can move within
// Linger. wake (may be nil) asks for an immediate re-read of the store.
func (d *driver) loop(ctx context.Context, wake <-chan struct{}) {
	defer func() {
		for d.running > 0 {
			d.finish(<-d.done)
		}
		d.releaseAll(ctx)
	}()
	for ctx.Err() == nil {
		if d.storeErr != nil {
			// The store fails (a full disk, a lost database): steps cannot
			// save what they did, and repeating them at once would spin.
			// A run ends with the error; the daemon pauses and tries again.
			if d.once {
				return
			}
			d.sleep(ctx, storePause, wake)
			d.storeErr = nil
			d.fetched = time.Time{}
			continue
		}
		now := time.Now()
		d.renew(ctx, now)
		if now.Sub(d.fetched) >= d.every {
			d.fetch(ctx, now)
		}
		d.dispatch(ctx, time.Now())
		if d.running == 0 && len(d.ready) == 0 {
			next, ok := d.nextDue(ctx)
			if d.once && !ok {
				return
			}
			wait := d.e.cfg.Fetch
			if ok {
				wait = min(wait, time.Until(next))
			}
			if !d.once && !ok {
				wait = d.e.cfg.Fetch
			}
			d.flushRelease(ctx)
			d.sleep(ctx, wait, wake)
			d.fetched = time.Time{}
			continue
		}
		t := time.NewTimer(min(d.renewIn(), max(0, d.every-time.Since(d.fetched))))
		select {
		case r := <-d.done:
			d.finish(r)
		case <-t.C:
		case <-wake:
			d.fetched = time.Time{}
		case <-ctx.Done():
		}
		t.Stop()
		// Take every other step that has finished meanwhile, so that their
		// rows form one batch for the next step.
		for drained := false; !drained; {
			select {
			case r := <-d.done:
				d.finish(r)
			default:
				drained = true
			}
		}
	}
}

func (d *driver) sleep(ctx context.Context, wait time.Duration, wake <-chan struct{}) {
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-wake:
	case <-ctx.Done():
	}
}

// fetch reads due rows from the store and claims them into ready (rows in
// flight are skipped, the step's result is newer; so are rows another
// process holds the lease on).
func (d *driver) fetch(ctx context.Context, now time.Time) {
	d.flushRelease(ctx)
	rows, err := d.e.st.Work(ctx, now, d.e.cfg.WorkLimit)
	// Rows move from step to step in memory; the store is re-read only for
	// new, backed-off or foreign changes. Keep that under a tenth of the
	// loop's time however large the table.
	d.fetched = time.Now()
	d.every = max(d.e.cfg.Fetch, 10*d.fetched.Sub(now))
	if err != nil {
		if ctx.Err() == nil {
			d.e.log.Error("reading work from the store failed", "err", err)
			d.storeErr = err
		}
		return
	}
	var want []int64
	reaped := map[string]bool{}
	for i := range rows {
		c := &rows[i]
		if d.inflight[c.ID] || !d.e.managed(c) {
			continue
		}
		if c.LeasedBy(d.e.cfg.Owner, now) {
			if _, tried := reaped[c.Owner]; !tried {
				reaped[c.Owner] = d.e.reap(ctx, c.Owner)
			}
			if !reaped[c.Owner] {
				continue
			}
		}
		if old, ok := d.ready[c.ID]; ok && old.Version >= c.Version {
			continue
		}
		want = append(want, c.ID)
	}
	// Rows held already are renewed by the claim, not added; new ones only
	// while the window has room (the rest stay due for the next fetch, or
	// for another instance).
	room := d.e.cfg.ClaimWindow - len(d.leased)
	n := 0
	for _, id := range want {
		if d.leased[id] || room > 0 {
			if !d.leased[id] {
				room--
			}
			want[n] = id
			n++
		}
	}
	claimed := d.claimFetched(ctx, want[:n])
	for i := range claimed {
		c := &claimed[i]
		d.ready[c.ID] = c
		d.note(c)
	}
}

// nextDue returns when the next managed row is due, if one is due within
// Linger (once) or within a minute (daemon).
func (d *driver) nextDue(ctx context.Context) (time.Time, bool) {
	horizon := d.e.cfg.Linger
	if !d.once {
		horizon = time.Minute
	}
	rows, err := d.e.st.Work(ctx, time.Now().Add(horizon), d.e.cfg.WorkLimit)
	if err != nil {
		if ctx.Err() == nil {
			d.e.log.Error("reading work from the store failed", "err", err)
			d.storeErr = err
		}
		return time.Time{}, false
	}
	// A row another process holds is due when its lease ends (it is taken
	// over then if that process died).
	now := time.Now()
	var (
		next  time.Time
		found bool
	)
	for i := range rows {
		c := &rows[i]
		if !d.e.managed(c) || d.inflight[c.ID] {
			continue
		}
		due := c.NextAt
		if c.LeasedBy(d.e.cfg.Owner, now) {
			// A one-shot run waits up to one Lease for rows a killed
			// process held (a live one holds a row only while working
			// on it, so its leases end soon too).
			if c.LeaseUntil.After(now.Add(horizon + d.e.cfg.Lease)) {
				continue
			}
			due = c.LeaseUntil
		} else {
			d.note(c)
		}
		if !found || due.Before(next) {
			next, found = due, true
		}
	}
	return next, found
}

func (d *driver) note(c *store.Challenge) {
	if d.seen != nil {
		d.seen[c.ID] = *c
	}
}

// finish takes a step's result back into the loop.
func (d *driver) finish(r result) {
	d.running--
	for _, c := range r.rows {
		delete(d.inflight, c.ID)
	}
	if r.err != nil && r.err != context.Canceled && r.err != context.DeadlineExceeded {
		d.e.log.Warn("step failed", "step", r.what, "rows", len(r.rows), "err", r.err)
		if errors.Is(r.err, errStore) {
			d.storeErr = r.err
		}
	}
	now := time.Now()
	for _, c := range r.saved {
		d.note(c)
		if needsWork(c) && d.e.managed(c) && !c.NextAt.After(now) && d.leased[c.ID] {
			d.ready[c.ID] = c
		}
	}
	for _, c := range r.rows {
		if _, ok := d.ready[c.ID]; !ok {
			d.letGo(c.ID)
		}
	}
}

// spawn runs one step on the pool.
func (d *driver) spawn(ctx context.Context, what string, rows []*store.Challenge, fn func(context.Context) ([]*store.Challenge, error)) {
	for _, c := range rows {
		d.inflight[c.ID] = true
	}
	d.running++
	go func() {
		select {
		case d.sem <- struct{}{}:
		case <-ctx.Done():
			d.done <- result{what: what, rows: rows, err: ctx.Err()}
			return
		}
		start := time.Now()
		saved, err := fn(ctx)
		<-d.sem
		if d.e.trace != nil {
			d.e.trace(what, len(rows), time.Since(start))
		}
		d.done <- result{what: what, rows: rows, saved: saved, err: err}
	}()
}

type zoneKey struct{ backend, zone string }

// dispatch groups the ready rows by step and spawns the steps.
func (d *driver) dispatch(ctx context.Context, now time.Time) {
	if len(d.ready) == 0 {
		return
	}
	e := d.e
	var (
		publish   = map[zoneKey][]*store.Challenge{}
		remove    = map[zoneKey][]*store.Challenge{}
		verify    []*store.Challenge
		submit    = map[string]map[string][]*store.Challenge{}
		poll      = map[string]map[string][]*store.Challenge{}
		confirm   = map[string]map[string][]*store.Challenge{}
		immediate batch // state changes without a side effect
	)
	for id, c := range d.ready {
		if c.NextAt.After(now) {
			continue
		}
		delete(d.ready, id)
		if !c.State.Terminal() && !c.Expires.IsZero() && now.After(c.Expires) {
			immediate.add(c)
			fail(c, store.Expired, fmt.Sprintf("the CA's value expired at %s before validation", c.Expires.UTC().Format(time.RFC3339)))
			continue
		}
		switch stepFor(c) { // transitions.go
		case stepPublish:
			b, zone, err := e.backendFor(c)
			if err != nil {
				immediate.add(c)
				fail(c, store.Failed, err.Error())
				continue
			}
			k := zoneKey{b.pub.Name(), zone}
			publish[k] = append(publish[k], c)
		case stepVerify:
			verify = append(verify, c)
		case stepSubmit:
			addOrder(submit, c)
		case stepPoll:
			addOrder(poll, c)
		case stepConfirm:
			addOrder(confirm, c)
		case stepRemove:
			b, zone, err := e.backendFor(c)
			if err != nil {
				immediate.add(c)
				e.retryRemove(c, now, err.Error())
				continue
			}
			k := zoneKey{b.pub.Name(), zone}
			remove[k] = append(remove[k], c)
		default:
			if c.State == store.Validated { // its record is already gone
				immediate.add(c)
				c.State = store.Cleaned
			}
		}
	}
	if immediate.len() > 0 {
		d.spawn(ctx, "expire/fail", immediate.rows, func(ctx context.Context) ([]*store.Challenge, error) {
			return e.commit(ctx, &immediate)
		})
	}
	for k, rows := range publish {
		b := e.backends[k.backend]
		d.spawn(ctx, "publish "+k.zone, rows, func(ctx context.Context) ([]*store.Challenge, error) {
			return e.publish(ctx, b, k.zone, rows)
		})
	}
	for start := 0; start < len(verify); start += e.cfg.VerifyBatch {
		rows := verify[start:min(start+e.cfg.VerifyBatch, len(verify))]
		d.spawn(ctx, "verify", rows, func(ctx context.Context) ([]*store.Challenge, error) {
			return e.verify(ctx, rows)
		})
	}
	d.spawnOrders(ctx, submit, caSubmit)
	d.spawnOrders(ctx, confirm, caConfirm)
	d.spawnOrders(ctx, poll, caPoll)
	for k, rows := range remove {
		if d.hold(rows, now) {
			continue
		}
		b := e.backends[k.backend]
		d.spawn(ctx, "remove "+k.zone, rows, func(ctx context.Context) ([]*store.Challenge, error) {
			return e.remove(ctx, b, k.zone, rows)
		})
	}
}

// Removal batching: while other steps are running, a zone's validated rows
// arrive a few at a time (one submit batch spans many zones). Holding them
// back for up to holdFor, until holdBatch of them are due, turns many small
// RFC 2136 updates and store transactions into a few large ones.
const (
	holdBatch = 100
	holdFor   = time.Second
)

// hold puts rows back into ready when their removal should wait for more.
func (d *driver) hold(rows []*store.Challenge, now time.Time) bool {
	if d.running == 0 || len(rows) >= holdBatch {
		for _, c := range rows {
			delete(d.held, c.ID)
		}
		return false
	}
	oldest := now
	for _, c := range rows {
		t, ok := d.held[c.ID]
		if !ok {
			d.held[c.ID] = now
			t = now
		}
		if t.Before(oldest) {
			oldest = t
		}
	}
	if now.Sub(oldest) >= holdFor {
		for _, c := range rows {
			delete(d.held, c.ID)
		}
		return false
	}
	for _, c := range rows {
		d.ready[c.ID] = c
	}
	return true
}

func addOrder(m map[string]map[string][]*store.Challenge, c *store.Challenge) {
	if m[c.Account] == nil {
		m[c.Account] = map[string][]*store.Challenge{}
	}
	m[c.Account][c.Order] = append(m[c.Account][c.Order], c)
}

// spawnOrders splits each account's orders into steps of SubmitBatch orders.
func (d *driver) spawnOrders(ctx context.Context, m map[string]map[string][]*store.Challenge, how caStep) {
	what := how.String()
	for acct, orders := range m {
		a := d.e.accounts[acct]
		var chunk [][]*store.Challenge
		var rows []*store.Challenge
		flush := func() {
			if len(chunk) == 0 {
				return
			}
			ch, rs := chunk, rows
			d.spawn(ctx, what+" "+acct, rs, func(ctx context.Context) ([]*store.Challenge, error) {
				return d.e.submit(ctx, a, ch, how)
			})
			chunk, rows = nil, nil
		}
		for _, o := range orders {
			chunk = append(chunk, o)
			rows = append(rows, o...)
			if len(chunk) >= d.e.cfg.SubmitBatch {
				flush()
			}
		}
		flush()
	}
}
