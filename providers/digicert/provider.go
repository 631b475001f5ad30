package digicert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/digicert/internal/api"
)

// Provider is one DigiCert CertCentral account (API key).
type Provider struct {
	name    string
	client  *api.Client
	set     *settings
	domains []string
	log     *slog.Logger
	now     func() time.Time // the clock of validation expiry decisions
}

var _ providers.Provider = (*Provider)(nil)

// Open validates the options, reads the API key and builds the provider. It
// does no network I/O.
func Open(ctx context.Context, base providers.Base, o *Options) (*Provider, error) {
	s, err := o.validate(base)
	if err != nil {
		return nil, fmt.Errorf("digicert %q: %w", base.Name, err)
	}
	key, err := s.key.Read()
	if err != nil {
		return nil, fmt.Errorf("digicert %q: %w", base.Name, err)
	}
	log := base.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The caller's logger already names the account ("ca"): adding the
	// attribute again would repeat the key in every JSON line.
	return &Provider{
		name: base.Name,
		client: api.New(api.Config{
			BaseURL: s.baseURL, Key: key, Timeout: s.timeout, Backoff: s.backoff, Retries: s.retries, Logger: log,
			// One limiter per account (and API instance) for every
			// goroutine of this process: the daemon's workers, hooks, CLI.
			Limiter: base.Limiter("digicert/"+base.Name+"@"+s.baseURL, s.limits),
		}),
		set:     s,
		domains: base.Domains,
		log:     log,
		now:     time.Now,
	}, nil
}

// Name is the configured account name.
func (p *Provider) Name() string { return p.name }

// Limits returns the request limits this account is configured with
// (rate_limits, default DefaultLimits). Spec().Limits always holds the
// documented defaults; a scheduler that honours per-account overrides should
// prefer this.
func (p *Provider) Limits() []providers.RateLimit { return p.set.limits }

// Client returns the provider's API client (the CLI's digicert commands
// share its key and rate limiters).
func (p *Provider) Client() *api.Client { return p.client }

// Discover lists every pending order, and for each name still waiting on
// DCV returns the record that proves control of it. With prevalidate on it
// then adds the account domains whose DCV is pending (see prevalidate.go);
// their challenges carry Order "domain:<id>".
//
// Orders on email DCV are switched to the configured DNS method when
// switch_email_orders is on (the default) and skipped otherwise. Orders on
// a non-DNS method (http-token) are skipped. A failure on one order is
// logged and the others go on; a failure to list orders is returned.
func (p *Provider) Discover(ctx context.Context) ([]providers.Challenge, error) {
	var out []providers.Challenge
	err := p.DiscoverEach(ctx, func(chs []providers.Challenge) error {
		out = append(out, chs...)
		return nil
	})
	return out, err
}

var _ providers.Streamer = (*Provider)(nil)

// DiscoverEach is Discover handing each order's challenges to found as soon
// as they are known (providers.Streamer): the engine stores them at once,
// so a process killed during a long discovery keeps what it found.
func (p *Provider) DiscoverEach(ctx context.Context, found func([]providers.Challenge) error) error {
	orders, err := p.client.AllOrders(ctx, "pending", p.set.pageSize)
	if err != nil {
		return fmt.Errorf("digicert %q: list pending orders: %w", p.name, err)
	}
	var failed []error
	covered := map[string]bool{}
	// The orders' own calls (validation, random value) are made
	// discoverParallel orders at a time, within the account's rate limits
	// (the client waits on them); the orders are handed over in list order.
	type got struct {
		chs []providers.Challenge
		err error
	}
	for start := 0; start < len(orders); start += discoverChunk {
		part := orders[start:min(start+discoverChunk, len(orders))]
		res := make([]got, len(part))
		var g errgroup.Group
		g.SetLimit(discoverParallel)
		for i, o := range part {
			g.Go(func() error { res[i].chs, res[i].err = p.discoverOrder(ctx, o); return nil })
		}
		g.Wait()
		for i, r := range res {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := r.err; err != nil {
				if ctx.Err() != nil {
					return err
				}
				// Credentials that stop working fail the whole pass.
				if sc := apiclient.StatusOf(err); sc == http.StatusUnauthorized {
					return err
				}
				p.log.Warn("digicert order skipped", "order", part[i].ID.String(), "err", err)
				failed = append(failed, err)
				continue
			}
			for _, ch := range r.chs {
				covered[ch.Name] = true
			}
			if len(r.chs) > 0 {
				if err := found(r.chs); err != nil {
					return err
				}
			}
		}
	}
	if p.set.prevalid || p.set.revalidate > 0 {
		dchs, err := p.discoverDomains(ctx, covered)
		if len(dchs) > 0 {
			if ferr := found(dchs); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			if ctx.Err() != nil || apiclient.StatusOf(err) == http.StatusUnauthorized {
				return fmt.Errorf("digicert %q: prevalidation: %w", p.name, err)
			}
			// Orders go on without prevalidation this pass.
			p.log.Warn("digicert prevalidation skipped this pass", "err", err)
		}
	}
	if len(orders) > 0 && len(failed) == len(orders) {
		return fmt.Errorf("digicert %q: every pending order failed: %w", p.name, errors.Join(failed...))
	}
	return nil
}

// discoverParallel orders are read at once during discovery, in chunks of
// discoverChunk handed over in list order.
const (
	discoverParallel = 8
	discoverChunk    = 64
)

// discoverOrder returns the challenges of one pending order.
func (p *Provider) discoverOrder(ctx context.Context, o api.Order) ([]providers.Challenge, error) {
	id := o.ID.String()
	v, err := p.client.OrderValidation(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("order %s: validation status: %w", id, err)
	}
	if s := v.OrderStatus; s != "" && s != "pending" {
		return nil, nil
	}
	names := pendingNames(o, v, p.log)
	var todo []api.NameValidation
	for _, nv := range names {
		if inDomains(nv.NameScope, p.domains) {
			todo = append(todo, nv)
		}
	}
	if len(todo) == 0 {
		return nil, nil
	}
	method := strings.ToLower(v.OrderDCVMethod)
	if method == "" {
		method = strings.ToLower(o.DCVMethod)
	}
	var rv *api.RandomValue
	switch method {
	case MethodTXT, MethodCNAME:
	case MethodEmail, "":
		if !p.set.switchMail {
			p.log.Info("digicert order uses email DCV; switch_email_orders is off", "order", id)
			return nil, nil
		}
		rv, err = p.client.SetOrderDCVMethod(ctx, id, p.set.method)
		if err != nil {
			return nil, fmt.Errorf("order %s: switch DCV method to %s: %w", id, p.set.method, err)
		}
		p.log.Info("digicert order switched from email DCV", "order", id, "method", p.set.method)
		method = p.set.method
	default:
		p.log.Info("digicert order uses a non-DNS DCV method; skipped", "order", id, "method", method)
		return nil, nil
	}
	if rv == nil {
		rv, err = p.client.RandomValue(ctx, id)
		if err != nil {
			switch apiclient.StatusOf(err) {
			case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict:
				// Nothing to hand out: usually every name is validated already.
				p.log.Debug("digicert order has no random value; skipped", "order", id, "err", err)
				return nil, nil
			}
			return nil, fmt.Errorf("order %s: random value: %w", id, err)
		}
	}
	if rv.DCVRandomValue == "" {
		return nil, fmt.Errorf("order %s: DigiCert returned an empty random value", id)
	}
	exp := rv.Expires()
	orderNames := certNames(o)
	all := allNames(o, v)
	seen := map[string]bool{}
	var out []providers.Challenge
	for _, nv := range todo {
		name := providers.BaseName(nv.NameScope)
		rec := p.set.recordFor(method, name, rv.DCVRandomValue)
		if seen[name+"|"+rec.Key()] {
			continue
		}
		seen[name+"|"+rec.Key()] = true
		out = append(out, providers.Challenge{Order: id, Name: name, Record: rec, Expires: exp, Ref: nv.DomainID.String(),
			OrderNames: orderNames, CAANames: providers.CAANamesFor(name, all)})
	}
	return out, nil
}

// certNames returns the names the order's certificate covers (common name
// and SANs, wildcards reduced to their base): the engine checks every
// validated name against them.
func certNames(o api.Order) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range append([]string{o.Certificate.CommonName}, o.Certificate.DNSNames...) {
		if n = providers.BaseName(n); n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// allNames returns every certificate name the order and its validation
// entries carry, wildcards as they are ("*.b"): DigiCert validates a
// wildcard on its base, so one record at b serves b and *.b alike, and the
// challenge's CAA names (CAA issuewild for *.b) are picked from these.
func allNames(o api.Order, v *api.OrderValidation) []string {
	out := append([]string{o.Certificate.CommonName}, o.Certificate.DNSNames...)
	for _, nv := range v.DNSNameValidations {
		// Not nv.NameScope: the scope a name is validated on is not a
		// certificate name (a wildcard-only order's scope is its base).
		out = append(out, nv.DNSName)
		out = append(out, nv.DNSNames...)
	}
	return out
}

// pendingNames returns the entries of v that still need DCV, one per
// validated name (wildcards reduced to their base, duplicates merged). An
// entry without name_scope stands for each of its dns_names. When DigiCert
// lists no entries at all, the order's common name and SANs are used.
func pendingNames(o api.Order, v *api.OrderValidation, log *slog.Logger) []api.NameValidation {
	var out []api.NameValidation
	seen := map[string]bool{}
	add := func(nv api.NameValidation, name string) {
		name = providers.BaseName(name)
		if name == "" || seen[name] {
			return
		}
		seen[name] = true
		nv.NameScope = name
		out = append(out, nv)
	}
	approved := map[string]bool{}
	for _, nv := range v.DNSNameValidations {
		if nameStatus(nv.Status, log) == providers.Validated {
			approved[providers.BaseName(nv.NameScope)] = true
			for _, n := range nv.DNSNames {
				approved[providers.BaseName(n)] = true
			}
		}
	}
	for _, nv := range v.DNSNameValidations {
		if nameStatus(nv.Status, log) == providers.Validated {
			continue
		}
		switch {
		case nv.NameScope != "":
			add(nv, nv.NameScope)
		case nv.DNSName != "":
			add(nv, nv.DNSName)
		default:
			for _, n := range nv.DNSNames {
				add(nv, n)
			}
		}
	}
	if len(v.DNSNameValidations) == 0 {
		names := append([]string{o.Certificate.CommonName}, o.Certificate.DNSNames...)
		for _, n := range names {
			if !approved[providers.BaseName(n)] {
				add(api.NameValidation{Status: "pending"}, n)
			}
		}
	}
	return out
}

// nameStatus maps a dns_name_validations status. Only "approved" is
// documented; every other value is treated as pending (unknown ones are
// logged once per call so they can be added).
func nameStatus(s string, log *slog.Logger) providers.Status {
	switch strings.ToLower(s) {
	case "approved", "active", "complete", "completed", "valid", "validated":
		return providers.Validated
	case "", "pending", "not_validated", "awaiting", "in_progress", "submitted":
		return providers.Pending
	}
	if log != nil {
		log.Info("digicert: unknown name validation status, treated as pending", "status", s)
	}
	return providers.Pending
}

// orderFailed returns a reason when an order status means DigiCert will not
// validate its names any more.
func orderFailed(status string) (string, bool) {
	switch strings.ToLower(status) {
	case "canceled", "cancelled", "rejected", "revoked", "expired", "denied":
		return "order " + strings.ToLower(status), true
	}
	return "", false
}

// Submit asks DigiCert to check the order's DCV now (check-dcv) and maps the
// answer to one Outcome per challenge (a "domain:<id>" order goes to the
// domain's validate-token instead, see submitDomain):
//
//   - 400 invalid_dns_txt: the names DigiCert has approved are Validated,
//     the others NotVisible with DigiCert's message;
//   - 200 with order_status "issued": all Validated;
//   - 200 with dns_name_validations: "approved" names Validated, others Pending;
//   - 200 in the legacy shape (no per-name list): the validation endpoint decides;
//   - another 4xx (invalid_dns_method, order not pending): the validation
//     endpoint decides whether the order is done, failed or still pending;
//     if it cannot tell, the error is returned.
func (p *Provider) Submit(ctx context.Context, order string, chs []providers.Challenge) ([]providers.Outcome, error) {
	if id, ok := domainID(order); ok {
		return p.submitDomain(ctx, order, id, chs)
	}
	res, err := p.client.CheckDCV(ctx, order)
	if err != nil {
		var apiErr *apiclient.Error
		if !errors.As(err, &apiErr) || apiErr.Status >= 500 || apiErr.Status == http.StatusUnauthorized ||
			apiErr.Status == http.StatusForbidden || apiErr.Status == http.StatusTooManyRequests {
			return nil, fmt.Errorf("digicert %q: check-dcv order %s: %w", p.name, order, err)
		}
		if apiErr.Has("invalid_dns_txt") {
			outs := make([]providers.Outcome, len(chs))
			for i := range outs {
				outs[i] = providers.Outcome{Status: providers.NotVisible, Reason: apiErr.Message()}
			}
			if v, perr := p.client.OrderValidation(ctx, order); perr == nil {
				for i, o := range p.outcomes(v, chs) {
					if o.Status == providers.Validated || o.Status == providers.Failed {
						outs[i] = o
					}
				}
			}
			return outs, nil
		}
		if apiErr.Has("invalid_dns_method") {
			reason := "order does not use a DNS DCV method: " + apiErr.Message()
			outs := make([]providers.Outcome, len(chs))
			for i := range outs {
				outs[i] = providers.Outcome{Status: providers.Failed, Reason: reason}
			}
			return outs, nil
		}
		v, perr := p.client.OrderValidation(ctx, order)
		if perr != nil {
			return nil, fmt.Errorf("digicert %q: check-dcv order %s: %w", p.name, order, err)
		}
		outs := p.outcomes(v, chs)
		if decided(outs) {
			return outs, nil
		}
		return nil, fmt.Errorf("digicert %q: check-dcv order %s: %w", p.name, order, err)
	}
	if strings.EqualFold(res.OrderStatus, "issued") {
		return all(chs, providers.Outcome{Status: providers.Validated}), nil
	}
	if reason, ok := orderFailed(res.OrderStatus); ok {
		return all(chs, providers.Outcome{Status: providers.Failed, Reason: reason}), nil
	}
	if len(res.DNSNameValidations) == 0 {
		return p.Poll(ctx, order, chs)
	}
	var v api.OrderValidation
	for _, d := range res.DNSNameValidations {
		v.DNSNameValidations = append(v.DNSNameValidations, api.NameValidation{DNSName: d.DNSName, Status: d.Status})
	}
	// check-dcv looks every pending name up while it answers: a name its
	// answer leaves "pending" is one DigiCert did not find, as the 400
	// invalid_dns_txt says of all of them at once. It is NotVisible, so the
	// engine asks again with backoff; DigiCert does not look again because
	// it is polled (its own re-checks start a minute later, spec §3.7). A
	// status other than "pending" or "approved" (none is documented) stays
	// Pending and is polled.
	left := map[string]bool{}
	for _, d := range res.DNSNameValidations {
		if strings.EqualFold(d.Status, "pending") {
			left[providers.BaseName(d.DNSName)] = true
		}
	}
	outs := p.outcomes(&v, chs)
	for i, o := range outs {
		if o.Status == providers.Pending && left[providers.BaseName(chs[i].Name)] {
			outs[i] = providers.Outcome{Status: providers.NotVisible,
				Reason: "check-dcv left the name pending: DigiCert did not find the record when it looked"}
		}
	}
	return outs, nil
}

// Poll reads the order's validation state without triggering a check (a
// "domain:<id>" order reads the domain's, see pollDomain).
func (p *Provider) Poll(ctx context.Context, order string, chs []providers.Challenge) ([]providers.Outcome, error) {
	if id, ok := domainID(order); ok {
		return p.pollDomain(ctx, order, id, chs)
	}
	v, err := p.client.OrderValidation(ctx, order)
	if err != nil {
		if apiclient.StatusOf(err) == http.StatusNotFound {
			return all(chs, providers.Outcome{Status: providers.Failed, Reason: "order not found: " + err.Error()}), nil
		}
		return nil, fmt.Errorf("digicert %q: poll order %s: %w", p.name, order, err)
	}
	return p.outcomes(v, chs), nil
}

// outcomes maps a validation response onto chs.
func (p *Provider) outcomes(v *api.OrderValidation, chs []providers.Challenge) []providers.Outcome {
	if strings.EqualFold(v.OrderStatus, "issued") {
		return all(chs, providers.Outcome{Status: providers.Validated})
	}
	if reason, ok := orderFailed(v.OrderStatus); ok {
		return all(chs, providers.Outcome{Status: providers.Failed, Reason: reason})
	}
	status := map[string]providers.Status{}
	allApproved := len(v.DNSNameValidations) > 0
	for _, nv := range v.DNSNameValidations {
		st := nameStatus(nv.Status, p.log)
		if st != providers.Validated {
			allApproved = false
		}
		names := append([]string{nv.NameScope, nv.DNSName}, nv.DNSNames...)
		for _, n := range names {
			if n = providers.BaseName(n); n == "" {
				continue
			}
			if prev, ok := status[n]; !ok || prev == providers.Validated {
				status[n] = st // a pending entry wins over an approved one
			}
		}
	}
	outs := make([]providers.Outcome, len(chs))
	for i, ch := range chs {
		st, ok := status[providers.BaseName(ch.Name)]
		switch {
		case ok:
			outs[i] = providers.Outcome{Status: st}
		case allApproved:
			outs[i] = providers.Outcome{Status: providers.Validated}
		default:
			outs[i] = providers.Outcome{Status: providers.Pending}
		}
	}
	return outs
}

func all(chs []providers.Challenge, o providers.Outcome) []providers.Outcome {
	outs := make([]providers.Outcome, len(chs))
	for i := range outs {
		outs[i] = o
	}
	return outs
}

// decided reports whether every outcome is terminal.
func decided(outs []providers.Outcome) bool {
	for _, o := range outs {
		if o.Status != providers.Validated && o.Status != providers.Failed {
			return false
		}
	}
	return len(outs) > 0
}
