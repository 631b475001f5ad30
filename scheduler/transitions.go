package scheduler

import (
	"time"

	"github.com/dcvd/dcvd/internal/backoff"
	"github.com/dcvd/dcvd/store"
)

// The pipeline, one row per state that has work: the step the driver runs
// for a row in that state, the states the step moves it to, and how the
// step is tried again when it did not move the row. Read top-down, it is
// the diagram in doc.go (a test holds the two together).
//
// Two exits apply to every active row and are not repeated below: a row
// whose CA value expired becomes Expired, and a row whose CA answered
// "failed" (or whose step gave up, see retryUpTo) becomes Failed. A Failed
// or Expired row still holding a record has it removed (the last two rows),
// and is done once DNS is clean; a Validated row whose record is already
// gone becomes Cleaned without a side effect.
//
// Submit stores its intent first: the order's rows are saved as Triggering
// (after renewing their leases, fenced by Version) before the CA is asked,
// and the CA's answer moves them on in the same step. A row the driver
// reads from the store in Triggering was left by a process that died or
// lost its lease between the two saves (or by a CA call that failed without
// saying whether it acted): its check is in doubt, and confirm reads the
// CA's state instead of asking again. Validated (or failed) settles it;
// anything else counts the in-doubt check as a spent attempt, and the row
// goes back to Visible, to be submitted again after the usual backoff.
var transitions = []transition{
	// state              step         next states                               retry
	{store.Discovered, stepPublish, []store.State{store.Published}, retryUpTo},
	{store.Published, stepVerify, []store.State{store.Visible}, retryUpTo},
	{store.Visible, stepSubmit, []store.State{store.Triggering, store.Submitted, store.Validated}, retryUpTo},
	{store.Triggering, stepConfirm, []store.State{store.Validated, store.Submitted, store.Visible}, retryUpTo},
	{store.Submitted, stepPoll, []store.State{store.Validated, store.Visible}, pollUntilExpiry},
	{store.Validated, stepRemove, []store.State{store.Cleaned}, retryAlways},
	{store.Failed, stepRemove, []store.State{store.Failed}, retryAlways},
	{store.Expired, stepRemove, []store.State{store.Expired}, retryAlways},
}

// transition is one row of the table.
type transition struct {
	From  store.State
	Step  step
	To    []store.State
	Retry retryPolicy
}

// step is the work that moves a row on.
type step string

const (
	stepPublish step = "publish" // Add the record at its backend (one call per backend and zone)
	stepVerify  step = "verify"  // every authoritative server serves it
	stepSubmit  step = "submit"  // ask the CA to check (one call per order)
	stepConfirm step = "confirm" // read the CA's state after a check in doubt (never sends one)
	stepPoll    step = "poll"    // read the CA's verdict
	stepRemove  step = "remove"  // Remove the record (when no other row holds it)
)

// retryPolicy is how a step that did not move its row is tried again.
type retryPolicy int

const (
	// retryUpTo: after RetryMin, doubling up to RetryMax, with jitter;
	// after MaxAttempts tries the row fails with the last reason.
	retryUpTo retryPolicy = iota + 1
	// retryAlways: the same backoff, never giving up (dcvd leaves no junk
	// in zones, and a poll error says nothing about the challenge).
	retryAlways
	// pollUntilExpiry: while the CA says pending, poll after PollMin,
	// doubling up to PollMax, until the CA's value expires (then the row
	// is Expired); a failed poll is retried as retryAlways.
	pollUntilExpiry
)

func (p retryPolicy) String() string {
	switch p {
	case retryUpTo:
		return "backoff, fail after MaxAttempts"
	case retryAlways:
		return "backoff, never give up"
	case pollUntilExpiry:
		return "poll until the value expires"
	}
	return "?"
}

// transitionFrom returns the table row for a row in state s.
func transitionFrom(s store.State) (transition, bool) {
	for _, t := range transitions {
		if t.From == s {
			return t, true
		}
	}
	return transition{}, false
}

// stepFor is the step the driver runs for c now, or "" when c needs no
// side effect (a Validated row whose record is gone, or a finished one).
func stepFor(c *store.Challenge) step {
	t, ok := transitionFrom(c.State)
	if !ok || (t.Step == stepRemove && !c.DNS.Owned()) {
		return ""
	}
	return t.Step
}

// retryDelay is when a row in state s tries its step again after attempts
// failed tries: RetryMin..RetryMax, or PollMin..PollMax while polling a
// pending verdict (pending).
func (e *Engine) retryDelay(s store.State, attempts int, pending bool) time.Duration {
	p := backoff.Policy{Min: e.cfg.RetryMin, Max: e.cfg.RetryMax}
	if t, _ := transitionFrom(s); pending && t.Retry == pollUntilExpiry {
		p = backoff.Policy{Min: e.cfg.PollMin, Max: e.cfg.PollMax}
	}
	return p.Delay(attempts - 1)
}

// givesUp reports whether a row in state s fails after MaxAttempts tries.
func givesUp(s store.State) bool {
	t, _ := transitionFrom(s)
	return t.Retry == retryUpTo
}
