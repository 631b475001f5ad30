package scheduler

import (
	"context"
	"log/slog"

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
	caa := map[string]verdict{}
	for i, r := range reps {
		if r == nil {
			out[i] = verdict{detail: "not checked"}
			if err != nil {
				out[i].detail = err.Error()
			}
			continue
		}
		out[i] = verdict{visible: r.Visible, detail: r.Summary(), report: r}
		if iss := v.issuers[rows[i].Account]; r.Visible && len(iss) > 0 {
			names := rows[i].CAANames
			if len(names) == 0 {
				names = []string{rows[i].Name}
			}
			for _, n := range names {
				key := rows[i].Account + "|" + n
				cv, ok := caa[key]
				if !ok {
					cv = v.checkCAA(ctx, n, iss)
					caa[key] = cv
				}
				if !cv.visible {
					cv.report = r
					out[i] = cv
					break
				}
			}
		}
	}
	return out, nil
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
