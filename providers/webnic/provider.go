package webnic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/webnic/internal/api"
)

// Provider is one WebNIC reseller API credential.
type Provider struct {
	name    string
	client  *api.Client
	set     *settings
	domains []string
	log     *slog.Logger

	mu    sync.Mutex
	polls map[string]*pollState // order id -> when WebNIC may be asked again
	names map[string][]string   // order id -> the certificate's names (order info)
}

// pollState paces the DCV status checks of one order.
type pollState struct {
	attempt int
	next    time.Time
	last    string // WebNIC's last words: "orderStatus PENDING, certStatus INITIAL"
}

var _ providers.Provider = (*Provider)(nil)

// Open validates the options, reads the password and builds the provider.
// It does no network I/O (the token is minted by the first call).
func Open(ctx context.Context, base providers.Base, o *Options) (*Provider, error) {
	s, password, err := o.open(base)
	if err != nil {
		return nil, fmt.Errorf("webnic %q: %w", base.Name, err)
	}
	p := &Provider{name: base.Name, set: s, domains: base.Domains, log: base.Logger, polls: map[string]*pollState{}, names: map[string][]string{}}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.log = p.log.With("ca", base.Name)
	p.client = api.New(api.Config{
		BaseURL: s.baseURL, Username: s.username, Password: password, Timeout: s.timeout, Retries: s.retries, Backoff: s.retry,
		Limiter: base.Limiter("webnic:"+base.Name+":"+s.username, s.limits), Logger: p.log,
	})
	return p, nil
}

// Name is the configured account name.
func (p *Provider) Name() string { return p.name }

// Limits returns the request limits this account is configured with.
func (p *Provider) Limits() []providers.RateLimit { return p.set.limits }

// pendingStatuses are the orderStatus values searched for orders that may
// wait on DCV (spec §3.9; which one means "awaiting DCV" is not documented).
var pendingStatuses = []string{"PENDING", "IN_PROCESS", "PROCESSED", "PENDING_REISSUE", "INITIAL"}

// finished reports whether an order is done with DCV for good, and whether
// that means issued.
func finished(orderStatus, certStatus string) (done, issued bool) {
	os, cs := strings.ToUpper(orderStatus), strings.ToUpper(certStatus)
	switch {
	case os == "COMPLETED" || cs == "ACTIVE":
		return true, true
	case os == "REJECTED" || os == "CANCELLED" || os == "EXPIRED" || os == "REFUNDED" || os == "REVOKED":
		return true, false
	case cs == "REVOKED" || cs == "CANCELLED" || cs == "EXPIRED" || cs == "FAILED":
		return true, false
	}
	return false, false
}

// fatal reports errors that stop a whole discovery pass: the credential or
// the caller's address is refused, or the context ended.
func fatal(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, api.ErrIPBlocked) || errors.Is(err, api.ErrUsername) || errors.Is(err, api.ErrPassword) {
		return true
	}
	s := apiclient.StatusOf(err)
	return s == http.StatusUnauthorized || s == http.StatusForbidden
}

// Discover searches every order in a pending status (every page), leaves
// finished, cancelled, rejected and expired orders alone, reads each
// order's challenges, switches orders on email or file DCV to DNS when
// switch_email_orders is on, and returns one challenge per name: exactly
// the host, record type and value WebNIC gave. An order that vanished
// between the search and its auth info is skipped; a failure on one order
// is logged and the others go on; a refused credential fails the pass.
func (p *Provider) Discover(ctx context.Context) ([]providers.Challenge, error) {
	orders, err := p.pendingOrders(ctx)
	if err != nil {
		return nil, fmt.Errorf("webnic %q: search orders: %w", p.name, err)
	}
	var out []providers.Challenge
	var failed []error
	for _, o := range orders {
		chs, err := p.discoverOrder(ctx, o)
		switch {
		case err == nil:
			out = append(out, chs...)
		case errors.Is(err, api.ErrNotFound):
			p.log.Info("webnic order vanished before its challenge was read; skipped", "order", string(o.OrderID), "err", err)
		case fatal(ctx, err):
			return out, fmt.Errorf("webnic %q: %w", p.name, err)
		default:
			p.log.Warn("webnic order skipped", "order", string(o.OrderID), "err", err)
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 && len(failed) == len(orders) {
		return out, fmt.Errorf("webnic %q: every pending order failed: %w", p.name, errors.Join(failed...))
	}
	return out, nil
}

// pendingOrders runs one search per pending status, every page, and keeps
// the orders that are not finished (checked again here: a server that
// ignores a filter must not make dcvd touch a finished order).
func (p *Provider) pendingOrders(ctx context.Context) ([]api.OrderSummary, error) {
	var out []api.OrderSummary
	seen := map[api.Text]bool{}
	for _, st := range pendingStatuses {
		items, err := p.client.SearchAll(ctx, []api.Filter{{Field: "orderStatus", Operator: "EQUAL", Value: st}}, p.set.pageSize)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if it.OrderID == "" || seen[it.OrderID] {
				continue
			}
			if done, _ := finished(it.OrderStatus, it.CertStatus); done || !isPending(it.OrderStatus) {
				continue
			}
			seen[it.OrderID] = true
			out = append(out, it)
		}
	}
	return out, nil
}

func isPending(status string) bool {
	for _, s := range pendingStatuses {
		if strings.EqualFold(s, status) {
			return true
		}
	}
	return false
}

// discoverOrder returns the challenges of one order.
func (p *Provider) discoverOrder(ctx context.Context, o api.OrderSummary) ([]providers.Challenge, error) {
	id := string(o.OrderID)
	auth, err := p.client.AuthInfo(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("order %s: auth info: %w", id, err)
	}
	items := auth.All()
	if len(items) == 0 {
		return nil, fmt.Errorf("order %s: auth info lists no names", id)
	}
	var mine []api.Challenge
	onDNS := true
	for _, c := range items {
		if inDomains(c.Name, p.domains) {
			mine = append(mine, c)
			onDNS = onDNS && onDNSDCV(c)
		}
	}
	if len(mine) == 0 {
		return nil, nil // none of its names is ours
	}
	if !onDNS {
		if !p.set.switchMail {
			p.log.Info("webnic order is not on DNS DCV and switch_email_orders is off; left alone", "order", id, "auth_type", mine[0].AuthType)
			return nil, nil
		}
		auth, err = p.client.ChangeAuth(ctx, id, "dns", false)
		if err != nil {
			return nil, fmt.Errorf("order %s: switch DCV to dns: %w", id, err)
		}
		p.log.Info("webnic order switched to DNS DCV", "order", id, "from", mine[0].AuthType)
		mine = mine[:0]
		for _, c := range auth.All() {
			if inDomains(c.Name, p.domains) {
				mine = append(mine, c)
			}
		}
	}
	orderNames, err := p.orderNames(ctx, o, mine)
	if err != nil {
		return nil, err
	}
	var out []providers.Challenge
	seen := map[string]int{}
	for _, c := range mine {
		if !onDNSDCV(c) {
			return nil, fmt.Errorf("order %s: name %s is still on %q DCV after the switch to dns", id, c.Name, c.AuthType)
		}
		name, rec, err := recordFor(c)
		if err != nil {
			return nil, fmt.Errorf("order %s: %w", id, err)
		}
		// A wildcard and its base share a record: the challenge's CAA
		// names are both items' names ("*." asks issuewild).
		caa := providers.CAANamesFor(name, []string{c.Name})
		if i, ok := seen[name+"|"+rec.Key()]; ok {
			out[i].CAANames = providers.CAANamesFor(name, append(out[i].CAANames, caa...))
			continue
		}
		seen[name+"|"+rec.Key()] = len(out)
		out = append(out, providers.Challenge{Order: id, Name: name, Record: rec, OrderNames: orderNames, CAANames: caa})
	}
	return out, nil
}

// orderNames returns the names the order's certificate covers, which the
// engine checks every challenge against. They come from the order itself,
// not from the challenge reply: the search gave the common name; when the
// challenges name anything else, the SANs are read once from Get Order Info
// (sanfield) and remembered.
func (p *Provider) orderNames(ctx context.Context, o api.OrderSummary, chs []api.Challenge) ([]string, error) {
	id, cn := string(o.OrderID), providers.BaseName(o.CommonName)
	single := cn != ""
	for _, c := range chs {
		single = single && providers.BaseName(c.Name) == cn
	}
	if single {
		return []string{cn}, nil
	}
	p.mu.Lock()
	names, ok := p.names[id]
	p.mu.Unlock()
	if ok {
		return names, nil
	}
	info, err := p.client.OrderInfo(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("order %s: order info: %w", id, err)
	}
	for _, n := range append([]string{info.CommonName, o.CommonName}, info.SANs...) {
		if n = providers.BaseName(n); n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	p.mu.Lock()
	p.names[id] = names
	p.mu.Unlock()
	return names, nil
}

// onDNSDCV reports whether a challenge is a DNS one: authType "dns" (any
// case, or a "dns..." variant), or no authType at all but a host and a
// value (the field is absent in some third-party shapes).
func onDNSDCV(c api.Challenge) bool {
	return strings.HasPrefix(c.AuthType, "dns") || (c.AuthType == "" && c.Host != "" && c.Value != "")
}

// Submit asks WebNIC for a DCV status check of the order now (GET
// /ssl/v2/orders/{id}/dcv-status) and maps the answer onto every challenge.
func (p *Provider) Submit(ctx context.Context, order string, chs []providers.Challenge) ([]providers.Outcome, error) {
	p.mu.Lock()
	delete(p.polls, order) // a fresh submit restarts the pacing
	p.mu.Unlock()
	return p.check(ctx, order, chs, false)
}

// Poll asks WebNIC again, paced per order: soon after publishing, then
// backing off from poll_min to poll_max (Sectigo re-checks on a schedule of
// its own that is not published). Between two checks it answers Pending
// with WebNIC's last status without calling WebNIC.
func (p *Provider) Poll(ctx context.Context, order string, chs []providers.Challenge) ([]providers.Outcome, error) {
	p.mu.Lock()
	st := p.polls[order]
	if st != nil && time.Now().Before(st.next) {
		reason := fmt.Sprintf("WebNIC said %s; next check at %s", st.last, st.next.UTC().Format("15:04:05Z"))
		p.mu.Unlock()
		return all(chs, providers.Outcome{Status: providers.Pending, Reason: reason}), nil
	}
	p.mu.Unlock()
	return p.check(ctx, order, chs, true)
}

// check calls dcv-status and maps it: COMPLETED or certStatus ACTIVE →
// Validated; rejected, cancelled, expired, refunded, revoked → Failed;
// anything else → Pending with WebNIC's status as the reason. An order
// that no longer exists fails its challenges when polled; a submit returns
// the error (the engine retries it, then fails the rows).
func (p *Provider) check(ctx context.Context, order string, chs []providers.Challenge, poll bool) ([]providers.Outcome, error) {
	st, err := p.client.DCVStatus(ctx, order)
	if poll && errors.Is(err, api.ErrNotFound) {
		return all(chs, providers.Outcome{Status: providers.Failed, Reason: "order not found at WebNIC: " + err.Error()}), nil
	}
	if err != nil {
		return nil, fmt.Errorf("webnic %q: dcv status of order %s: %w", p.name, order, err)
	}
	last := fmt.Sprintf("orderStatus %s, certStatus %s", orDash(st.OrderStatus), orDash(st.CertStatus))
	done, issued := finished(st.OrderStatus, st.CertStatus)
	p.mu.Lock()
	defer p.mu.Unlock()
	if done {
		delete(p.polls, order)
		if issued {
			return all(chs, providers.Outcome{Status: providers.Validated}), nil
		}
		return all(chs, providers.Outcome{Status: providers.Failed, Reason: "order " + last}), nil
	}
	ps := p.polls[order]
	if ps == nil {
		ps = &pollState{}
		p.polls[order] = ps
	}
	ps.next = time.Now().Add(p.set.poll.Delay(ps.attempt))
	ps.attempt++
	ps.last = last
	return all(chs, providers.Outcome{Status: providers.Pending, Reason: "WebNIC said " + last}), nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// all gives every challenge the same outcome.
func all(chs []providers.Challenge, o providers.Outcome) []providers.Outcome {
	return slices.Repeat([]providers.Outcome{o}, len(chs))
}
