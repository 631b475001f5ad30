package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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

// publish adds the records of Discovered rows routed to (b, zone). The add
// intent (DNS=adding, Backend, Zone) is stored before the backend is called.
func (e *Engine) publish(ctx context.Context, b *backend, zone string, rows []*store.Challenge) ([]*store.Challenge, error) {
	var intent batch
	var ready, fresh, done []*store.Challenge
	for _, c := range rows {
		if c.DNS == store.DNSAdding || c.DNS == store.DNSPresent {
			ready = append(ready, c) // intent already stored (retry, or resuming after a crash)
			continue
		}
		fresh = append(fresh, c)
	}
	foreign, err := e.foreign(ctx, b, zone, fresh)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		now := time.Now()
		var out batch
		for _, c := range fresh {
			out.add(c)
			e.retry(c, now, fmt.Sprintf("publish to %s (zone %s): %v", b.pub.Name(), zone, err))
		}
		retried, _ := e.commit(ctx, &out)
		done = retried
		fresh = nil
	}
	for _, c := range fresh {
		intent.add(c)
		c.Backend, c.Zone = b.pub.Name(), zone
		if foreign[c.Record.Key()] {
			// Someone else's value: nothing to add, and never removed.
			c.DNS = store.DNSForeign
			advance(c, store.Published)
			continue
		}
		c.DNS = store.DNSAdding
	}
	saved, err := e.commit(ctx, &intent)
	if err != nil {
		return nil, fmt.Errorf("add intent: %w", err)
	}
	for _, c := range saved {
		if c.DNS == store.DNSForeign {
			done = append(done, c)
		} else {
			ready = append(ready, c)
		}
	}
	if len(ready) == 0 {
		return done, nil
	}
	e.faultAt(faultPublishIntent)
	res, err := e.write(ctx, b, zone, ready, true)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	e.faultAt(faultPublishWritten)
	now := time.Now()
	var partial *dnspublish.PartialError
	if !errors.As(err, &partial) {
		partial = nil
	}
	var out batch
	for _, c := range ready {
		out.add(c)
		switch {
		case partial != nil && partial.Failed[c.Record.Key()] != nil:
			e.retry(c, now, fmt.Sprintf("publish to %s (zone %s): %v", b.pub.Name(), zone, partial.Failed[c.Record.Key()]))
			continue
		case partial == nil && err != nil:
			e.retry(c, now, fmt.Sprintf("publish to %s (zone %s): %v", b.pub.Name(), zone, err))
			continue
		}
		c.DNS, c.Serial = store.DNSPresent, res.Serial
		advance(c, store.Published)
	}
	saved, err = e.commit(ctx, &out)
	if err == nil && len(saved) < len(ready) {
		e.reconcile(ctx, b, zone, ready, saved)
	}
	return append(done, saved...), err
}

// foreign returns the keys of rows' records whose value is already in the
// zone without any row of dcvd holding it: someone else put it there. Only
// backends that implement dnspublish.Prober can tell; for the others every
// value counts as dcvd's own. A value another row holds (adding or present)
// is dcvd's, whatever the zone says.
func (e *Engine) foreign(ctx context.Context, b *backend, zone string, rows []*store.Challenge) (map[string]bool, error) {
	pr, ok := b.pub.(dnspublish.Prober)
	if !ok || len(rows) == 0 {
		return nil, nil
	}
	recs := uniqueRecords(rows)
	keys := make([]string, len(recs))
	for i, r := range recs {
		keys[i] = r.Key()
	}
	ids := make([]int64, len(rows))
	for i, c := range rows {
		ids[i] = c.ID
	}
	held, err := e.st.Holders(ctx, keys, ids)
	if err != nil {
		return nil, fmt.Errorf("%w: holders: %w", errStore, err)
	}
	var ask []dnspublish.Record
	for _, r := range recs {
		if held[r.Key()] == 0 {
			ask = append(ask, r)
		}
	}
	if len(ask) == 0 {
		return nil, nil
	}
	if err := b.limit.Wait(ctx); err != nil {
		return nil, err
	}
	present, err := pr.Present(ctx, zone, ask)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for i, r := range ask {
		if i < len(present) && present[i] {
			out[r.Key()] = true
			e.log.Info("value already in the zone, not dcvd's: it is neither added nor removed", "record", r.String(), "backend", b.pub.Name())
		}
	}
	return out, nil
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
	republish := map[[2]string][]*store.Challenge{}
	for _, c := range rows {
		if c.Attempts > 0 && c.DNS != store.DNSForeign {
			k := [2]string{c.Backend, c.Zone}
			republish[k] = append(republish[k], c)
		}
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

// submit asks the CA to check each order's Visible rows (poll=false), or
// reads the verdict on Submitted rows (poll=true). orders holds the rows of
// one account, by order; they are handled one order after the other, within
// the account's rate limits, and saved together.
func (e *Engine) submit(ctx context.Context, a *account, orders [][]*store.Challenge, poll bool) ([]*store.Challenge, error) {
	var out batch
	var done []*store.Challenge
	var stop error
	for _, rows := range orders {
		order := rows[0].Order
		var (
			outs []providers.Outcome
			err  error
			verb = "submit"
		)
		start := time.Now()
		actx := WithAccount(ctx, a.name)
		if poll {
			verb = "poll"
			outs, err = a.Provider.Poll(actx, order, challenges(rows))
		} else {
			outs, err = a.Provider.Submit(actx, order, challenges(rows))
		}
		if poll {
			e.faultAt(faultPolled)
		} else {
			e.faultAt(faultSubmitted)
		}
		if o := e.cfg.Observer; o != nil && ctx.Err() == nil {
			o.CACall(ctx, CACall{Account: a.name, Order: order, Poll: poll, Rows: rows, Outcomes: outs, Err: err, Took: time.Since(start)})
		}
		if err != nil && ctx.Err() != nil {
			stop = ctx.Err()
			break
		}
		if err == nil && len(outs) != len(rows) {
			err = fmt.Errorf("%d outcomes for %d challenges", len(outs), len(rows))
		}
		now := time.Now()
		for i, c := range rows {
			out.add(c)
			if err != nil {
				e.retry(c, now, fmt.Sprintf("%s order %s: %v", verb, order, err))
				continue
			}
			e.apply(c, outs[i], now, poll)
		}
		if !poll {
			// A check request acts at the CA: its outcome is saved before
			// the next order's, so a process killed mid-batch does not ask
			// again for the orders it already submitted.
			saved, err := e.commit(ctx, &out)
			if err != nil {
				return done, err
			}
			done = append(done, saved...)
			out = batch{}
		}
	}
	saved, err := e.commit(ctx, &out)
	done = append(done, saved...)
	if err == nil {
		err = stop
	}
	return done, err
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
// or abandoned hook rows) from (b, zone): the remove intent is stored first,
// then the backend removes every value no other row still holds, then the
// rows are marked removed (Validated becomes Cleaned). Removal is retried
// forever: dcvd never leaves junk behind.
func (e *Engine) remove(ctx context.Context, b *backend, zone string, rows []*store.Challenge) ([]*store.Challenge, error) {
	var intent batch
	var ready []*store.Challenge
	for _, c := range rows {
		if c.DNS == store.DNSRemoving {
			ready = append(ready, c)
			continue
		}
		intent.add(c)
		c.DNS = store.DNSRemoving
	}
	saved, err := e.commit(ctx, &intent)
	if err != nil {
		return nil, fmt.Errorf("remove intent: %w", err)
	}
	ready = append(ready, saved...)
	if len(ready) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ready))
	ids := make([]int64, len(ready))
	for i, c := range ready {
		keys[i], ids[i] = c.Record.Key(), c.ID
	}
	held, err := e.st.Holders(ctx, keys, ids)
	if err != nil {
		return nil, fmt.Errorf("%w: holders: %w", errStore, err)
	}
	var drop []*store.Challenge
	for _, c := range ready {
		if held[c.Record.Key()] == 0 {
			drop = append(drop, c)
		}
	}
	e.faultAt(faultRemoveIntent)
	if len(drop) > 0 {
		_, err = e.write(ctx, b, zone, drop, false)
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	e.faultAt(faultRemoved)
	now := time.Now()
	var out batch
	for _, c := range ready {
		out.add(c)
		if err != nil {
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
