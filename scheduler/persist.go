package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/persist"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/verify"
)

// Persistent DCV records (issue 13, package persist). Each pass checks every
// configured [[persist]] value on every authoritative server of its zone:
//
//   - served everywhere: "present";
//   - missing anywhere (never published, deleted, or edited by hand): the
//     value is added again through the backend that serves the zone (the
//     store remembers it first, intent before side effect) and waited for:
//     "created" the first time, "repaired" after drift. A value someone
//     else put next to it is left alone: dcvd only adds its own;
//   - a value dcvd published that is no longer configured (the entry was
//     removed, or its value changed): exactly that value is removed and
//     forgotten; other values of the RRset stay.
//
// `dcvd run` does one pass; the daemon one every PersistEvery.

// PersistState is the outcome of one pass for one value.
type PersistState struct {
	Domain  string
	FQDN    string
	Value   string
	Backend string
	// State: "present", "created", "repaired", "removed" or "failed".
	State  string
	Detail string // for "failed": why; otherwise the check's summary
}

// PersistPass checks, repairs and removes the persistent records once. It
// returns one state per configured value and per removed one; an error
// only when the store cannot be read. Failures are in the states.
func (e *Engine) PersistPass(ctx context.Context) ([]PersistState, error) {
	ds, ok := e.st.(store.DomainStore)
	if !ok {
		if len(e.cfg.Persist) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("persist: the state store %T cannot remember persistent records", e.st)
	}
	known, err := ds.PersistRecords(ctx)
	if err != nil {
		return nil, fmt.Errorf("persist: %w", err)
	}
	had := map[[2]string]store.PersistRecord{}
	for _, r := range known {
		had[[2]string{r.Domain, r.Value}] = r
	}
	want := map[[2]string]bool{}
	var out []PersistState
	for _, ent := range e.cfg.Persist {
		st := e.keepPersist(ctx, ds, ent, had)
		want[[2]string{ent.Domain, st.Value}] = true
		out = append(out, st)
	}
	for _, r := range known {
		if want[[2]string{r.Domain, r.Value}] {
			continue
		}
		out = append(out, e.dropPersist(ctx, ds, r))
	}
	for _, s := range out {
		if s.State == "failed" {
			e.log.Warn("persistent DCV record", "domain", s.Domain, "name", s.FQDN, "state", s.State, "backend", s.Backend, "detail", s.Detail)
		} else {
			e.log.Info("persistent DCV record", "domain", s.Domain, "name", s.FQDN, "state", s.State, "backend", s.Backend)
		}
	}
	return out, nil
}

// keepPersist makes one configured value present on every server.
func (e *Engine) keepPersist(ctx context.Context, ds store.DomainStore, ent persist.Entry, had map[[2]string]store.PersistRecord) PersistState {
	rec := dnspublish.Record{FQDN: ent.FQDN(), Type: dnspublish.TXT, Value: ent.Value()}
	st := PersistState{Domain: ent.Domain, FQDN: rec.FQDN, Value: rec.Value}
	fail := func(format string, a ...any) PersistState {
		st.State, st.Detail = "failed", fmt.Sprintf(format, a...)
		return st
	}
	rec, err := rec.Normalize()
	if err != nil {
		return fail("%v", err)
	}
	pub, zone, err := e.router.Route(rec.FQDN)
	if err != nil {
		return fail("%v", err)
	}
	st.Backend = pub.Name()
	q := verify.Query{Name: rec.FQDN, Type: dnspublish.TXT, Value: rec.Value}
	prev, known := had[[2]string{ent.Domain, rec.Value}]
	row := store.PersistRecord{Domain: ent.Domain, FQDN: rec.FQDN, Value: rec.Value, Backend: pub.Name(), Zone: zone, Created: prev.Created}
	if rep, err := e.cfg.Checker.Check(ctx, q); err == nil && rep.Visible {
		st.State, st.Detail = "present", rep.Summary()
		row.State, row.Checked = st.State, time.Now()
		if err := ds.PutPersist(ctx, row); err != nil {
			return fail("remember: %v", err)
		}
		return st
	}
	// Intent first: a crash after the write still knows the value is ours.
	row.State, row.Checked = "adding", time.Now()
	if err := ds.PutPersist(ctx, row); err != nil {
		return fail("remember before adding: %v", err)
	}
	if b := e.backends[pub.Name()]; b != nil && b.limit != nil {
		if err := b.limit.Wait(ctx); err != nil {
			return fail("%v", err)
		}
	}
	start := time.Now()
	res, err := pub.Add(ctx, zone, []dnspublish.Record{rec})
	e.persistWrote(ctx, ent.Domain, pub.Name(), zone, rec, false, res.Serial, err, start)
	if err != nil {
		return fail("add through %s: %v", pub.Name(), err)
	}
	q.MinSerial = res.Serial
	rep, err := e.cfg.Checker.Wait(ctx, q)
	switch {
	case err != nil:
		return fail("added through %s, not seen on every server: %v", pub.Name(), err)
	case !rep.Visible:
		return fail("added through %s, not seen on every server: %s", pub.Name(), rep.Summary())
	}
	st.State, st.Detail = "created", rep.Summary()
	if known && prev.State != "adding" {
		st.State = "repaired"
	}
	row.State, row.Checked = st.State, time.Now()
	if err := ds.PutPersist(ctx, row); err != nil {
		return fail("remember: %v", err)
	}
	return st
}

// dropPersist removes exactly one value dcvd published and forgets it.
func (e *Engine) dropPersist(ctx context.Context, ds store.DomainStore, r store.PersistRecord) PersistState {
	st := PersistState{Domain: r.Domain, FQDN: r.FQDN, Value: r.Value, Backend: r.Backend}
	b, ok := e.backends[r.Backend]
	if !ok {
		st.State, st.Detail = "failed", fmt.Sprintf("DNS backend %q that holds it is no longer configured; remove %s TXT %q by hand", r.Backend, r.FQDN, r.Value)
		return st
	}
	if b.limit != nil {
		if err := b.limit.Wait(ctx); err != nil {
			st.State, st.Detail = "failed", err.Error()
			return st
		}
	}
	rec := dnspublish.Record{FQDN: r.FQDN, Type: dnspublish.TXT, Value: r.Value}
	start := time.Now()
	_, err := b.pub.Remove(ctx, r.Zone, []dnspublish.Record{rec})
	e.persistWrote(ctx, r.Domain, r.Backend, r.Zone, rec, true, 0, err, start)
	if err != nil {
		st.State, st.Detail = "failed", fmt.Sprintf("remove through %s: %v", r.Backend, err)
		return st
	}
	if err := ds.DeletePersist(ctx, r.Domain, r.Value); err != nil {
		st.State, st.Detail = "failed", fmt.Sprintf("removed, but not forgotten: %v", err)
		return st
	}
	st.State = "removed"
	return st
}

// PersistOrder is the Order of the audit entries of a persistent record's
// writes: "persist:<domain>" (the entries have no challenge row).
func PersistOrder(domain string) string { return "persist:" + domain }

// persistWrote tells the observer about one Add or Remove of a persistent
// record, like the pipeline's writes, so the audit trail holds it (who =
// the run or the daemon; Order "persist:<domain>", no challenge).
func (e *Engine) persistWrote(ctx context.Context, domain, backend, zone string, rec dnspublish.Record, remove bool, serial uint32, err error, start time.Time) {
	o := e.cfg.Observer
	if o == nil {
		return
	}
	row := &store.Challenge{Order: PersistOrder(domain), Name: domain, Record: rec, Backend: backend, Zone: zone}
	o.DNSWrite(ctx, DNSWrite{Backend: backend, Zone: zone, Remove: remove, Rows: []*store.Challenge{row},
		Records: []dnspublish.Record{rec}, Serial: serial, Err: err, Took: time.Since(start)})
}

// persistErrors turns failed states into Summary errors.
func persistErrors(states []PersistState) []string {
	var errs []string
	for _, s := range states {
		if s.State == "failed" {
			errs = append(errs, fmt.Sprintf("persist %s: %s", s.FQDN, s.Detail))
		}
	}
	return errs
}

// runPersist runs a pass every PersistEvery until ctx ends (the daemon).
func (e *Engine) runPersist(ctx context.Context) {
	if len(e.cfg.Persist) == 0 {
		if ds, ok := e.st.(store.DomainStore); !ok {
			return
		} else if recs, err := ds.PersistRecords(ctx); err != nil || len(recs) == 0 {
			return // nothing configured and nothing to remove
		}
	}
	t := time.NewTicker(e.cfg.PersistEvery)
	defer t.Stop()
	for {
		if _, err := e.PersistPass(ctx); err != nil {
			e.log.Error("persistent DCV records not checked", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
