package scheduler

import (
	"context"
	"fmt"
	"sort"

	"github.com/robfig/cron/v3"

	"github.com/dcvd/dcvd/store"
)

// RunOnce is one pass (`dcvd run`): discover every account, then drive every
// row as far as it goes. It returns when every row it touched is finished
// (cleaned, or failed/expired with its record removed), or can only move
// after more than Linger (waiting on the CA, backing off after an error), or
// ctx ends. Rows left over stay in the store for the next run or the daemon.
//
// The error is non-nil only when the store could not be read; a run cut
// short by ctx is reported by Summary.Interrupted.
func (e *Engine) RunOnce(ctx context.Context) (Summary, error) {
	d := newDriver(e, true)
	var errs []string
	var refused []store.Challenge
	// Discovery runs next to the pipeline: each stored batch wakes the
	// loop, which starts on it while the rest is still being read, and
	// does not end while discovery is running.
	wake := make(chan struct{}, 1)
	signal := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	discovered := make(chan struct{})
	d.discovering.Store(true)
	go func() {
		defer close(discovered)
		defer signal()
		defer d.discovering.Store(false)
		dctx := withStoredHook(ctx, signal)
		for _, a := range e.order {
			_, r, err := e.discover(dctx, a)
			refused = append(refused, r...)
			if err != nil {
				errs = append(errs, err.Error())
			}
		}
		if states, err := e.PersistPass(ctx); err != nil { // persist.go
			errs = append(errs, err.Error())
		} else {
			errs = append(errs, persistErrors(states)...)
		}
	}()
	d.loop(ctx, wake)
	<-discovered
	rows := make([]store.Challenge, 0, len(d.seen)+len(refused))
	for _, c := range d.seen {
		rows = append(rows, e.current(ctx, *c))
	}
	rows = append(rows, refused...)
	sum := summarize(rows, errs)
	sum.ByState[store.Cleaned] += len(d.cleaned)
	sum.Total += len(d.cleaned)
	sum.Interrupted = ctx.Err() != nil
	if d.storeErr != nil {
		return sum, fmt.Errorf("scheduler: %w", d.storeErr)
	}
	return sum, nil
}

// Run is the daemon: it discovers every account once at start and then on
// its cron schedule, and drives rows continuously until ctx ends. A
// discovery that is still running when its next tick comes is not doubled.
func (e *Engine) Run(ctx context.Context) error {
	e.daemon.Store(true)
	d := newDriver(e, false)
	wake := make(chan struct{}, 1)
	signal := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	c := cron.New()
	for _, a := range e.order {
		if _, err := c.AddFunc(a.Schedule, func() {
			if !a.mu.TryLock() {
				e.log.Warn("discovery still running; tick skipped", "account", a.name)
				return
			}
			a.mu.Unlock()
			if n, _, err := e.discover(ctx, a); err == nil && n > 0 {
				signal()
			}
		}); err != nil {
			return fmt.Errorf("scheduler: account %q: schedule %q: %w", a.name, a.Schedule, err)
		}
	}
	c.Start()
	defer func() { <-c.Stop().Done() }()
	go e.runPersist(ctx) // persist.go
	go func() {
		for _, a := range e.order {
			if n, _, err := e.discover(ctx, a); err == nil && n > 0 {
				signal()
			}
		}
	}()
	d.loop(ctx, wake)
	return nil
}

// current returns a touched row as the store holds it now. Another process
// sharing the state (a second `dcvd run`, the daemon, a hook) may have moved
// it on since this run last saw it, or this run's save of it may have lost
// a conflict: the summary and the exit code report where the row really is,
// not a stale copy. A row already finished for good is not re-read.
func (e *Engine) current(ctx context.Context, c store.Challenge) store.Challenge {
	if c.State.Terminal() && !c.DNS.Owned() && c.State != store.Validated {
		return c
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if now, err := e.st.Get(ctx, c.ID); err == nil {
		return now
	}
	return c
}

// Summary is the outcome of RunOnce over the rows it touched.
type Summary struct {
	// ByState counts rows by their final state.
	ByState map[store.State]int
	// Total is the number of rows touched.
	Total int
	// Failed lists failed and expired rows, each with its Reason.
	Failed []store.Challenge
	// Pending lists rows still in the pipeline: waiting on the CA
	// (submitted, or told "not visible yet"), backing off after an error
	// (Reason says which), or not reached before ctx ended.
	Pending []store.Challenge
	// Leftover lists finished rows whose record could not be removed yet.
	Leftover []store.Challenge
	// Errors are account-level failures (discovery).
	Errors []string
	// Interrupted is set when ctx ended the run.
	Interrupted bool
}

func summarize(rows []store.Challenge, errs []string) Summary {
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	s := Summary{ByState: map[store.State]int{}, Total: len(rows), Errors: errs}
	for _, c := range rows {
		s.ByState[c.State]++
		switch {
		case c.State.Terminal() && c.DNS.Owned():
			s.Leftover = append(s.Leftover, c)
			if c.State == store.Failed || c.State == store.Expired {
				s.Failed = append(s.Failed, c)
			}
		case c.State == store.Failed || c.State == store.Expired:
			s.Failed = append(s.Failed, c)
		case !c.State.Terminal():
			s.Pending = append(s.Pending, c)
		}
	}
	return s
}

// WaitingOnCA counts pending rows whose next step is the CA's.
func (s Summary) WaitingOnCA() int {
	n := 0
	for _, c := range s.Pending {
		if c.State == store.Submitted || c.State == store.Triggering || c.State == store.Visible {
			n++
		}
	}
	return n
}

// ExitCode maps the summary to `dcvd run`'s exit status: 1 when anything
// failed (a failed or expired row, a record left in a zone, a discovery
// error, or a row backing off after a DNS or verification error), 3 when
// rows are still pending (waiting on the CA, or the run ended first),
// 0 when everything is done or there was nothing to do.
func (s Summary) ExitCode() int {
	if len(s.Failed) > 0 || len(s.Leftover) > 0 || len(s.Errors) > 0 {
		return 1
	}
	for _, c := range s.Pending {
		if c.Attempts > 0 && (c.State == store.Discovered || c.State == store.Published) {
			return 1
		}
	}
	if len(s.Pending) > 0 {
		return 3
	}
	return 0
}

// String is one line: "12 challenges: 10 cleaned, 1 failed, 1 submitted".
func (s Summary) String() string {
	if s.Total == 0 {
		out := "no challenges"
		if len(s.Errors) > 0 {
			out += fmt.Sprintf(" (%d account errors)", len(s.Errors))
		}
		return out
	}
	out := fmt.Sprintf("%d challenges:", s.Total)
	sep := " "
	for _, st := range []store.State{store.Cleaned, store.Validated, store.Failed, store.Expired,
		store.Submitted, store.Triggering, store.Visible, store.Published, store.Discovered} {
		if n := s.ByState[st]; n > 0 {
			out += fmt.Sprintf("%s%d %s", sep, n, st)
			sep = ", "
		}
	}
	if len(s.Leftover) > 0 {
		out += fmt.Sprintf("; %d records not removed yet", len(s.Leftover))
	}
	if len(s.Errors) > 0 {
		out += fmt.Sprintf("; %d account errors", len(s.Errors))
	}
	if s.Interrupted {
		out += " (interrupted)"
	}
	return out
}
