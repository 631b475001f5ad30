package scheduler

import (
	"context"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/verify"
)

// verifier checks that rows' records are served; verify.Checker in
// production. One call covers a batch and returns one verdict per row.
type verifier interface {
	verifyAll(ctx context.Context, rows []*store.Challenge) ([]verdict, error)
}

type verdict struct {
	visible bool
	detail  string // one line: why not (or how) visible
	report  *verify.Report
	// forbidden is the CAA reason when the CA may not issue for the name:
	// the row fails without asking the CA.
	forbidden string
}

// checkerVerifier is the production verifier: verify.Checker.WaitAll, then
// for visible rows of an account with issuer domains the RFC 8659 CAA
// check of each certificate name the row's record validates
// (store.Challenge.CAANames; the row's name when there are none): a
// "*."+name is decided by issuewild (falling back to issue when the RRset
// has none), any other name by issue; once per name and account per batch.
type checkerVerifier struct {
	c       *verify.Checker
	issuers map[string][]string // account -> CAA issuer domains
	log     *slog.Logger
}

func (v checkerVerifier) verifyAll(ctx context.Context, rows []*store.Challenge) ([]verdict, error) {
	qs := make([]verify.Query, len(rows))
	for i, c := range rows {
		qs[i] = verify.Query{Name: c.Record.FQDN, Type: c.Record.Type, Value: c.Record.Value, MinSerial: c.Serial}
	}
	reps, err := v.c.WaitAll(ctx, qs)
	if len(reps) != len(rows) {
		return nil, err
	}
	out := make([]verdict, len(rows))
	for i, r := range reps {
		if r == nil {
			out[i] = verdict{detail: "not checked"}
			if err != nil {
				out[i].detail = err.Error()
			}
			continue
		}
		out[i] = verdict{visible: r.Visible, detail: r.Summary(), report: r}
	}
	// CAA: each distinct (account, name) once, caaParallel lookups at a
	// time (each is a few resolver round trips; one after the other, a
	// batch of thousands of names would wait on them in turn).
	type caaKey struct{ account, name string }
	var keys []caaKey
	caa := map[caaKey]*verdict{}
	for i, c := range rows {
		if iss := v.issuers[c.Account]; out[i].visible && len(iss) > 0 {
			for _, n := range caaNames(c) {
				k := caaKey{c.Account, n}
				if _, ok := caa[k]; !ok {
					caa[k] = nil
					keys = append(keys, k)
				}
			}
		}
	}
	results := make([]verdict, len(keys))
	var g errgroup.Group
	g.SetLimit(caaParallel)
	for i, k := range keys {
		g.Go(func() error { results[i] = v.checkCAA(ctx, k.name, v.issuers[k.account]); return nil })
	}
	g.Wait()
	for i, k := range keys {
		caa[k] = &results[i]
	}
	for i, c := range rows {
		if !out[i].visible || len(v.issuers[c.Account]) == 0 {
			continue
		}
		for _, n := range caaNames(c) {
			if cv := caa[caaKey{c.Account, n}]; !cv.visible {
				r := *cv
				r.report = out[i].report
				out[i] = r
				break
			}
		}
	}
	return out, nil
}

// caaParallel bounds the CAA lookups of one verify batch in flight.
const caaParallel = 32

// caaNames is the names whose CAA row c's certificate depends on.
func caaNames(c *store.Challenge) []string {
	if len(c.CAANames) == 0 {
		return []string{c.Name}
	}
	return c.CAANames
}

// checkCAA turns the CAA verdict into a row verdict: forbidden is final;
// a lookup a validating CA would fail on too (SERVFAIL, bogus DNSSEC)
// holds the row as not visible yet; other lookup trouble (a resolver that
// refuses) is logged and does not hold the row, since the CA uses its own
// resolvers.
func (v checkerVerifier) checkCAA(ctx context.Context, name string, issuers []string) verdict {
	res, err := v.c.CAA(ctx, name, issuers)
	switch {
	case err != nil:
		v.log.Warn("CAA not checked", "name", name, "err", err)
	case res.Forbidden():
		return verdict{forbidden: res.Reason, detail: res.Reason}
	case res.Hold:
		return verdict{detail: res.Reason}
	case res.Error != "":
		v.log.Warn("CAA not checked", "name", name, "err", res.Error)
	}
	return verdict{visible: true}
}
