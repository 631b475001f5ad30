package certinext

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/certinext/internal/api"
)

// Domain inventory (issue 13): every account domain from GET /domains
// (sorted by name, deduplicated by the client's paging) with its DCV state;
// the validation expiry is validTill (DCV reuse expiry, present once
// verified). The scheduler stores it after each discovery for `dcvd
// domains` and the expiry metrics. Revalidation ahead of expiry is not
// implemented for CERTInext: its accounts have no revalidate_before.

var _ providers.Inventory = (*Provider)(nil)

// Domains lists the account's domains (restricted to the configured
// domains, if any) with their validation state.
func (p *Provider) Domains(ctx context.Context) ([]providers.Domain, error) {
	list, err := p.client.AllDomains(ctx, api.DomainQuery{}, p.set.pageSize)
	if err != nil {
		return nil, fmt.Errorf("certinext %q: list domains: %w", p.name, err)
	}
	now := time.Now()
	out := make([]providers.Domain, 0, len(list))
	for i := range list {
		d := &list[i]
		name := baseName(d.DomainName)
		if name == "" || !inDomains(name, p.domains) {
			continue
		}
		dom := providers.Domain{ID: string(d.DomainID), Name: name, Method: d.Method(),
			Validated: d.VerifiedAt.Time(), Expires: d.ValidTill.Time()}
		dcv := strings.ToUpper(d.DCVStatus)
		switch {
		case !strings.EqualFold(d.Status, "ACTIVE"):
			dom.Status, dom.Reason = providers.DomainInactive, "domain status "+d.Status+" in CERTInext"
		case dcv == "VERIFIED" && (dom.Expires.IsZero() || dom.Expires.After(now)):
			dom.Status = providers.DomainValid
		case dcv == "EXPIRED" || (dcv == "VERIFIED" && !dom.Expires.After(now)):
			dom.Status, dom.Reason = providers.DomainExpired, "validation expired; DCV is needed again"
		case dcv == "REJECTED":
			dom.Status, dom.Reason = providers.DomainPending, "CERTInext rejected the last DCV attempt (dcvd domain-attempts shows why)"
		default:
			dom.Status, dom.Reason = providers.DomainPending, "DCV not completed"
		}
		if dom.Status != providers.DomainValid && dom.Status != providers.DomainInactive && !p.set.prevalidate {
			dom.Reason += " (prevalidate is off for this account)"
		}
		out = append(out, dom)
	}
	return out, nil
}
