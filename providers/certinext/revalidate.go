package certinext

import (
	"fmt"
	"strings"
	"time"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/certinext/internal/api"
)

// Revalidation ahead of expiry (issue 13, revalidate_before).
//
// The CERTInext spec has no revalidation call. It documents how to re-run a
// domain's DCV: PATCH /domains/{id}/dcv/method with the current method
// "mints a fresh token even if the method is unchanged" (spec §3, §5.2: "To
// get a fresh token: PATCH .../dcv/method with the current method, then GET
// again"), and POST /domains/{id}/dcv/verify checks it. That is what dcvd
// does for a domain whose validTill falls inside the window:
//
//  1. discovery: an ACTIVE domain is due once the clock reaches its point
//     in the first third of the window (providers.RevalidateAt, keyed by
//     the domain ID); GET /domains/{id}/dcv; no token there (the CONFIRMED
//     body of a verified domain is just {"method"}) → PATCH the method to
//     dns-txt, which mints one; a token already there (an earlier pass
//     started the revalidation) is reused, so a published value stays
//     good. The challenge's Order is "domain:<id>" like prevalidation's;
//  2. the engine publishes it, checks every authoritative server and calls
//     Submit: POST /domains/{id}/dcv/verify;
//  3. a VERIFIED answer is confirmed by reading the domain: it counts only
//     once the domain is no longer due, i.e. validTill has left the window
//     (or, with a window as long as the reuse period, the renewed
//     validation's next point lies ahead: providers.RevalidateFrom). A CA
//     that answers VERIFIED for an already verified domain without
//     re-checking renews nothing: that is NotVisible with the reason,
//     retried by the engine, never success;
//  4. the engine removes the record.
//
// What the live API shows while a revalidation is open is not known
// (INFERRED either way), so both are read: dcvStatus staying VERIFIED (the
// domain is judged by validTill) or going back to PENDING with validTill
// kept (still due, so discovery keeps returning the same token). A domain
// whose validTill is absent or unreadable is never due (the inventory shows
// its expiry as unknown).

var _ providers.Revalidating = (*Provider)(nil)

// RevalidateBefore is the configured revalidate_before (0: off).
func (p *Provider) RevalidateBefore() time.Duration { return p.set.revalidate }

// SetClock replaces the clock of validation-expiry decisions (tests that
// move time; the simulator takes the same clock).
func (p *Provider) SetClock(now func() time.Time) { p.now = now }

// clock is the time of validation-expiry decisions.
func (p *Provider) clock() time.Time {
	if p.now == nil {
		return time.Now()
	}
	return p.now()
}

// revalidateDue reports whether an ACTIVE domain with a validTill is due
// for revalidation: revalidate_before is on and the clock has reached the
// domain's point (providers.RevalidateFrom; a lapsed validation is due too).
func (p *Provider) revalidateDue(d *api.Domain) bool {
	if p.set.revalidate <= 0 || !strings.EqualFold(d.Status, "ACTIVE") {
		return false
	}
	exp := d.Expiry()
	if exp.IsZero() {
		return false
	}
	return !p.clock().Before(providers.RevalidateFrom(exp, d.Verified(), p.set.revalidate, string(d.DomainID)))
}

// days writes a window as a whole number of days when it is one ("30d").
func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
