package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
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
	seen     map[int64]*store.Challenge // once: every unfinished or failed row touched, for the Summary
	cleaned  map[int64]struct{}         // once: rows touched that ended cleaned (counted only)
	// unmanaged is how many rows of accounts this engine does not drive
	// the last fetch read.
	unmanaged int
	// discovering is set while a one-shot run's discovery is still
	// storing rows: the loop does not end then.
	discovering atomic.Bool
	done        chan result
	sem         chan struct{}
	running     int
	held        map[int64]time.Time // removals held back to form larger batches
	peers       int                 // other processes working on these accounts (hold)
	peersAt     time.Time           // when peers was counted
	fetched     time.Time
	every       time.Duration // fetch interval: Fetch, or longer when a fetch is slow
	storeErr    error
	leased      map[int64]time.Time // rows this process holds the lease on, and when it was last extended (leases.go)
	polledLast  bool                // once: the last poll before the run ends was made (lastPoll)
	lastPolled  map[int64]bool      // once: rows the last poll has taken (lastPoll)
	unlease     []int64             // leases to release at the next fetch
	renewed     time.Time
}

// storePause is how long the daemon waits after the store failed before it
// reads and writes again.
const storePause = 5 * time.Second

type result struct {
	what    string
	rows    []*store.Challenge // every row the step was given
	saved   []*store.Challenge // the rows it saved, in their new state
	savedAt time.Time          // before its first save (a lower bound on each saved row's lease extension)
	err     error
}

func newDriver(e *Engine, once bool) *driver {
	d := &driver{
		e:        e,
		once:     once,
		inflight: map[int64]bool{},
		ready:    map[int64]*store.Challenge{},
		held:     map[int64]time.Time{},
		leased:   map[int64]time.Time{},
		done:     make(chan result),
		sem:      make(chan struct{}, e.cfg.Workers),
	}
	if once {
		d.seen = map[int64]*store.Challenge{}
		d.cleaned = map[int64]struct{}{}
		d.lastPolled = map[int64]bool{}
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
			// Read before the store: a discovery that ends after this
			// read stored its rows before it ended, and one that ended
			// before it has its rows in what nextDue reads. Read after,
			// a discovery ending in between looked finished while its
			// last rows were not in what nextDue had read, and the run
			// ended without them ("no challenges").
			feeding := d.discovering.Load()
			next, ok := d.nextDue(ctx)
			if d.once && !ok && !feeding {
				if d.lastPoll(ctx) {
					continue
				}
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

// fetch reads due rows no process holds from the store and claims them
// into ready: at most as many as the claim window has room for (rows this
// process works on move from step to step in memory, and rows another
// process holds are its own).
func (d *driver) fetch(ctx context.Context, now time.Time) {
	d.flushRelease(ctx)
	if now.Sub(d.peersAt) >= peersEvery {
		d.peers, d.peersAt = d.peersWorking(ctx), now
	}
	room := d.e.cfg.ClaimWindow - len(d.leased)
	if room <= 0 {
		d.fetched = time.Now()
		return
	}
	// Rows of accounts this engine does not drive come back on every read
	// (oldest first): read that many more so they cannot crowd out the
	// rest.
	rows, err := d.e.st.Work(ctx, now, min(room+d.unmanaged, d.e.cfg.WorkLimit))
	// The store is re-read only for new, backed-off or foreign changes.
	// Keep that under a tenth of the loop's time however large the table.
	d.fetched = time.Now()
	d.every = max(d.e.cfg.Fetch, 10*d.fetched.Sub(now))
	if err != nil {
		if ctx.Err() == nil {
			d.e.log.Error("reading work from the store failed", "err", err)
			d.storeErr = fmt.Errorf("%w: %w", errStore, err)
		}
		return
	}
	// Whole orders: an order's due rows are claimed together or not at
	// all (an order whose rows two instances split is checked once per
	// part, and the part checked first waits on the CA for the other).
	// Rows without an order stand alone.
	var want []int64
	wanted := map[orderKey]int{}
	d.unmanaged = 0
	for i := range rows {
		c := &rows[i]
		if !d.e.managed(c) {
			d.unmanaged++
			continue
		}
		if _, held := d.leased[c.ID]; held || d.inflight[c.ID] {
			continue
		}
		k := orderKey{c.Account, c.Order}
		if _, started := wanted[k]; (!started || c.Order == "") && len(want) >= room {
			continue
		}
		wanted[k]++
		want = append(want, c.ID)
	}
	claimed := d.claimFetched(ctx, want)
	got := make(map[orderKey]int, len(wanted))
	for i := range claimed {
		got[orderKey{claimed[i].Account, claimed[i].Order}]++
	}
	for i := range claimed {
		c := &claimed[i]
		if k := (orderKey{c.Account, c.Order}); c.Order != "" && got[k] < wanted[k] {
			// Another process took the rest of this order meanwhile: it
			// is left to that process, which takes this part at its next
			// fetch.
			d.letGo(c.ID)
			continue
		}
		d.ready[c.ID] = c
		d.note(c)
	}
	d.flushRelease(ctx)
}

// orderKey names one order of one account.
type orderKey struct{ account, order string }

// nextDue returns when the next managed row is due, if one is due within
// Linger (once) or within a minute (daemon): the first free row whose
// backoff ends, or the first lease another process holds on a row of an
// account this engine drives (a one-shot run waits for it: taken over if
// that process died).
func (d *driver) nextDue(ctx context.Context) (time.Time, bool) {
	horizon := d.e.cfg.Linger
	if !d.once {
		horizon = time.Minute
	}
	d.flushRelease(ctx) // rows let go of are free, and due later
	now := time.Now()
	rows, err := d.e.st.Work(ctx, now.Add(horizon), min(nextDueRows+d.unmanaged, d.e.cfg.WorkLimit))
	var leases []store.Lease
	if err == nil {
		leases, err = d.e.st.Leases(ctx)
	}
	if err != nil {
		if ctx.Err() == nil {
			d.e.log.Error("reading work from the store failed", "err", err)
			d.storeErr = fmt.Errorf("%w: %w", errStore, err)
		}
		return time.Time{}, false
	}
	var (
		next  time.Time
		found bool
	)
	for i := range rows {
		c := &rows[i]
		if _, held := d.leased[c.ID]; held || !d.e.managed(c) || d.inflight[c.ID] {
			continue
		}
		d.note(c)
		if !found || c.NextAt.Before(next) {
			next, found = c.NextAt, true
		}
	}
	for _, l := range leases {
		if _, ok := d.e.accounts[l.Account]; !ok || l.Owner == d.e.cfg.Owner {
			continue
		}
		// A live process holds a row only while working on it, so its
		// leases end soon too; one renewed past the horizon is not waited
		// for.
		if l.Until.After(now.Add(horizon + d.e.cfg.Lease)) {
			continue
		}
		if !found || l.Until.Before(next) {
			next, found = l.Until, true
		}
	}
	return next, found
}

// lastPoll, once, before a one-shot run ends: the rows it touched that wait
// on the CA's verdict beyond Linger are polled now, once. Another process
// may have had the order validated meanwhile (an order whose rows two
// instances split: each checks its part, and the part checked first waits
// out its backoff), and the run then finishes them instead of reporting
// them pending. Rows another process holds at that moment are being worked
// on there: the run waits until it lets them go, then reads them again. It
// reports whether the loop goes on (rows to poll, or rows to wait for).
func (d *driver) lastPoll(ctx context.Context) bool {
	if d.polledLast || d.seen == nil {
		return false
	}
	var ids []int64
	for id, c := range d.seen {
		if c.State == store.Submitted && d.e.managed(c) && !d.lastPolled[id] { // no step runs now
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		d.polledLast = true
		return false
	}
	now := time.Now()
	claimed := d.claimFetched(ctx, ids)
	if d.storeErr != nil {
		return true // the loop ends the run with the error
	}
	polled := false
	for _, c := range claimed {
		d.lastPolled[c.ID] = true
		d.note(&c)
		if c.State == store.Submitted {
			c.NextAt = now
		}
		if needsWork(&c) && d.e.managed(&c) && !c.NextAt.After(now) {
			d.ready[c.ID] = &c
			polled = true
		} else {
			d.letGo(c.ID)
		}
	}
	if polled {
		d.e.log.Info("polling the CA once more for rows still waiting on it before the run ends", "rows", len(d.ready))
	}
	if len(claimed) < len(ids) && d.peersWorking(ctx) > 0 {
		if !polled {
			d.e.log.Debug("waiting for another dcvd process to let go of rows this run touched", "rows", len(ids)-len(claimed))
			d.sleep(ctx, min(d.e.cfg.Lease/10, 200*time.Millisecond), nil)
		}
		return ctx.Err() == nil
	}
	d.polledLast = true
	return polled
}

// peersWorking counts the other processes holding leases on rows of
// accounts this engine drives.
func (d *driver) peersWorking(ctx context.Context) int {
	leases, err := d.e.st.Leases(ctx)
	if err != nil {
		return 0
	}
	owners := map[string]bool{}
	for _, l := range leases {
		if _, ok := d.e.accounts[l.Account]; ok && l.Owner != d.e.cfg.Owner {
			owners[l.Owner] = true
		}
	}
	return len(owners)
}

// nextDueRows is how many free rows nextDue reads: the earliest due is
// among the first (they come oldest first); the rest are counted for a
// one-shot run's summary.
const nextDueRows = 1000

// note keeps what a one-shot run's Summary needs of a row: the row while it
// is unfinished or failed, only a count once it is cleaned.
func (d *driver) note(c *store.Challenge) {
	if d.seen == nil {
		return
	}
	if c.State == store.Cleaned && !c.DNS.Owned() {
		if _, ok := d.cleaned[c.ID]; !ok {
			d.cleaned[c.ID] = struct{}{}
			delete(d.seen, c.ID)
		}
		return
	}
	d.seen[c.ID] = c
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
		if _, held := d.leased[c.ID]; held {
			d.leased[c.ID] = r.savedAt // the save extended the lease (SaveHeld)
			if needsWork(c) && d.e.managed(c) && !c.NextAt.After(now) {
				d.ready[c.ID] = c
			}
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
	queued := time.Now()
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
		d.e.log.Debug("step done", "step", what, "rows", len(rows), "queued", start.Sub(queued).Round(time.Millisecond),
			"took", time.Since(start).Round(time.Millisecond), "saved", len(saved), "err", err)
		d.done <- result{what: what, rows: rows, saved: saved, savedAt: start, err: err}
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
	d.spawnZones(ctx, "publish", publish, now, e.publish)
	// An order's rows in one batch: they become visible together, and the
	// order is submitted once, not once per batch its rows fell into.
	sort.Slice(verify, func(i, j int) bool {
		a, b := verify[i], verify[j]
		if a.Account != b.Account {
			return a.Account < b.Account
		}
		if a.Order != b.Order {
			return a.Order < b.Order
		}
		return a.ID < b.ID
	})
	for start := 0; start < len(verify); start += e.cfg.VerifyBatch {
		rows := verify[start:min(start+e.cfg.VerifyBatch, len(verify))]
		d.spawn(ctx, "verify", rows, func(ctx context.Context) ([]*store.Challenge, error) {
			return e.verify(ctx, rows)
		})
	}
	d.spawnOrders(ctx, submit, caSubmit)
	d.spawnOrders(ctx, confirm, caConfirm)
	d.spawnOrders(ctx, poll, caPoll)
	d.spawnZones(ctx, "remove", remove, now, e.remove)
}

// spawnZones spawns a DNS step (publish or remove) per backend chunk of
// zones, unless hold keeps its rows back for a larger batch.
func (d *driver) spawnZones(ctx context.Context, what string, m map[zoneKey][]*store.Challenge, now time.Time,
	step func(context.Context, *backend, map[string][]*store.Challenge) ([]*store.Challenge, error)) {
	for name, chunk := range byBackend(m) {
		b := d.e.backends[name]
		for _, zones := range chunk {
			rows := zones.rows()
			if d.hold(rows, now) {
				continue
			}
			d.spawn(ctx, what+" "+name, rows, func(ctx context.Context) ([]*store.Challenge, error) {
				return step(ctx, b, zones)
			})
		}
	}
}

// stepRows is about the most rows one publish or remove step takes: its
// zones are written concurrently, and its intents and outcomes are saved in
// one transaction each. Large, because a zone's rows in one step are what
// one DNS update carries: with a thousand zones, a step of 2,000 rows sends
// two records per update.
const stepRows = 10000

// zoneRows is the rows of one backend's step, by zone.
type zoneRows map[string][]*store.Challenge

func (z zoneRows) rows() []*store.Challenge {
	var out []*store.Challenge
	for _, rs := range z {
		out = append(out, rs...)
	}
	return out
}

// byBackend splits rows grouped by (backend, zone) into steps per backend
// of whole zones, about stepRows rows each.
func byBackend(m map[zoneKey][]*store.Challenge) map[string][]zoneRows {
	keys := make([]zoneKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].backend != keys[j].backend {
			return keys[i].backend < keys[j].backend
		}
		return keys[i].zone < keys[j].zone
	})
	out := map[string][]zoneRows{}
	n := map[string]int{}
	for _, k := range keys {
		steps := out[k.backend]
		if len(steps) == 0 || n[k.backend] >= stepRows {
			steps = append(steps, zoneRows{})
			out[k.backend] = steps
			n[k.backend] = 0
		}
		steps[len(steps)-1][k.zone] = m[k]
		n[k.backend] += len(m[k])
	}
	return out
}

// Publish and removal batching: discovered rows arrive a batch at a time
// while discovery reads on, validated rows a few at a time (one submit
// batch spans a few orders), each spread over every zone. Holding them back
// for up to holdFor, until holdBatch of them are due, turns many small RFC
// 2136 updates and store transactions into a few large ones. While n other
// processes work on the same accounts, each sees about 1/(n+1) of the rows
// and holds them (n+1) times as long, so that an update to a zone carries
// as many records as one process alone would send (peersEvery: how often
// the store is asked who else works).
const (
	holdBatch  = stepRows
	holdFor    = 2 * time.Second
	peersEvery = 15 * time.Second
)

// hold puts rows back into ready when their publish or removal should wait
// for more: while other steps run or discovery is still storing rows, for
// up to holdFor, until holdBatch of them are due.
func (d *driver) hold(rows []*store.Challenge, now time.Time) bool {
	if (d.running == 0 && !d.discovering.Load()) || len(rows) >= holdBatch {
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
	if now.Sub(oldest) >= holdFor*time.Duration(1+d.peers) {
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
