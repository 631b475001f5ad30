package digicert

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/digicert/internal/api"
)

// Domain inventory and revalidation (issue 13). Domains lists every account
// domain (GET /domain?include_validation=true&include_dcv_expiration_time=
// true) with its validation state and expiry; the scheduler stores it after
// each discovery and `dcvd domains` shows it.
//
// With revalidate_before set, discovery takes up a validated domain whose
// validation expires within that window as a domain challenge (the
// prevalidation path of prevalidate.go): its token is published, checked
// with validate-token and removed like any order's record. Poll keeps such
// a challenge pending until DigiCert reports an expiry beyond the window,
// so a check that did not renew anything is never taken for success.

var (
	_ providers.Inventory    = (*Provider)(nil)
	_ providers.Revalidating = (*Provider)(nil)
)

// RevalidateBefore is the configured revalidate_before (0: off).
func (p *Provider) RevalidateBefore() time.Duration { return p.set.revalidate }

// SetClock replaces the clock of validation-expiry decisions (tests that
// move time; the simulator takes the same clock).
func (p *Provider) SetClock(now func() time.Time) { p.now = now }

// Domains lists the account's domains (restricted to the configured
// domains, if any) with their validation state.
func (p *Provider) Domains(ctx context.Context) ([]providers.Domain, error) {
	var out []providers.Domain
	err := p.client.EachDomain(ctx, api.DomainFilters{IncludeValidation: true, ExpirationTime: true}, p.set.pageSize, func(page []api.Domain) error {
		for i := range page {
			d := &page[i]
			name := providers.BaseName(d.Name)
			if name == "" || !inDomains(name, p.domains) {
				continue
			}
			out = append(out, p.inventoryDomain(d, name))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("digicert %q: list domains: %w", p.name, err)
	}
	return out, nil
}

// inventoryDomain judges one domain of the list.
func (p *Provider) inventoryDomain(d *api.Domain, name string) providers.Domain {
	method := strings.ToLower(d.DCVMethod)
	out := providers.Domain{
		ID: d.ID.String(), Name: name, Method: method,
		Validated: api.ParseTime(d.DCVApprovalDatetime),
		Expires:   expiryOf(d),
	}
	now := p.clock()
	switch {
	case !d.Active():
		out.Status, out.Reason = providers.DomainInactive, "domain is deactivated in CertCentral"
	case !bool(d.IsPendingValidation) && p.dcvState(d) == providers.Validated:
		out.Status = providers.DomainValid
	case !out.Expires.IsZero() && !out.Expires.After(now):
		out.Status = providers.DomainExpired
		out.Reason = "validation expired " + out.Expires.UTC().Format(time.DateOnly) + "; DCV is needed again"
	default:
		out.Status, out.Reason = providers.DomainPending, "DCV not completed"
	}
	if out.Status != providers.DomainValid && out.Status != providers.DomainInactive {
		switch {
		case method == MethodEmail && !p.set.switchMail:
			out.Reason += " (email DCV: dcvd validates by DNS only; switch_email_orders is off)"
		case method != p.set.method && method != MethodEmail:
			out.Reason += " (method " + method + " is not this account's " + p.set.method + ")"
		case !p.set.prevalid && p.set.revalidate == 0:
			out.Reason += " (prevalidate and revalidate_before are off for this account)"
		}
	}
	return out
}

// expiryOf is when a domain's validation lapses: the latest dcv_expiration
// entry, else dcv_expiration_datetime, else the latest validated_until
// (zero when the domain was never validated).
func expiryOf(d *api.Domain) time.Time {
	if t := d.DCVExpiration.Latest(); !t.IsZero() {
		return t
	}
	if t := api.ParseTime(d.DCVExpirationDatetime); !t.IsZero() {
		return t
	}
	var best time.Time
	for _, v := range d.Validations {
		if t := api.ParseTime(v.ValidatedUntil); t.After(best) {
			best = t
		}
	}
	return best
}

// revalidateDue reports whether a validated (or lapsed) domain is due for
// revalidation: revalidate_before is on, the domain has an expiry, and the
// clock has reached its spread point in the window
// (providers.RevalidateFrom).
func (p *Provider) revalidateDue(d *api.Domain) bool {
	if p.set.revalidate <= 0 || !d.Active() {
		return false
	}
	exp := expiryOf(d)
	if exp.IsZero() {
		return false
	}
	return !p.clock().Before(providers.RevalidateFrom(exp, api.ParseTime(d.DCVApprovalDatetime), p.set.revalidate, d.ID.String()))
}

// clock is the time of validation-expiry decisions.
func (p *Provider) clock() time.Time {
	if p.now == nil {
		return time.Now()
	}
	return p.now()
}
