package scheduler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/verify"
)

// Each step takes rows in one state, performs one batched side effect and
// saves the outcome in one transaction. It returns the rows it saved (their
// new state decides their next step). A step cut short by ctx leaves its rows
// as they were stored: the next run repeats it, which is harmless.

// uniqueRecords returns the distinct records of rows (apex and wildcard of
// one order share one value).
func uniqueRecords(rows []*store.Challenge) []dnspublish.Record {
	seen := make(map[string]bool, len(rows))
	out := make([]dnspublish.Record, 0, len(rows))
	for _, c := range rows {
		k := c.Record.Key()
		if !seen[k] {
			seen[k] = true
			out = append(out, c.Record)
		}
	}
	return out
}

// caParallel bounds how many orders' CA calls (checks, polls) one submit,
// confirm or poll step has in flight; the account's rate limiter still
// paces them.
const caParallel = 8

// zoneParallel bounds how many zones one publish or remove step writes to
// at once.
const zoneParallel = 8

// eachZone calls fn for each zone, at most zoneParallel at once, and
// returns when all are done.
func eachZone(zones []string, fn func(i int, zone string)) {
	var g errgroup.Group
	g.SetLimit(zoneParallel)
	for i, z := range zones {
		g.Go(func() error { fn(i, z); return nil })
	}
	g.Wait()
}

// sortedZones returns the zones of a step's map, sorted.
func sortedZones[V any](byZone map[string]V) []string {
	return slices.Sorted(maps.Keys(byZone))
}

// publish adds the records of Discovered rows routed to backend b, zone by
// zone (byZone). The add intents (DNS=adding, Backend, Zone) of every zone
// are stored in one transaction before the backend is called; then the
// zones are written concurrently, and their outcomes saved in one
// transaction: a step over a thousand zones costs two saves, not two
// thousand.
//
// The batch is claimed as a unit: the intent save checks every row's
// fencing token (Version), also of rows whose intent was stored before
// (saved unchanged), and renews the leases of the rows it saves
// (SaveHeld); rows another process took over are dropped there, and only
// the rows it saved are sent to the backend.
func (e *Engine) publish(ctx context.Context, b *backend, byZone map[string][]*store.Challenge) ([]*store.Challenge, error) {
	ctx, audit := store.WithAuditBuffer(ctx)
	defer audit.Flush(context.WithoutCancel(ctx))
	zones := sortedZones(byZone)
	zoneOf := map[*store.Challenge]string{}
	fresh := map[string][]*store.Challenge{}
	var again []*store.Challenge
	for _, zone := range zones {
		for _, c := range byZone[zone] {
			zoneOf[c] = zone
			if c.DNS == store.DNSAdding || c.DNS == store.DNSPresent {
				again = append(again, c) // intent already stored (retry, or resuming after a crash)
				continue
			}
			fresh[zone] = append(fresh[zone], c)
		}
	}
	foreign, probeErr, err := e.foreign(ctx, b, fresh)
	if err != nil {
		return nil, err
	}
	var intent batch
	now := time.Now()
	for _, c := range again {
		intent.add(c) // saved as it is: the save checks its fence
	}
	for _, zone := range zones {
		for _, c := range fresh[zone] {
			intent.add(c)
			if err := probeErr[zone]; err != nil {
				e.retry(c, now, fmt.Sprintf("publish to %s (zone %s): %v", b.pub.Name(), zone, err))
				continue
			}
			c.Backend, c.Zone = b.pub.Name(), zone
			if foreign[c.Record.Key()] {
				// Someone else's value: nothing to add, and never removed.
				c.DNS = store.DNSForeign
				advance(c, store.Published)
				continue
			}
			c.DNS = store.DNSAdding
		}
	}
	saved, err := e.commit(ctx, &intent)
	if err != nil {
		return nil, fmt.Errorf("add intent: %w", err)
	}
	var done []*store.Challenge
	ready := map[string][]*store.Challenge{}
	for _, c := range saved {
		if c.DNS == store.DNSAdding || c.DNS == store.DNSPresent {
			ready[zoneOf[c]] = append(ready[zoneOf[c]], c)
		} else {
			done = append(done, c) // foreign, or a failed probe's retry
		}
	}
	if len(ready) == 0 {
		return done, nil
	}
	e.faultAt(faultPublishIntent)
	rz := sortedZones(ready)
	results := make([]dnspublish.Result, len(rz))
	errs := make([]error, len(rz))
	eachZone(rz, func(i int, zone string) {
		results[i], errs[i] = e.write(ctx, b, zone, ready[zone], true)
	})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	e.faultAt(faultPublishWritten)
	audit.Flush(ctx)
	now = time.Now()
	var out batch
	for i, zone := range rz {
		err := errs[i]
		var partial *dnspublish.PartialError
		if !errors.As(err, &partial) {
			partial = nil
		}
		for _, c := range ready[zone] {
			out.add(c)
			switch {
			case partial != nil && partial.Failed[c.Record.Key()] != nil:
				e.retry(c, now, fmt.Sprintf("publish to %s (zone %s): %v", b.pub.Name(), zone, partial.Failed[c.Record.Key()]))
				continue
			case partial == nil && err != nil:
				e.retry(c, now, fmt.Sprintf("publish to %s (zone %s): %v", b.pub.Name(), zone, err))
				continue
			}
			c.DNS, c.Serial = store.DNSPresent, results[i].Serial
			advance(c, store.Published)
		}
	}
	written, err := e.commit(ctx, &out)
	if err == nil && len(written) < out.len() {
		for _, zone := range rz {
			e.reconcile(ctx, b, zone, ready[zone], written)
		}
	}
	return append(done, written...), err
}

// foreign returns the keys of the fresh rows' records whose value is
// already in the zone without any row of dcvd holding it: someone else put
// it there. Only backends that implement dnspublish.Prober can tell; for
// the others every value counts as dcvd's own. A value another row holds
// (adding or present) is dcvd's, whatever the zone says. One store query
// covers every zone; the zones are probed concurrently, and a zone whose
// probe failed is in probeErr (its rows are retried later). err is a store
// failure, or ctx's.
func (e *Engine) foreign(ctx context.Context, b *backend, fresh map[string][]*store.Challenge) (keys map[string]bool, probeErr map[string]error, err error) {
	pr, ok := b.pub.(dnspublish.Prober)
	if !ok || len(fresh) == 0 {
		return nil, nil, nil
	}
	var all []*store.Challenge
	for _, rows := range fresh {
		all = append(all, rows...)
	}
	recs := uniqueRecords(all)
	ks := make([]string, len(recs))
	for i, r := range recs {
		ks[i] = r.Key()
	}
	held, err := e.st.Holders(ctx, ks, rowIDs(all))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: holders: %w", errStore, err)
	}
	ask := map[string][]dnspublish.Record{}
	for zone, rows := range fresh {
		for _, r := range uniqueRecords(rows) {
			if held[r.Key()] == 0 {
				ask[zone] = append(ask[zone], r)
			}
		}
	}
	zones := sortedZones(ask)
	present := make([][]bool, len(zones))
	errs := make([]error, len(zones))
	eachZone(zones, func(i int, zone string) {
		if errs[i] = b.limit.Wait(ctx); errs[i] == nil {
			present[i], errs[i] = pr.Present(ctx, zone, ask[zone])
		}
	})
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	keys, probeErr = map[string]bool{}, map[string]error{}
	for i, zone := range zones {
		if errs[i] != nil {
			probeErr[zone] = errs[i]
			continue
		}
		for j, r := range ask[zone] {
			if j < len(present[i]) && present[i][j] {
				keys[r.Key()] = true
				e.log.Info("value already in the zone, not dcvd's: it is neither added nor removed", "record", r.String(), "backend", b.pub.Name())
			}
		}
	}
	return keys, probeErr, nil
}

// write calls the backend's Add or Remove for rows' records, rate limited.
func (e *Engine) write(ctx context.Context, b *backend, zone string, rows []*store.Challenge, add bool) (dnspublish.Result, error) {
	if err := b.limit.Wait(ctx); err != nil {
		return dnspublish.Result{}, err
	}
	recs := uniqueRecords(rows)
	start := time.Now()
	var res dnspublish.Result
	var err error
	if add {
		res, err = b.pub.Add(ctx, zone, recs)
	} else {
		_, err = b.pub.Remove(ctx, zone, recs)
	}
	if o := e.cfg.Observer; o != nil {
		o.DNSWrite(ctx, DNSWrite{Backend: b.pub.Name(), Zone: zone, Remove: !add, Rows: rows, Records: recs, Serial: res.Serial, Err: err, Took: time.Since(start)})
	}
	return res, err
}

// verify waits until every authoritative server serves the records of
// Published rows. Rows that failed a check before get their record written
// again first (idempotent): it may have been removed by another process that
// shared the value.
func (e *Engine) verify(ctx context.Context, rows []*store.Challenge) ([]*store.Challenge, error) {
	if e.vf == nil {
		return nil, fmt.Errorf("no propagation checker configured")
	}
	var again []*store.Challenge
	for _, c := range rows {
		if c.Attempts > 0 && c.DNS != store.DNSForeign {
			again = append(again, c)
		}
	}
	// Only rows still leased here are written again, claimed as a unit
	// like publish's batch: the rows are saved unchanged (their add intent
	// is their DNS state), which checks their fence and renews their
	// leases.
	ctx, audit := store.WithAuditBuffer(ctx)
	defer audit.Flush(context.WithoutCancel(ctx))
	var fence batch
	for _, c := range again {
		fence.add(c)
	}
	again, err := e.commit(ctx, &fence)
	if err != nil {
		return nil, err
	}
	republish := map[[2]string][]*store.Challenge{}
	for _, c := range again {
		k := [2]string{c.Backend, c.Zone}
		republish[k] = append(republish[k], c)
	}
	for k, rs := range republish {
		if b, ok := e.backends[k[0]]; ok {
			if res, err := e.write(ctx, b, k[1], rs, true); err == nil {
				for _, c := range rs {
					c.Serial = res.Serial
				}
			} else if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
	}
	verdicts, err := e.vf.verifyAll(ctx, rows)
	e.faultAt(faultVerified)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if o := e.cfg.Observer; o != nil && verdicts != nil {
		reports := make([]*verify.Report, len(verdicts))
		for i, v := range verdicts {
			reports[i] = v.report
		}
		o.Verified(ctx, rows, reports)
	}
	audit.Flush(ctx)
	now := time.Now()
	var out batch
	for i, c := range rows {
		out.add(c)
		switch {
		case verdicts == nil:
			e.retry(c, now, fmt.Sprintf("verify: %v", err))
		case verdicts[i].forbidden != "":
			fail(c, store.Failed, verdicts[i].forbidden) // CAA: the CA would refuse; never asked
		case verdicts[i].visible:
			advance(c, store.Visible)
		case c.DNS == store.DNSForeign:
			// The value that was someone else's has gone (its owner, or a
			// row of dcvd that was removing it, took it away): publish it
			// again, asking the zone afresh.
			c.State, c.DNS, c.Backend, c.Zone = store.Discovered, store.DNSNone, "", ""
			e.retry(c, now, "verify: the value that was already in the zone is gone: "+verdicts[i].detail)
		default:
			e.retry(c, now, "verify: "+verdicts[i].detail)
		}
	}
	saved, err := e.commit(ctx, &out)
	if err == nil && len(saved) < len(rows) {
		for k, rs := range republish {
			if b, ok := e.backends[k[0]]; ok {
				e.reconcile(ctx, b, k[1], rs, saved)
			}
		}
	}
	return saved, err
}

// challenges converts rows back to what the provider gave.
func challenges(rows []*store.Challenge) []providers.Challenge {
	out := make([]providers.Challenge, len(rows))
	for i, c := range rows {
		out[i] = providers.Challenge{Order: c.Order, Name: c.Name, Record: c.Record, Expires: c.Expires, Ref: c.Ref, CAANames: c.CAANames}
	}
	return out
}

// caStep is what submit does with each order's rows.
type caStep int

const (
	caSubmit  caStep = iota // ask the CA to check Visible rows (stepSubmit)
	caPoll                  // read the verdict on Submitted rows (stepPoll)
	caConfirm               // read the CA's state after a check in doubt (stepConfirm)
)

func (s caStep) String() string {
	return [...]string{"submit", "poll", "confirm"}[s]
}

// submit asks the CA to check each order's Visible rows (caSubmit), reads
// the verdict on Submitted rows (caPoll), or settles Triggering rows whose
// check is in doubt (caConfirm). orders holds the rows of one account, by
// order; they are handled one order after the other, within the account's
// rate limits.
//
// A check acts at the CA, so its intent comes first: each order's rows are
// saved as Triggering, after their leases were renewed (held) and fenced by
// the save, before the CA is asked; the answer is saved together with the
// next order's intent (one transaction per order). A process killed between
// the two saves leaves its rows Triggering: in doubt, confirmed by the next
// process to claim them (confirm), never asked again blindly. A check that
// failed without saying whether it acted stays in doubt the same way.
func (e *Engine) submit(ctx context.Context, a *account, orders [][]*store.Challenge, how caStep) ([]*store.Challenge, error) {
	ctx, audit := store.WithAuditBuffer(ctx)
	defer audit.Flush(context.WithoutCancel(ctx))
	var (
		out     batch // outcomes not saved yet
		stop    error
		renewed time.Time
		kept    map[*store.Challenge]bool
	)
	if how == caSubmit {
		// Every order's intent in one save, which fences the rows and
		// renews their leases; rows taken over meanwhile are not sent.
		var intent batch
		for _, rows := range orders {
			for _, c := range rows {
				intent.add(c)
				c.State, c.NextAt = store.Triggering, time.Time{}
				c.Reason = fmt.Sprintf("asking the CA to check (attempt %d)", c.Attempts+1)
			}
		}
		saved, err := e.commit(ctx, &intent)
		if err != nil {
			return nil, err
		}
		renewed, kept = time.Now(), make(map[*store.Challenge]bool, len(saved))
		for _, c := range saved {
			kept[c] = true
		}
	}
	// The orders' calls go out caParallel at a time (a CA answers a check
	// after its own DNS lookups; one after another, they bound the step);
	// their answers are applied in order once every call has returned.
	type answer struct {
		rows []*store.Challenge
		outs []providers.Outcome
		err  error
		took time.Duration
	}
	answers := make([]*answer, len(orders))
	var calls errgroup.Group
	calls.SetLimit(caParallel)
	var renewErr error
	for n, rows := range orders {
		order := rows[0].Order
		if how == caSubmit {
			// The leases of the rows still to check are renewed again
			// whenever a tenth of the Lease has passed: every check goes
			// out with 90% of its lease ahead.
			if time.Since(renewed) > e.cfg.Lease/10 {
				var rest []*store.Challenge
				for _, o := range orders[n:] {
					for _, c := range o {
						if kept[c] {
							rest = append(rest, c)
						}
					}
				}
				held, err := e.held(ctx, "check", rest, renewed)
				if err != nil {
					renewErr = err
					break
				}
				renewed, kept = time.Now(), make(map[*store.Challenge]bool, len(held))
				for _, c := range held {
					kept[c] = true
				}
			}
			var mine []*store.Challenge
			for _, c := range rows {
				if kept[c] {
					mine = append(mine, c)
				}
			}
			if len(mine) == 0 {
				continue
			}
			rows = mine
		}
		if ctx.Err() != nil {
			break
		}
		ans := &answer{rows: rows}
		answers[n] = ans
		calls.Go(func() error {
			start := time.Now()
			defer func() { ans.took = time.Since(start) }()
			actx := WithAccount(ctx, a.name)
			if how == caSubmit {
				ans.outs, ans.err = a.Provider.Submit(actx, order, challenges(rows))
				e.faultAt(faultSubmitted)
			} else {
				ans.outs, ans.err = a.Provider.Poll(actx, order, challenges(rows))
				e.faultAt(faultPolled)
			}
			return nil
		})
	}
	calls.Wait()
	for _, ans := range answers {
		if ans == nil {
			continue
		}
		rows, outs, err, order := ans.rows, ans.outs, ans.err, ans.rows[0].Order
		if o := e.cfg.Observer; o != nil && ctx.Err() == nil {
			o.CACall(ctx, CACall{Account: a.name, Order: order, Poll: how != caSubmit, Rows: rows, Outcomes: outs, Err: err, Took: ans.took})
		}
		if err != nil && ctx.Err() != nil {
			stop = ctx.Err() // a check cut short stays Triggering: in doubt
			continue
		}
		if err == nil && len(outs) != len(rows) {
			err = fmt.Errorf("%d outcomes for %d challenges", len(outs), len(rows))
		}
		now := time.Now()
		if how == caConfirm {
			e.log.Warn("a check's outcome was lost (a process killed or stalled while asking the CA): read the CA's state instead of asking again",
				"account", a.name, "order", order, "rows", len(rows), "attempt", rows[0].Attempts+1, "outcome", outcomeSummary(outs, err))
		}
		for i, c := range rows {
			out.add(c)
			switch {
			case err != nil && how == caSubmit:
				// The CA may have acted: the row stays Triggering and
				// confirm, due at once, reads the CA's state before any
				// new check (and counts the attempt).
				c.Reason = fmt.Sprintf("check order %s (attempt %d) in doubt: %v", order, c.Attempts+1, err)
			case err != nil:
				e.retry(c, now, fmt.Sprintf("%s order %s: %v", how, order, err))
			case how == caConfirm && outs[i].Status != providers.Validated && outs[i].Status != providers.Failed:
				// Not validated: the check in doubt is a spent attempt;
				// the next one follows the usual backoff.
				c.State = store.Visible
				reason := fmt.Sprintf("check of attempt %d in doubt; the CA says %s: attempt spent", c.Attempts+1, outs[i].Status)
				if outs[i].Reason != "" {
					reason += " (" + outs[i].Reason + ")"
				}
				e.retry(c, now, reason)
			default:
				e.apply(c, outs[i], now, how != caSubmit)
			}
		}
	}
	if renewErr != nil {
		audit.Flush(ctx)
		saved, _ := e.commit(ctx, &out)
		return saved, renewErr
	}
	audit.Flush(ctx)
	sent := make(map[*store.Challenge]bool, out.len())
	for _, c := range out.rows {
		sent[c] = true
	}
	saved, err := e.commit(ctx, &out)
	if err == nil {
		err = stop
	}
	// Rows whose intent was saved but whose check was never sent (the run
	// ended) stay Triggering: in doubt, confirmed before anything is sent
	// again.
	for _, rows := range orders {
		for _, c := range rows {
			if kept[c] && !sent[c] {
				saved = append(saved, c)
			}
		}
	}
	return saved, err
}

// outcomeSummary is one log value for a CA answer: "validated", "2
// pending", or the error.
func outcomeSummary(outs []providers.Outcome, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	n := map[providers.Status]int{}
	for _, o := range outs {
		n[o.Status]++
	}
	var parts []string
	for _, s := range []providers.Status{providers.Validated, providers.Pending, providers.NotVisible, providers.Failed} {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	return strings.Join(parts, ", ")
}

// apply records the CA's verdict on one row.
func (e *Engine) apply(c *store.Challenge, o providers.Outcome, now time.Time, poll bool) {
	switch o.Status {
	case providers.Validated:
		advance(c, store.Validated)
	case providers.Failed:
		fail(c, store.Failed, "CA: "+o.Reason)
	case providers.NotVisible:
		// The record stays; ask again later (after a poll: submit again).
		c.State = store.Visible
		reason := "CA: not visible yet"
		if o.Reason != "" {
			reason += ": " + o.Reason
		}
		e.retry(c, now, reason)
	default: // Pending
		if !poll {
			advance(c, store.Submitted)
		}
		c.Attempts++
		c.Reason = "waiting on the CA"
		if o.Reason != "" {
			c.Reason += ": " + o.Reason
		}
		c.NextAt = now.Add(e.retryDelay(c.State, c.Attempts, true))
	}
}

// remove deletes the records of finished rows (Validated, Failed, Expired,
// or abandoned hook rows) routed to backend b, zone by zone (byZone): the
// remove intents of every zone are stored first in one transaction, then
// each zone's backend removes every value no other row still holds (zones
// concurrently), then the rows are marked removed (Validated becomes
// Cleaned) in one transaction. Removal is retried forever: dcvd never
// leaves junk behind. Like publish's, the batch is claimed as a unit: the
// intent save checks every row's fence (rows already removing are saved
// unchanged) and renews its lease, and only the saved rows go to the
// backend.
func (e *Engine) remove(ctx context.Context, b *backend, byZone map[string][]*store.Challenge) ([]*store.Challenge, error) {
	ctx, audit := store.WithAuditBuffer(ctx)
	defer audit.Flush(context.WithoutCancel(ctx))
	zoneOf := map[*store.Challenge]string{}
	var intent batch
	for _, zone := range sortedZones(byZone) {
		for _, c := range byZone[zone] {
			zoneOf[c] = zone
			intent.add(c)
			c.DNS = store.DNSRemoving
		}
	}
	ready, err := e.commit(ctx, &intent)
	if err != nil {
		return nil, fmt.Errorf("remove intent: %w", err)
	}
	if len(ready) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ready))
	for i, c := range ready {
		keys[i] = c.Record.Key()
	}
	held, err := e.st.Holders(ctx, keys, rowIDs(ready))
	if err != nil {
		return nil, fmt.Errorf("%w: holders: %w", errStore, err)
	}
	drop := map[string][]*store.Challenge{}
	for _, c := range ready {
		if held[c.Record.Key()] == 0 {
			drop[zoneOf[c]] = append(drop[zoneOf[c]], c)
		}
	}
	e.faultAt(faultRemoveIntent)
	dz := sortedZones(drop)
	errs := make([]error, len(dz))
	eachZone(dz, func(i int, zone string) {
		_, errs[i] = e.write(ctx, b, zone, drop[zone], false)
	})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	failed := map[string]error{}
	for i, zone := range dz {
		if errs[i] != nil {
			failed[zone] = errs[i]
		}
	}
	e.faultAt(faultRemoved)
	audit.Flush(ctx)
	now := time.Now()
	var out batch
	for _, c := range ready {
		out.add(c)
		zone := zoneOf[c]
		if err := failed[zone]; err != nil {
			e.retryRemove(c, now, fmt.Sprintf("remove from %s (zone %s): %v", b.pub.Name(), zone, err))
			continue
		}
		c.DNS = store.DNSRemoved
		c.Attempts, c.NextAt = 0, time.Time{}
		c.Reason = baseReason(c.Reason)
		if c.State == store.Validated || !c.State.Terminal() {
			// Validated rows are done; live rows only get here through
			// Unpublish (a hook finished with its record).
			c.State = store.Cleaned
		}
	}
	return e.commit(ctx, &out)
}

// cleanupMark separates a failed row's own reason from a pending cleanup
// error, so the terminal reason is never lost.
const cleanupMark = " | cleanup pending: "

func baseReason(r string) string {
	if i := strings.Index(r, cleanupMark); i >= 0 {
		return r[:i]
	}
	return r
}

func (e *Engine) retryRemove(c *store.Challenge, now time.Time, reason string) {
	c.Attempts++
	if c.State == store.Failed || c.State == store.Expired {
		reason = baseReason(c.Reason) + cleanupMark + reason
	}
	c.Reason = reason
	c.NextAt = now.Add(e.retryDelay(c.State, c.Attempts, false))
}

// Fault points: where the fault-injection tests kill the process (-9) in
// the middle of a step, between a stored intent, the side effect and the
// saved outcome. Engine.fault is nil outside those tests.
const (
	faultDiscovered     = "discover:stored" // after the discovered rows are stored
	faultPublishIntent  = "publish:intent"  // add intent stored, backend not called
	faultPublishWritten = "publish:written" // backend added, outcome not saved
	faultVerified       = "verify:checked"  // servers checked, outcome not saved
	faultSubmitted      = "submit:called"   // the CA was asked to check, outcome not saved
	faultPolled         = "poll:called"     // the CA's verdict read, not saved
	faultRemoveIntent   = "remove:intent"   // remove intent stored, backend not called
	faultRemoved        = "remove:written"  // backend removed, outcome not saved
)

// faultPoints lists every fault point, in pipeline order.
var faultPoints = []string{faultDiscovered, faultPublishIntent, faultPublishWritten, faultVerified,
	faultSubmitted, faultPolled, faultRemoveIntent, faultRemoved}

func (e *Engine) faultAt(point string) {
	if e.fault != nil {
		e.fault(point)
	}
}
