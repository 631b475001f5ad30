package scheduler

import (
	"context"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/verify"
)

// Observer is told about every side effect the engine has and every state
// change it saves: the audit trail and the metrics are built from these
// calls (internal/observe). Calls come from the engine's workers, possibly
// at the same time; they must not block for long. Rows passed in must not be
// modified or kept.
type Observer interface {
	// DNSWrite follows each backend Add or Remove.
	DNSWrite(ctx context.Context, w DNSWrite)
	// Verified follows each propagation check of a batch of rows: one
	// report per row, nil when the row was not checked.
	Verified(ctx context.Context, rows []*store.Challenge, reports []*verify.Report)
	// CACall follows each Submit or Poll of one order.
	CACall(ctx context.Context, c CACall)
	// Changed follows every saved change of a row's state or DNS state.
	Changed(c *store.Challenge, from store.State, fromDNS store.DNSState)
}

// DNSWrite describes one backend call.
type DNSWrite struct {
	Backend, Zone string
	Remove        bool
	Rows          []*store.Challenge  // the rows whose records were written
	Records       []dnspublish.Record // the distinct records sent
	Serial        uint32              // the zone serial the backend reported (add)
	Err           error
	Took          time.Duration
}

// CACall describes one Submit or Poll.
type CACall struct {
	Account, Order string
	Poll           bool
	Rows           []*store.Challenge
	Outcomes       []providers.Outcome // one per row when Err is nil
	Err            error
	Took           time.Duration
}

type accountKey struct{}

// AccountOf returns the CA account a provider call is made for: the engine
// puts it in the context of every Discover, Submit and Poll, so an HTTP
// client's metrics can be labelled by account.
func AccountOf(ctx context.Context) string {
	s, _ := ctx.Value(accountKey{}).(string)
	return s
}

// WithAccount returns ctx carrying an account name (see AccountOf).
func WithAccount(ctx context.Context, account string) context.Context {
	return context.WithValue(ctx, accountKey{}, account)
}
