package certinext

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/certinext/internal/api"
)

// Provider is one CERTInext account.
type Provider struct {
	name    string      // [[ca]] name
	set     *settings   // validated options
	client  *api.Client // shares one token and one limiter
	log     *slog.Logger
	domains []string         // [[ca]] domains filter
	now     func() time.Time // clock of validation-expiry decisions (nil: time.Now)
}

var _ providers.Provider = (*Provider)(nil)

// Open validates the options, reads the client secret and builds the
// provider. It does no network I/O.
func Open(ctx context.Context, base providers.Base, o *Options) (*Provider, error) {
	s, err := o.validate(base)
	var sec string
	if err == nil {
		sec, err = s.secret.Read()
	}
	if err != nil {
		return nil, fmt.Errorf("certinext %q: %w", base.Name, err)
	}
	log := cmp.Or(base.Logger, slog.New(slog.DiscardHandler))
	// One limiter per account and host (never keyed by the secret).
	lim := base.Limiter("certinext:"+s.account+"@"+s.baseURL, s.limits)
	cfg := api.Config{BaseURL: s.baseURL, Account: s.account, Secret: sec, Timeout: s.timeout,
		Limiter: lim, Backoff: s.backoff, Retries: s.retries, Logger: log}
	return &Provider{name: base.Name, client: api.New(cfg), set: s, domains: base.Domains, log: log}, nil
}

// Name is the configured account name.
func (p *Provider) Name() string { return p.name }

// Limits returns the request limits this account is configured with.
func (p *Provider) Limits() []providers.RateLimit { return p.set.limits }

// Discover returns a challenge for every name of every order waiting on
// DCV (orders.go) and, with prevalidate on, for every account domain whose
// DCV is pending (domains.go), and with revalidate_before set for every
// domain whose validation is due for renewal (revalidate.go). A failure on one order or domain is logged
// and the others go on; failing to list orders, or refused credentials, fail
// the pass; failing to list domains skips prevalidation for this pass.
func (p *Provider) Discover(ctx context.Context) ([]providers.Challenge, error) {
	out, err := p.discoverOrders(ctx)
	if err != nil {
		return out, fmt.Errorf("certinext %q: %w", p.name, err)
	}
	if p.set.prevalidate || p.set.revalidate > 0 {
		dchs, err := p.discoverDomains(ctx)
		out = append(out, dchs...)
		if err != nil {
			if fatal(ctx, err) {
				return out, fmt.Errorf("certinext %q: prevalidation: %w", p.name, err)
			}
			// The orders go on; the domains are tried again next pass.
			p.log.Warn("certinext prevalidation skipped this pass", "err", err)
		}
	}
	return out, nil
}

// Submit asks CERTInext to check the challenges of one order (or one
// account domain, Order "domain:<id>") now.
func (p *Provider) Submit(ctx context.Context, order string, chs []providers.Challenge) ([]providers.Outcome, error) {
	if id, ok := domainID(order); ok {
		return p.submitDomain(ctx, id, chs)
	}
	return p.submitOrder(ctx, order, chs)
}

// Poll reads CERTInext's verdict without triggering a check.
func (p *Provider) Poll(ctx context.Context, order string, chs []providers.Challenge) ([]providers.Outcome, error) {
	if id, ok := domainID(order); ok {
		return p.pollDomain(ctx, id, chs)
	}
	return p.pollOrder(ctx, order, chs)
}

// fatal reports whether err should end a discovery pass instead of skipping
// one order or domain: refused credentials, a cancelled context.
func fatal(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return true
	}
	switch apiclient.StatusOf(err) {
	case http.StatusUnauthorized, http.StatusForbidden:
		return true
	}
	// The token endpoint failing (wrong account or secret) has no status of
	// the API call but names /oauth/token.
	var e *apiclient.Error
	return errors.As(err, &e) && e.Path == api.TokenPath
}

// reasonOf is the CA's own words for an Outcome: the verify diagnostics when
// there are any, else the error line.
func reasonOf(err error) string {
	var vf *api.VerifyFailed
	if errors.As(err, &vf) {
		return strings.TrimPrefix(vf.Error(), "certinext: ")
	}
	var e *apiclient.Error
	if errors.As(err, &e) {
		return e.Message()
	}
	return err.Error()
}

func all(chs []providers.Challenge, o providers.Outcome) []providers.Outcome {
	outs := make([]providers.Outcome, len(chs))
	for i := range outs {
		outs[i] = o
	}
	return outs
}
