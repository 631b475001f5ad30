package scheduler

import (
	"context"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/providers"
)

type dnspublishRecord = dnspublish.Record

// emptyProvider discovers nothing and validates everything it is asked.
type emptyProvider struct{ name string }

func (p emptyProvider) Name() string                                            { return p.name }
func (p emptyProvider) Discover(context.Context) ([]providers.Challenge, error) { return nil, nil }
func (p emptyProvider) Submit(_ context.Context, _ string, chs []providers.Challenge) ([]providers.Outcome, error) {
	out := make([]providers.Outcome, len(chs))
	for i := range out {
		out[i].Status = providers.Validated
	}
	return out, nil
}
func (p emptyProvider) Poll(ctx context.Context, order string, chs []providers.Challenge) ([]providers.Outcome, error) {
	return p.Submit(ctx, order, chs)
}
