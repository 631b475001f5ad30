package certinext

import (
	"context"
	"fmt"
	"strings"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/certinext/internal/api"
)

// Domain inventory (issue 13): every account domain from GET /domains
// (sorted by name, deduplicated by the client's paging) with its DCV state;
// the validation expiry is validTill (DCV reuse expiry, present once
// verified). The scheduler stores it after each discovery for `dcvd
// domains` and the expiry metrics; revalidate_before renews the validations
// before validTill (revalidate.go). A domain whose dcvStatus went back to
// PENDING (or REJECTED) while its validTill is still ahead is listed as
// valid: the earlier validation can still be reused until then, and a
// revalidation may be under way (the RevalidationResets shape).

var _ providers.Inventory = (*Provider)(nil)

// Domains lists the account's domains (restricted to the configured
// domains, if any) with their validation state.
func (p *Provider) Domains(ctx context.Context) ([]providers.Domain, error) {
	list, err := p.client.AllDomains(ctx, api.DomainQuery{}, p.set.pageSize)
	if err != nil {
		return nil, fmt.Errorf("certinext %q: list domains: %w", p.name, err)
	}
	now := p.clock()
	out := make([]providers.Domain, 0, len(list))
	for i := range list {
		d := &list[i]
		name := providers.BaseName(d.DomainName)
		if name == "" || !inDomains(name, p.domains) {
			continue
		}
		dom := providers.Domain{ID: string(d.DomainID), Name: name, Method: d.Method(),
			Validated: d.Verified(), Expires: d.Expiry()}
		dcv := strings.ToUpper(d.DCVStatus)
		switch {
		case !strings.EqualFold(d.Status, "ACTIVE"):
			dom.Status, dom.Reason = providers.DomainInactive, "domain status "+d.Status+" in CERTInext"
		case dcv == "VERIFIED" && (dom.Expires.IsZero() || dom.Expires.After(now)):
			dom.Status = providers.DomainValid
		case (dcv == "PENDING" || dcv == "REJECTED") && dom.Expires.After(now):
			dom.Status = providers.DomainValid // the last validation holds until validTill
		case dcv == "EXPIRED" || (dcv == "VERIFIED" && !dom.Expires.After(now)):
			dom.Status, dom.Reason = providers.DomainExpired, "validation expired; DCV is needed again"
		case dcv == "REJECTED":
			dom.Status, dom.Reason = providers.DomainPending, "CERTInext rejected the last DCV attempt (dcvd domain-attempts shows why)"
		default:
			dom.Status, dom.Reason = providers.DomainPending, "DCV not completed"
		}
		if dom.Status != providers.DomainValid && dom.Status != providers.DomainInactive && !p.set.prevalidate &&
			(p.set.revalidate == 0 || dom.Expires.IsZero()) {
			dom.Reason += " (prevalidate is off for this account)"
		}
		out = append(out, dom)
	}
	return out, nil
}
