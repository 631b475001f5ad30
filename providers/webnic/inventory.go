package webnic

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/webnic/internal/api"
)

// Domain inventory from order names (issue 13: "for CAs without domain
// objects, the orders' names"). WebNIC's SSL API has no domain objects and
// no DCV completion date, so the inventory is built from one unfiltered
// order search (POST /ssl/v2/orders/search, every page, every status):
//
//   - names: each order's common name ("*." removed), plus its SANs when
//     dcvd has read them (Get Order Info, read during discovery for a
//     multi-name order and remembered by this process). The search reply
//     carries the common name only, and reading every order's info would
//     cost a request per order per refresh against an allowance of 5000 a
//     day, so SANs of orders this process never saw pending are not listed;
//   - status per order: issued (COMPLETED or certStatus ACTIVE) → valid;
//     waiting (PENDING, IN_PROCESS, PROCESSED, PENDING_REISSUE, INITIAL) →
//     pending, with WebNIC's statuses as the reason; rejected, cancelled,
//     refunded, revoked or expired → inactive;
//   - "validation expires" (estimated): Sectigo validated the name for the
//     order after it was placed, and may reuse that validation for the
//     reuse period in force then (CA/B Forum ballot SC-081: 398 days before
//     2026-03-15, 200 from then, 100 from 2027-03-15, 10 from 2029-03-15).
//     WebNIC does not say when the DCV completed, so Expires is the order's
//     dtcreate plus the reuse period in force at dtcreate: the DCV happened
//     at or after dtcreate, so the real date is this or later (unless the
//     period shrank while the order waited). Validated stays zero (unknown).
//     An issued order whose estimate has passed is listed as expired.
//
// A name on several orders takes the best state: a valid one (the latest
// expiry), else a pending order, else an expired one, else inactive.

var _ providers.Inventory = (*Provider)(nil)

// reuseSchedule is ballot SC-081's maximum domain-validation reuse period,
// from each date on.
var reuseSchedule = []struct {
	from time.Time
	days int
}{
	{time.Date(2029, 3, 15, 0, 0, 0, 0, time.UTC), 10},
	{time.Date(2027, 3, 15, 0, 0, 0, 0, time.UTC), 100},
	{time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), 200},
	{time.Time{}, 398},
}

// ReusePeriod is how long a domain validation completed at t may be reused
// (ballot SC-081).
func ReusePeriod(t time.Time) time.Duration {
	for _, r := range reuseSchedule {
		if !t.Before(r.from) {
			return time.Duration(r.days) * 24 * time.Hour
		}
	}
	return 398 * 24 * time.Hour
}

// Domains lists the names of every order of the account (restricted to the
// configured domains, if any) with the state their orders give them.
func (p *Provider) Domains(ctx context.Context) ([]providers.Domain, error) {
	items, err := p.client.SearchAll(ctx, nil, p.set.pageSize)
	if err != nil {
		return nil, fmt.Errorf("webnic %q: search orders: %w", p.name, err)
	}
	now := time.Now()
	best := map[string]providers.Domain{}
	for _, it := range items {
		id := string(it.OrderID)
		names := []string{providers.BaseName(it.CommonName)}
		p.mu.Lock()
		names = append(names, p.names[id]...)
		p.mu.Unlock()
		d := orderDomain(it, now)
		seen := map[string]bool{}
		for _, n := range names {
			n = providers.BaseName(n)
			if n == "" || seen[n] || !inDomains(n, p.domains) {
				continue
			}
			seen[n] = true
			d.Name = n
			if cur, ok := best[n]; !ok || better(d, cur) {
				best[n] = d
			}
		}
	}
	out := make([]providers.Domain, 0, len(best))
	for _, d := range best {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b providers.Domain) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// orderDomain is the state one order gives its names (Name left empty).
func orderDomain(it api.OrderSummary, now time.Time) providers.Domain {
	id := string(it.OrderID)
	statuses := fmt.Sprintf("orderStatus %s, certStatus %s", orDash(it.OrderStatus), orDash(it.CertStatus))
	done, issued := finished(it.OrderStatus, it.CertStatus)
	var d providers.Domain
	switch {
	case issued:
		placed := api.ParseDate(it.Created)
		d.Status = providers.DomainValid
		if !placed.IsZero() {
			d.Expires = placed.Add(ReusePeriod(placed))
		}
		if !d.Expires.IsZero() && !d.Expires.After(now) {
			d.Status = providers.DomainExpired
			d.Reason = fmt.Sprintf("order %s placed %s: its validation's reuse period (%d days) has passed (estimated from dtcreate); a new order validates again",
				id, placed.Format(time.DateOnly), ReusePeriod(placed)/(24*time.Hour))
		}
	case done:
		d.Status, d.Reason = providers.DomainInactive, "no issued or pending order (order "+id+": "+statuses+")"
	default:
		d.Status, d.Reason = providers.DomainPending, "order "+id+" waits on DCV ("+statuses+")"
	}
	return d
}

// better reports whether a is a better state for a name than b.
func better(a, b providers.Domain) bool {
	rank := func(d providers.Domain) int {
		switch d.Status {
		case providers.DomainValid:
			return 3
		case providers.DomainPending:
			return 2
		case providers.DomainExpired:
			return 1
		}
		return 0
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra > rb
	}
	// The same state: the later expiry (an unknown one loses).
	return a.Expires.After(b.Expires)
}
