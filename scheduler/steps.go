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
//
// The batch is claimed as a unit: just before the intent is saved, the
// leases of its rows are renewed (held) and the rows another process took
// over are left out; the intent save checks every row's fencing token
// (Version), also of rows whose intent was stored before (saved unchanged),
// and only the rows it saved are sent to the backend.
func (e *Engine) publish(ctx context.Context, b *backend, zone string, rows []*store.Challenge) ([]*store.Challenge, error) {
	var intent batch
	var again, fresh, done []*store.Challenge
	for _, c := range rows {
		if c.DNS == store.DNSAdding || c.DNS == store.DNSPresent {
			again = append(again, c) // intent already stored (retry, or resuming after a crash)
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
	unit, err := e.held(ctx, "publish", append(again, fresh...))
	if err != nil {
		return done, err
	}
	for _, c := range unit {
		intent.add(c)
		if c.DNS == store.DNSAdding || c.DNS == store.DNSPresent {
			continue // saved as it is: the save checks its fence
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
	saved, err := e.commit(ctx, &intent)
	if err != nil {
		return nil, fmt.Errorf("add intent: %w", err)
	}
	var ready []*store.Challenge
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
	var again []*store.Challenge
	for _, c := range rows {
		if c.Attempts > 0 && c.DNS != store.DNSForeign {
			again = append(again, c)
		}
	}
	// Only rows still leased here are written again, claimed as a unit
	// like publish's batch: leases renewed, then the rows saved unchanged
	// (their add intent is their DNS state) so that the save checks
	// their fence.
	again, err := e.held(ctx, "verify", again)
	if err != nil {
		return nil, err
	}
	var fence batch
	for _, c := range again {
		fence.add(c)
	}
	if again, err = e.commit(ctx, &fence); err != nil {
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
	var (
		out     batch // outcomes not saved yet
		done    []*store.Challenge
		stop    error
		renewed time.Time
		kept    map[*store.Challenge]bool
	)
	for n, rows := range orders {
		order := rows[0].Order
		if how == caSubmit {
			// The leases of the rows still to check are renewed before
			// the first check and again whenever a tenth of the Lease has
			// passed: every check goes out with 90% of its lease ahead.
			if time.Since(renewed) > e.cfg.Lease/10 {
				var rest []*store.Challenge
				for _, o := range orders[n:] {
					rest = append(rest, o...)
				}
				held, err := e.held(ctx, "check", rest)
				if err != nil {
					saved, _ := e.commit(ctx, &out)
					return append(done, saved...), err
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
			rows = mine
			answered := out.len()
			for _, c := range rows {
				out.add(c)
				c.State, c.NextAt = store.Triggering, time.Time{}
				c.Reason = fmt.Sprintf("asking the CA to check (attempt %d)", c.Attempts+1)
			}
			saved, err := e.commit(ctx, &out)
			if err != nil {
				return done, err
			}
			// The rows saved: the previous order's outcomes, then this
			// order's intents (a row taken over meanwhile is not sent).
			intent := map[*store.Challenge]bool{}
			for _, c := range out.rows[answered:] {
				intent[c] = true
			}
			var send []*store.Challenge
			for _, c := range saved {
				if intent[c] {
					send = append(send, c)
				} else {
					done = append(done, c)
				}
			}
			out = batch{}
			if len(send) == 0 {
				continue
			}
			rows = send
		}
		var (
			outs []providers.Outcome
			err  error
		)
		start := time.Now()
		actx := WithAccount(ctx, a.name)
		if how == caSubmit {
			outs, err = a.Provider.Submit(actx, order, challenges(rows))
			e.faultAt(faultSubmitted)
		} else {
			outs, err = a.Provider.Poll(actx, order, challenges(rows))
			e.faultAt(faultPolled)
		}
		if o := e.cfg.Observer; o != nil && ctx.Err() == nil {
			o.CACall(ctx, CACall{Account: a.name, Order: order, Poll: how != caSubmit, Rows: rows, Outcomes: outs, Err: err, Took: time.Since(start)})
		}
		if err != nil && ctx.Err() != nil {
			stop = ctx.Err() // a check cut short stays Triggering: in doubt
			break
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
	saved, err := e.commit(ctx, &out)
	done = append(done, saved...)
	if err == nil {
		err = stop
	}
	return done, err
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
// or abandoned hook rows) from (b, zone): the remove intent is stored first,
// then the backend removes every value no other row still holds, then the
// rows are marked removed (Validated becomes Cleaned). Removal is retried
// forever: dcvd never leaves junk behind. Like publish's, the batch is
// claimed as a unit: leases renewed just before the intent is saved, every
// row's fence checked by that save (rows already removing are saved
// unchanged), and only the saved rows go to the backend.
func (e *Engine) remove(ctx context.Context, b *backend, zone string, rows []*store.Challenge) ([]*store.Challenge, error) {
	rows, err := e.held(ctx, "remove", rows)
	if err != nil {
		return nil, err
	}
	var intent batch
	for _, c := range rows {
		intent.add(c)
		c.DNS = store.DNSRemoving
	}
	ready, err := e.commit(ctx, &intent)
	if err != nil {
		return nil, fmt.Errorf("remove intent: %w", err)
	}
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
