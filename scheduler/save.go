package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dcvd/dcvd/store"
)

// batch collects the rows one step changes so they are saved in one store
// transaction and logged once each. Call add before mutating a row.
type batch struct {
	rows []*store.Challenge
	prev []snap
}

type snap struct {
	state store.State
	dns   store.DNSState
}

func (b *batch) add(c *store.Challenge) {
	b.rows = append(b.rows, c)
	b.prev = append(b.prev, snap{c.State, c.DNS})
}

func (b *batch) len() int { return len(b.rows) }

// errStore marks a step error that comes from the store itself (a save
// that failed for another reason than a conflict): the driver stops a run,
// and pauses the daemon, instead of repeating the step at once.
var errStore = errors.New("store")

// saveTimeout bounds a save that must survive the caller's cancellation: a
// step whose side effect happened records it even when the run is ending.
const saveTimeout = 30 * time.Second

// commit saves b in one transaction, extending this engine's leases on the
// rows (store.Store.SaveHeld: a save is also a renewal). When another process changed one of
// the rows (store.ErrConflict), the rows are saved one by one and the
// conflicting ones are dropped: the other process's state wins and the row
// is re-read later. It returns the rows that were saved.
func (e *Engine) commit(ctx context.Context, b *batch) ([]*store.Challenge, error) {
	if b.len() == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	err := e.st.SaveHeld(ctx, b.rows, e.cfg.Owner, e.cfg.Lease)
	if err == nil {
		e.logChanges(b.rows, b.prev)
		return b.rows, nil
	}
	if !errors.Is(err, store.ErrConflict) {
		e.log.Error("saving state failed", "rows", b.len(), "err", err)
		return nil, fmt.Errorf("%w: %w", errStore, err)
	}
	var saved []*store.Challenge
	var prev []snap
	for i, c := range b.rows {
		err := e.st.SaveHeld(ctx, []*store.Challenge{c}, e.cfg.Owner, e.cfg.Lease)
		switch {
		case err == nil:
			saved = append(saved, c)
			prev = append(prev, b.prev[i])
		case errors.Is(err, store.ErrConflict):
			e.log.Debug("row changed by another process; skipped", "id", c.ID, "account", c.Account, "name", c.Name)
		default:
			e.log.Error("saving state failed", "id", c.ID, "err", err)
		}
	}
	e.logChanges(saved, prev)
	return saved, nil
}

// logChanges writes one line per row whose state or DNS state changed and
// tells OnChange.
func (e *Engine) logChanges(rows []*store.Challenge, prev []snap) {
	for i, c := range rows {
		p := prev[i]
		if p.state == c.State && p.dns == c.DNS && e.cfg.OnChange == nil {
			continue
		}
		if p.state != c.State || p.dns != c.DNS {
			level := slog.LevelInfo
			if c.State == store.Failed || c.State == store.Expired {
				level = slog.LevelWarn
			} else if p.state == c.State || c.State == store.Triggering {
				level = slog.LevelDebug // DNS bookkeeping, or a check's intent (its outcome follows)
			}
			if e.log.Enabled(context.Background(), level) {
				attrs := []any{"account", c.Account, "order", c.Order, "name", c.Name,
					"record", c.Record.String(), "from", string(p.state), "to", string(c.State)}
				if p.dns != c.DNS {
					attrs = append(attrs, "dns_from", string(p.dns), "dns_to", string(c.DNS))
				}
				if c.Reason != "" {
					attrs = append(attrs, "reason", c.Reason, "attempts", c.Attempts)
				}
				if !c.NextAt.IsZero() && c.NextAt.After(time.Now()) {
					attrs = append(attrs, "retry_at", c.NextAt.Format(time.RFC3339))
				}
				e.log.Log(context.Background(), level, "challenge", attrs...)
			}
		}
		if o := e.cfg.Observer; o != nil && (p.state != c.State || p.dns != c.DNS) {
			o.Changed(c, p.state, p.dns)
		}
		if e.cfg.OnChange != nil {
			e.changeMu.Lock()
			e.cfg.OnChange(*c)
			e.changeMu.Unlock()
		}
	}
}

// retry records a failed try of the current step: Attempts+1, the reason,
// and NextAt after a jittered backoff. Past MaxAttempts, when the step's
// retry policy gives up (transitions.go), the row fails with the reason.
func (e *Engine) retry(c *store.Challenge, now time.Time, reason string) {
	c.Attempts++
	c.Reason = reason
	if givesUp(c.State) && c.Attempts >= e.cfg.MaxAttempts {
		c.State = store.Failed
		c.NextAt = time.Time{}
		return
	}
	c.NextAt = now.Add(e.retryDelay(c.State, c.Attempts, false))
}

// advance moves a row to its next state with a clean slate.
func advance(c *store.Challenge, to store.State) {
	c.State = to
	c.Attempts = 0
	c.Reason = ""
	c.NextAt = time.Time{}
}

// fail ends a row with a reason.
func fail(c *store.Challenge, to store.State, reason string) {
	c.State = to
	c.Reason = reason
	c.NextAt = time.Time{}
}
