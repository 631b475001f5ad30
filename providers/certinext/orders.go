package certinext

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/certinext/internal/api"
)

// Order DCV (spec §5.3, §6, §7). Orders come from GET /reports/orders; an
// order in status pending-dcv has one entry per certificate name under
// verifications.domain.domains. Each name not VERIFIED (a wildcard reduced
// to its base; names of verified account domains are already VERIFIED
// there and need nothing) gets its challenge from GET
// /ssl-certificates/{id}/dcv?domain=<name> and becomes one Challenge with
// the order ID as Order. Submit verifies each name; the order is done when
// every name is.

// orderGone maps an order status that ends DCV to a reason.
func orderGone(status string) (string, bool) {
	switch s := strings.ToLower(status); s {
	case "cancelled", "canceled", "rejected", "revoked", "expired":
		return "order " + s, true
	}
	return "", false
}

// orderDone reports whether an order status means its DCV is complete.
func orderDone(status string) bool {
	s := strings.ToLower(status)
	return s == "issued" || (strings.HasPrefix(s, "pending-") && s != "pending-dcv")
}

func (p *Provider) discoverOrders(ctx context.Context) ([]providers.Challenge, error) {
	list, err := p.client.AllOrders(ctx, 100)
	if err != nil {
		return nil, err
	}
	var out []providers.Challenge
	var failed []error
	pending := 0
	for _, o := range list {
		if !strings.EqualFold(o.Status, "pending-dcv") {
			continue
		}
		pending++
		chs, err := p.discoverOrder(ctx, string(o.OrderID))
		if err != nil {
			if fatal(ctx, err) {
				return out, err
			}
			p.log.Warn("certinext order skipped", "order", string(o.OrderID), "err", err)
			failed = append(failed, err)
			continue
		}
		out = append(out, chs...)
	}
	if pending > 0 && len(failed) == pending {
		return out, fmt.Errorf("every order waiting on DCV failed: %w", errors.Join(failed...))
	}
	return out, nil
}

// pendingNames returns the DCV names of an order that are not VERIFIED, in
// order, wildcards reduced, each once.
func pendingNames(o *api.Order) []string {
	done := map[string]bool{}
	for _, d := range o.Verifications.Domain.Domains {
		if strings.EqualFold(d.DCVStatus, "VERIFIED") {
			done[providers.BaseName(d.Domain)] = true
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, d := range o.Verifications.Domain.Domains {
		n := providers.BaseName(d.Domain)
		if n != "" && !done[n] && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// rawNames returns an order's names as it gives them, wildcards kept
// ("*.b"): its domain, additionalDomains and the verification entries'
// names. A challenge's CAA names (issuewild for *.b) are picked from these.
func rawNames(o *api.Order) []string {
	names := append([]string{o.Domain}, o.AdditionalDomains...)
	for _, d := range o.Verifications.Domain.Domains {
		names = append(names, d.Domain)
	}
	return names
}

// orderNames returns the names an order covers, wildcards reduced: its
// domain, additionalDomains and the names of its verification entries.
func orderNames(o *api.Order) []string {
	var out []string
	seen := map[string]bool{}
	add := func(n string) {
		if n = providers.BaseName(n); n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	add(o.Domain)
	for _, n := range o.AdditionalDomains {
		add(n)
	}
	for _, d := range o.Verifications.Domain.Domains {
		add(d.Domain)
	}
	return out
}

func (p *Provider) discoverOrder(ctx context.Context, id string) ([]providers.Challenge, error) {
	o, err := p.client.Order(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("order %s: %w", id, err)
	}
	if !strings.EqualFold(o.Status, "pending-dcv") {
		return nil, nil
	}
	var out []providers.Challenge
	names, raw := orderNames(o), rawNames(o)
	for _, name := range pendingNames(o) {
		if !inDomains(name, p.domains) {
			continue
		}
		c, err := p.client.OrderDCV(ctx, id, name)
		if err != nil {
			if apiclient.StatusOf(err) == http.StatusConflict {
				continue // verified meanwhile
			}
			return out, fmt.Errorf("order %s: challenge of %s: %w", id, name, err)
		}
		if c.Method != "" && c.Method != api.MethodDNSTXT {
			p.log.Info("certinext order name uses a non-DNS DCV method; skipped", "order", id, "name", name, "method", c.Method)
			continue
		}
		ch, err := p.set.challenge(id, names, name, c.Host, c.Value, string(c.Expiry))
		if err != nil {
			return out, fmt.Errorf("order %s: %w", id, err)
		}
		ch.CAANames = providers.CAANamesFor(name, raw)
		out = append(out, ch)
	}
	return out, nil
}

// submitOrder verifies each name: 200/204 → Validated; 422 → NotVisible
// with CERTInext's words; 409 (the order left pending-dcv) → the order
// decides. Any other failure, 404 included, is returned (Poll turns an
// order that is gone into Failed rows).
func (p *Provider) submitOrder(ctx context.Context, id string, chs []providers.Challenge) ([]providers.Outcome, error) {
	outs := make([]providers.Outcome, len(chs))
	conflict := false
	for i, ch := range chs {
		res, err := p.client.VerifyOrder(ctx, id, ch.Name)
		var vf *api.VerifyFailed
		switch {
		case errors.As(err, &vf):
			outs[i] = providers.Outcome{Status: providers.NotVisible, Reason: reasonOf(vf)}
		case apiclient.StatusOf(err) == http.StatusConflict:
			conflict = true
		case err != nil:
			return nil, fmt.Errorf("certinext %q: verify order %s name %s: %w", p.name, id, ch.Name, err)
		case res.Verdict() == "FAILED":
			outs[i] = providers.Outcome{Status: providers.NotVisible, Reason: "verify answered FAILED"}
		case res.Verdict() == "PENDING":
			outs[i] = providers.Outcome{Status: providers.Pending}
		default:
			outs[i] = providers.Outcome{Status: providers.Validated}
		}
	}
	if conflict {
		polled, err := p.pollOrder(ctx, id, chs)
		if err != nil {
			return nil, err
		}
		for i := range outs {
			if outs[i] == (providers.Outcome{}) || outs[i].Status == providers.Pending {
				outs[i] = polled[i]
			}
		}
	}
	return outs, nil
}

// pollOrder reads the order: issued (or past DCV) → Validated; cancelled,
// rejected, revoked, expired → Failed; else per name, VERIFIED → Validated
// and anything else Pending.
func (p *Provider) pollOrder(ctx context.Context, id string, chs []providers.Challenge) ([]providers.Outcome, error) {
	o, err := p.client.Order(ctx, id)
	if err != nil {
		if apiclient.StatusOf(err) == http.StatusNotFound {
			return all(chs, providers.Outcome{Status: providers.Failed, Reason: reasonOf(err)}), nil
		}
		return nil, fmt.Errorf("certinext %q: poll order %s: %w", p.name, id, err)
	}
	if orderDone(o.Status) {
		return all(chs, providers.Outcome{Status: providers.Validated}), nil
	}
	if reason, ok := orderGone(o.Status); ok {
		return all(chs, providers.Outcome{Status: providers.Failed, Reason: reason}), nil
	}
	verified := map[string]bool{}
	for _, d := range o.Verifications.Domain.Domains {
		if strings.EqualFold(d.DCVStatus, "VERIFIED") {
			verified[providers.BaseName(d.Domain)] = true
		}
	}
	outs := all(chs, providers.Outcome{Status: providers.Pending})
	for i, ch := range chs {
		if verified[providers.BaseName(ch.Name)] {
			outs[i] = providers.Outcome{Status: providers.Validated}
		}
	}
	return outs, nil
}
