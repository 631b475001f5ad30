package scheduler

import (
	"context"

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
}

type checkerVerifier struct{ c *verify.Checker }

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
	return out, nil
}
