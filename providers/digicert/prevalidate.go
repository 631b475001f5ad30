package digicert

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/digicert/internal/api"
)

// Domain-level DCV (prevalidation, spec §0 step 1, §2.8–§2.13). With
// prevalidate = true, Discover also returns one challenge per account domain
// whose DCV is pending. Such a challenge's Order is "domain:<id>", so the
// pipeline submits and polls it on its own, and Submit/Poll route it to the
// domain endpoints instead of the order ones.

// domainOrderPrefix marks a challenge Order that is a domain, not an order.
const domainOrderPrefix = "domain:"

// DomainOrder returns the Challenge.Order of domain id's prevalidation.
func DomainOrder(id string) string { return domainOrderPrefix + id }

// domainID returns the domain ID of a "domain:<id>" order.
func domainID(order string) (string, bool) {
	id, ok := strings.CutPrefix(order, domainOrderPrefix)
	return id, ok && id != ""
}

// tokenMargin: a domain token that expires sooner than this is replaced at
// discovery, since publishing it and getting DigiCert to look takes a while.
const tokenMargin = time.Hour

// discoverDomains returns a challenge for every account domain whose DCV is
// pending and that uses the configured DNS method (or email, switched when
// switch_email_orders is on). covered holds the names already returned for
// pending orders in this pass: an order's check validates the name as well
// (either value is accepted, §2.12), so they are not doubled up.
//
// A failure to list domains is returned (the caller logs it and keeps the
// order challenges); a failure on one domain is logged and skipped.
func (p *Provider) discoverDomains(ctx context.Context, covered map[string]bool) ([]providers.Challenge, error) {
	methods := []string{p.set.method}
	if p.set.switchMail {
		methods = append(methods, MethodEmail)
	}
	var out []providers.Challenge
	for _, m := range methods {
		list, err := p.client.AllDomains(ctx, api.DomainFilters{DCVMethod: m, IncludeValidation: true}, p.set.pageSize)
		if err != nil {
			return out, fmt.Errorf("list %s domains: %w", m, err)
		}
		for _, d := range list {
			name := providers.BaseName(d.Name)
			switch {
			case d.ID == "" || name == "":
				continue
			case !d.Active() || !inDomains(name, p.domains):
				continue
			case !(p.set.prevalid && p.domainPending(&d)) && !p.revalidateDue(&d):
				continue
			case covered[name]:
				p.log.Debug("digicert domain is on a pending order; validated through the order", "domain", d.ID.String(), "name", name)
				continue
			}
			ch, ok, err := p.discoverDomain(ctx, d, name)
			if err != nil {
				if ctx.Err() != nil || apiclient.StatusOf(err) == http.StatusUnauthorized {
					return out, err
				}
				p.log.Warn("digicert domain skipped", "domain", d.ID.String(), "name", name, "err", err)
				continue
			}
			if ok {
				covered[name] = true
				out = append(out, ch)
			}
		}
	}
	return out, nil
}

// discoverDomain returns the challenge of one pending domain.
func (p *Provider) discoverDomain(ctx context.Context, d api.Domain, name string) (providers.Challenge, bool, error) {
	id := d.ID.String()
	method := strings.ToLower(d.DCVMethod)
	var tok *api.DCVToken
	switch method {
	case p.set.method:
	case MethodEmail:
		if !p.set.switchMail {
			return providers.Challenge{}, false, nil
		}
		res, err := p.client.SetDomainDCVMethod(ctx, id, p.set.method)
		if err != nil {
			return providers.Challenge{}, false, fmt.Errorf("domain %s: switch DCV method to %s: %w", id, p.set.method, err)
		}
		p.log.Info("digicert domain switched from email DCV", "domain", id, "name", name, "method", p.set.method)
		tok, method = res.DCVToken, p.set.method
	default:
		// The other DNS method, or a file method: the list filter should not
		// have returned it; the account's method decides.
		p.log.Debug("digicert domain uses another DCV method; skipped", "domain", id, "method", method)
		return providers.Challenge{}, false, nil
	}
	info, err := p.client.DomainInfo(ctx, id)
	if err != nil {
		return providers.Challenge{}, false, fmt.Errorf("domain %s: info: %w", id, err)
	}
	due := p.revalidateDue(info)
	if !p.domainPending(info) && !due {
		return providers.Challenge{}, false, nil
	}
	if m := strings.ToLower(info.DCVMethod); m != "" && m != method {
		p.log.Debug("digicert domain changed DCV method meanwhile; skipped", "domain", id, "method", m)
		return providers.Challenge{}, false, nil
	}
	if tok == nil || tok.Token == "" {
		tok = info.DCVToken
	}
	// Reuse the token DigiCert already holds. Minting one (POST
	// /domain/{id}/dcv/token) invalidates the previous domain token, so a
	// value that an earlier pass — or a person — already published would
	// stop working, and every discovery pass would produce a new record.
	// Mint only when there is no token or it has (nearly) expired.
	if tok == nil || tok.Token == "" || tokenExpired(tok.ExpirationDate) {
		nt, err := p.client.NewDomainToken(ctx, id)
		if err != nil {
			return providers.Challenge{}, false, fmt.Errorf("domain %s: new DCV token: %w", id, err)
		}
		p.log.Info("digicert domain token minted", "domain", id, "name", name)
		tok = &api.DCVToken{Token: nt.Token, ExpirationDate: nt.ExpirationDate}
	}
	if due {
		p.log.Info("digicert domain revalidation started", "domain", id, "name", name, "expires", expiryOf(info))
	}
	value := string(tok.Token)
	if value == "" {
		return providers.Challenge{}, false, fmt.Errorf("domain %s: DigiCert returned an empty DCV token", id)
	}
	return providers.Challenge{
		Order:      DomainOrder(id),
		Name:       name,
		Record:     p.set.recordFor(method, name, value),
		Expires:    api.ParseTime(tok.ExpirationDate),
		Ref:        value, // Poll notices a token replaced outside dcvd
		OrderNames: []string{name},
	}, true, nil
}

// tokenExpired reports whether a token expiration date lies within
// tokenMargin of now (an absent or unreadable date counts as valid).
func tokenExpired(date string) bool {
	t := api.ParseTime(date)
	return !t.IsZero() && time.Until(t) < tokenMargin
}

// dcvState says whether a domain's DCV is done (Validated) or not (Pending).
func (p *Provider) dcvState(d *api.Domain) providers.Status {
	if len(d.Validations) > 0 {
		for _, v := range d.Validations {
			if !p.validationDone(v) {
				return providers.Pending
			}
		}
		return providers.Validated
	}
	if d.IsPendingValidation {
		return providers.Pending
	}
	// No validations in the response: a domain that was never validated
	// has no dcv_expiration and no approval time; an expired one has dates
	// in the past.
	if exp := d.DCVExpiration.Latest(); !exp.IsZero() {
		if exp.After(p.clock()) {
			return providers.Validated
		}
		return providers.Pending
	}
	if t := api.ParseTime(d.DCVExpirationDatetime); !t.IsZero() {
		if t.After(p.clock()) {
			return providers.Validated
		}
		return providers.Pending
	}
	if d.DCVApprovalDatetime != "" || strings.EqualFold(d.Status, "active") {
		return providers.Validated
	}
	return providers.Pending
}

// domainPending reports whether d still waits on DCV.
func (p *Provider) domainPending(d *api.Domain) bool {
	return bool(d.IsPendingValidation) || p.dcvState(d) != providers.Validated
}

// validationDone reports whether one validations[] entry has its DCV done:
// dcv_status "complete" (or status "active" when dcv_status is absent),
// and validated_until, if given, still ahead. Unknown values are logged and
// count as pending (§6).
func (p *Provider) validationDone(v api.DomainValidation) bool {
	if t := api.ParseTime(v.ValidatedUntil); !t.IsZero() && t.Before(p.clock()) {
		return false
	}
	st := strings.ToLower(v.DCVStatus)
	if st == "" {
		st = strings.ToLower(v.Status)
	}
	switch st {
	case "complete", "completed", "active", "valid", "validated", "approved":
		return true
	case "pending", "inactive", "expired", "not_validated", "in_progress", "submitted", "":
		return false
	}
	p.log.Info("digicert: unknown domain validation status, treated as pending", "type", v.Type, "status", st)
	return false
}

// submitDomain asks DigiCert to check a domain's DCV now (PUT
// /domain/{id}/dcv/validate-token):
//
//   - 200 status "active" → Validated;
//   - 200 with another status or none → the domain's info decides;
//   - 400 invalid_dns_txt / file_random_value_not_found → NotVisible with
//     DigiCert's words, unless the domain's info says it is validated or
//     its token was replaced;
//   - 400 invalid_dcv_method (someone moved the domain off a token method)
//     and 404 → Failed.
func (p *Provider) submitDomain(ctx context.Context, order, id string, chs []providers.Challenge) ([]providers.Outcome, error) {
	res, err := p.client.ValidateDomainToken(ctx, id)
	if err != nil {
		var apiErr *apiclient.Error
		if !errors.As(err, &apiErr) {
			return nil, fmt.Errorf("digicert %q: validate-token domain %s: %w", p.name, id, err)
		}
		switch {
		case apiErr.Has("invalid_dns_txt") || apiErr.Has("file_random_value_not_found"):
			outs := all(chs, providers.Outcome{Status: providers.NotVisible, Reason: apiErr.Message()})
			if polled, perr := p.pollDomain(ctx, order, id, chs); perr == nil {
				for i, o := range polled {
					if o.Status == providers.Validated || o.Status == providers.Failed {
						outs[i] = o
					}
				}
			}
			return outs, nil
		case apiErr.Has("invalid_dcv_method"):
			return all(chs, providers.Outcome{Status: providers.Failed,
				Reason: "domain does not use a DNS token DCV method: " + apiErr.Message()}), nil
		case apiErr.Status == http.StatusNotFound:
			return all(chs, providers.Outcome{Status: providers.Failed, Reason: "domain not found: " + apiErr.Message()}), nil
		}
		return nil, fmt.Errorf("digicert %q: validate-token domain %s: %w", p.name, id, err)
	}
	if strings.EqualFold(res.Status, "active") {
		return all(chs, providers.Outcome{Status: providers.Validated}), nil
	}
	return p.pollDomain(ctx, order, id, chs)
}

// pollDomain reads a domain's DCV state (GET /domain/{id} with its
// validations and token) without triggering a check. A token different from
// the one the challenge published (Ref) means someone minted a new one, which
// invalidated ours: Failed, and the next discovery publishes the new value.
func (p *Provider) pollDomain(ctx context.Context, order, id string, chs []providers.Challenge) ([]providers.Outcome, error) {
	info, err := p.client.DomainInfo(ctx, id)
	if err != nil {
		if apiclient.StatusOf(err) == http.StatusNotFound {
			return all(chs, providers.Outcome{Status: providers.Failed, Reason: "domain not found: " + err.Error()}), nil
		}
		return nil, fmt.Errorf("digicert %q: poll %s: %w", p.name, order, err)
	}
	if !bool(info.IsPendingValidation) && p.dcvState(info) == providers.Validated && !p.revalidateDue(info) {
		return all(chs, providers.Outcome{Status: providers.Validated}), nil
	}
	outs := all(chs, providers.Outcome{Status: providers.Pending})
	if info.DCVToken != nil && info.DCVToken.Token != "" {
		for i, ch := range chs {
			if ch.Ref != "" && ch.Ref != string(info.DCVToken.Token) {
				outs[i] = providers.Outcome{Status: providers.Failed,
					Reason: "DigiCert holds a newer token for domain " + id + " (minted outside dcvd); the next discovery publishes it"}
			}
		}
	}
	return outs, nil
}
