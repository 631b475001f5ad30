// Package observe turns what the pipeline does into the audit trail and the
// Prometheus metrics.
//
// A Recorder is the engine's scheduler.Observer: every DNS write and removal,
// every propagation check (with each server's answer) and every CA trigger
// and verdict becomes an append-only store.AuditEntry, tagged with who asked
// (daemon, run, hook). The same calls feed Metrics: writes by backend and
// result, the time from publish to visible and from visible to validated.
// Metrics also observes every CA HTTP exchange made through
// internal/apiclient (requests by account, endpoint and status, latency,
// 429s and Retry-After time) and reads the challenge counts and the oldest
// stuck challenge from the store at scrape time.
//
// Audit failures never stop the pipeline: they are logged and counted
// (dcvd_audit_errors_total).
package observe

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/scheduler"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/verify"
)

// Recorder is a scheduler.Observer writing the audit trail and metrics.
type Recorder struct {
	st      store.Auditor
	actor   string
	metrics *Metrics // may be nil
	log     *slog.Logger

	mu        sync.Mutex
	published map[int64]time.Time // row ID → when its record was published
	visible   map[int64]time.Time // row ID → when it became visible
}

var _ scheduler.Observer = (*Recorder)(nil)

// NewRecorder returns a Recorder writing to st as actor ("daemon", "run",
// "hook"). m may be nil (no metrics).
func NewRecorder(st store.Auditor, actor string, m *Metrics, log *slog.Logger) *Recorder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Recorder{st: st, actor: actor, metrics: m, log: log,
		published: map[int64]time.Time{}, visible: map[int64]time.Time{}}
}

func (r *Recorder) append(ctx context.Context, entries []store.AuditEntry) {
	if len(entries) == 0 {
		return
	}
	if b := store.AuditBufferFrom(ctx); b != nil {
		b.Add(r.write, entries) // the step appends them with its others
		return
	}
	r.write(ctx, entries)
}

// write appends entries to the audit trail.
func (r *Recorder) write(ctx context.Context, entries []store.AuditEntry) {
	// A side effect that happened is recorded even when the run is ending.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.st.AppendAudit(ctx, entries); err != nil {
		r.log.Warn("writing the audit trail failed", "entries", len(entries), "err", err)
		if r.metrics != nil {
			r.metrics.auditErrors.Inc()
		}
	}
}

type actorKey struct{}

// WithActor returns ctx naming who asked for the engine calls made with it
// (the acme-dns API: "acmedns"); it overrides the Recorder's actor.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

func (r *Recorder) actorOf(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return r.actor
}

// entry starts an audit entry about row c.
func (r *Recorder) entry(ctx context.Context, kind string, c *store.Challenge) store.AuditEntry {
	return store.AuditEntry{Kind: kind, Actor: r.actorOf(ctx), Challenge: c.ID, Account: c.Account, Order: c.Order,
		Name: c.Record.FQDN, Type: string(c.Record.Type), Value: c.Record.Value, Backend: c.Backend, Zone: c.Zone}
}

// DNSWrite records one backend Add or Remove: one entry per row.
func (r *Recorder) DNSWrite(ctx context.Context, w scheduler.DNSWrite) {
	kind, result, detail := store.AuditAdd, "ok", ""
	if w.Remove {
		kind = store.AuditRemove
	}
	if w.Err != nil {
		result, detail = "error", w.Err.Error()
		if errors.Is(w.Err, context.Canceled) {
			result = "canceled"
		}
	}
	if r.metrics != nil {
		r.metrics.dnsWrite(w.Backend, kind, result, w.Took)
	}
	entries := make([]store.AuditEntry, 0, len(w.Rows))
	for _, c := range w.Rows {
		e := r.entry(ctx, kind, c)
		e.Backend, e.Zone, e.Result, e.Detail, e.Took = w.Backend, w.Zone, result, detail, w.Took
		if !w.Remove {
			e.Serial = w.Serial
		}
		entries = append(entries, e)
	}
	r.append(ctx, entries)
}

// Verified records each row's propagation check with every server's answer.
func (r *Recorder) Verified(ctx context.Context, rows []*store.Challenge, reports []*verify.Report) {
	entries := make([]store.AuditEntry, 0, len(rows))
	for i, c := range rows {
		if i >= len(reports) || reports[i] == nil {
			continue
		}
		rep := reports[i]
		e := r.entry(ctx, store.AuditVerify, c)
		e.Result, e.Detail, e.Took = "not-visible", rep.Summary(), rep.Elapsed
		if rep.Visible {
			e.Result = "visible"
		}
		e.Evidence = Evidence(rep)
		entries = append(entries, e)
	}
	r.append(ctx, entries)
}

// Evidence converts a report's per-server answers (authoritative, then
// recursive) to audit evidence.
func Evidence(rep *verify.Report) []store.Evidence {
	var out []store.Evidence
	for _, list := range [][]verify.ServerResult{rep.Servers, rep.Recursive} {
		for _, s := range list {
			out = append(out, store.Evidence{Server: s.Name(), Addr: s.Addr, Status: string(s.Status), Rcode: s.Rcode,
				Answer: s.Answer, Serial: s.Serial, RTT: s.RTT, Error: s.Error})
		}
	}
	return out
}

// CACall records a trigger (every Submit) or a verdict (a Poll whose outcome
// is not Pending, or that failed). Pending polls are only counted.
func (r *Recorder) CACall(ctx context.Context, call scheduler.CACall) {
	kind := store.AuditSubmit
	if call.Poll {
		kind = store.AuditPoll
	}
	if r.metrics != nil {
		r.metrics.caCall(call)
	}
	entries := make([]store.AuditEntry, 0, len(call.Rows))
	for i, c := range call.Rows {
		e := r.entry(ctx, kind, c)
		e.Took = call.Took
		switch {
		case call.Err != nil:
			e.Result, e.Detail = "error", call.Err.Error()
		case i < len(call.Outcomes):
			o := call.Outcomes[i]
			if call.Poll && o.Status == providers.Pending {
				continue
			}
			e.Result, e.Detail = o.Status.String(), o.Reason
		default:
			continue
		}
		entries = append(entries, e)
	}
	r.append(ctx, entries)
}

// Changed times the pipeline: publish → visible → validated.
func (r *Recorder) Changed(c *store.Challenge, from store.State, fromDNS store.DNSState) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch c.State {
	case store.Published:
		if from != store.Published {
			r.published[c.ID] = now
		}
	case store.Visible:
		if t, ok := r.published[c.ID]; ok && from == store.Published {
			delete(r.published, c.ID)
			if r.metrics != nil {
				r.metrics.publishToVisible.Observe(now.Sub(t).Seconds())
			}
		}
		if _, ok := r.visible[c.ID]; !ok {
			r.visible[c.ID] = now
		}
	case store.Validated:
		if t, ok := r.visible[c.ID]; ok {
			delete(r.visible, c.ID)
			if r.metrics != nil {
				r.metrics.visibleToValidated.Observe(now.Sub(t).Seconds())
			}
		}
	}
	if c.State.Terminal() {
		delete(r.published, c.ID)
		if c.State != store.Validated {
			delete(r.visible, c.ID)
		}
	}
}

// Prune deletes audit entries older than retention now and then every
// interval until ctx ends (the daemon runs it).
func Prune(ctx context.Context, st store.Auditor, retention, interval time.Duration, log *slog.Logger) {
	for {
		if n, err := st.PruneAudit(ctx, time.Now().Add(-retention)); err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("pruning the audit trail failed", "err", err)
		} else if n > 0 {
			log.Info("pruned the audit trail", "entries", n, "older_than", retention)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
