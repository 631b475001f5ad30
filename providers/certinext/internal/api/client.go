package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/internal/backoff"
)

// Prefix is the path of every v2 resource below the host.
const Prefix = "/api/certinext/v2"

// Config describes one CERTInext account.
type Config struct {
	// BaseURL is the API host ("https://us-api.certinext.io"), without
	// Prefix.
	BaseURL string
	// Account is the account number (the OAuth client_id); Secret the
	// client secret from the portal (Integrations → APIs → OAuth mode).
	Account, Secret string
	Timeout         time.Duration
	HTTP            *http.Client
	Limiter         apiclient.Waiter
	Backoff         backoff.Policy
	Retries         int
	Logger          *slog.Logger
	Now             func() time.Time // token clock (default time.Now)
}

// Client calls the CERTInext API v2 for one account. Safe for concurrent
// use; every goroutine shares one access token.
type Client struct {
	api *apiclient.Client
	tok *tokens
}

// New returns a client. It does no I/O: the first call mints a token.
func New(cfg Config) *Client {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	common := apiclient.Config{Service: "certinext", Timeout: cfg.Timeout, HTTP: cfg.HTTP, Limiter: cfg.Limiter,
		Backoff: cfg.Backoff, Retries: cfg.Retries, Decode: DecodeError, Logger: log}
	root := common
	root.BaseURL = base
	t := &tokens{http: apiclient.New(root), account: cfg.Account, secret: cfg.Secret, now: now, log: log}
	api := common
	api.BaseURL = base + Prefix
	// The expiry the mint reports already has the early margin taken off.
	api.Auth = apiclient.Bearer(t.mint, 0)
	return &Client{api: apiclient.New(api), tok: t}
}

// TokenStats returns how often the token endpoint granted a token.
func (c *Client) TokenStats() TokenStats { return c.tok.Stats() }

// Me checks the credentials: GET /auth/me.
func (c *Client) Me(ctx context.Context) (*Me, error) {
	var out Me
	_, err := c.api.Do(ctx, apiclient.Request{Path: "/auth/me", Out: &out})
	return &out, err
}

// DomainQuery filters a domain list. The server filters are sent as given;
// the spec warns that some combinations answer 400 and that search by
// substring is empty in production, so callers filter client-side too.
type DomainQuery struct {
	DomainStatus []string
	DCVStatus    []string
	Search       string
}

// ListDomains reads one page of GET /domains, sorted by name (a stable
// total order; the default order skips and repeats rows across pages).
func (c *Client) ListDomains(ctx context.Context, q DomainQuery, offset, limit int) (*Page[Domain], error) {
	v := url.Values{"offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(limit)},
		"sortBy": {"domainName"}, "sortDir": {"asc"}}
	if len(q.DomainStatus) > 0 {
		v.Set("domainStatus", strings.Join(q.DomainStatus, ","))
	}
	if len(q.DCVStatus) > 0 {
		v.Set("dcvStatus", strings.Join(q.DCVStatus, ","))
	}
	if q.Search != "" {
		v.Set("search", q.Search)
	}
	var p Page[Domain]
	_, err := c.api.Do(ctx, apiclient.Request{Path: "/domains", Query: v, Out: &p})
	return &p, err
}

// maxPages caps every page loop.
const maxPages = 1000

// AllDomains reads every page of GET /domains (limit per page, at most
// 200), deduplicated by domainId. It stops at a short page, a page with
// nothing new (a bare array that ignores offset), or the envelope's total.
func (c *Client) AllDomains(ctx context.Context, q DomainQuery, limit int) ([]Domain, error) {
	if limit <= 0 || limit > 200 {
		limit = 200
	}
	var out []Domain
	seen := map[Text]bool{}
	for off, n := 0, 0; n < maxPages; off, n = off+limit, n+1 {
		p, err := c.ListDomains(ctx, q, off, limit)
		if err != nil {
			return out, fmt.Errorf("list domains at offset %d: %w", off, err)
		}
		fresh := 0
		for _, d := range p.Content {
			if d.DomainID == "" || seen[d.DomainID] {
				continue
			}
			seen[d.DomainID] = true
			out = append(out, d)
			fresh++
		}
		if len(p.Content) < limit || fresh == 0 || (!p.Bare && p.TotalElements > 0 && off+limit >= p.TotalElements) {
			break
		}
	}
	return out, nil
}

// Domain reads GET /domains/{id}.
func (c *Client) Domain(ctx context.Context, id string) (*Domain, error) {
	var d Domain
	_, err := c.api.Do(ctx, apiclient.Request{Path: apiclient.Path("/domains/%s", id), Out: &d})
	return &d, err
}

// AddDomain creates an account domain (POST /domains {"name"}). A 409
// (already in the account) is an *apiclient.Error; ExistingDomainID reads
// the ID it may carry. After an ambiguous failure (a lost or truncated
// answer) the list is searched for the name before the call is repeated;
// the repeat also carries the same Idempotency-Key (accepted by CERTInext's
// create endpoints, spec §1; whether the domain endpoint honours it is not
// known).
func (c *Client) AddDomain(ctx context.Context, name string) (*Domain, error) {
	var d Domain
	var found *Domain
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: "/domains",
		JSON: map[string]string{"name": name}, Out: &d, Header: http.Header{"Idempotency-Key": {idempotencyKey()}},
		Reconcile: func(ctx context.Context) (bool, error) {
			f, err := c.FindDomain(ctx, name)
			found = f
			return f != nil, err
		}})
	if err != nil {
		return nil, err
	}
	if found != nil {
		return found, nil
	}
	return &d, nil
}

// FindDomain returns the ACTIVE account domain called name (or, failing
// that, any domain of that name), or nil. It asks the server with an exact
// search and checks the answer itself.
func (c *Client) FindDomain(ctx context.Context, name string) (*Domain, error) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	list, err := c.AllDomains(ctx, DomainQuery{Search: name}, 200)
	if err != nil {
		return nil, err
	}
	var found *Domain
	for i := range list {
		if strings.EqualFold(list[i].DomainName, name) && (found == nil || strings.EqualFold(list[i].Status, "ACTIVE")) {
			found = &list[i]
		}
	}
	return found, nil
}

// DomainDCV reads GET /domains/{id}/dcv: the method and, while a token is
// active, the challenge (the token is generated on first read).
func (c *Client) DomainDCV(ctx context.Context, id string) (*Challenge, error) {
	var ch Challenge
	_, err := c.api.Do(ctx, apiclient.Request{Path: apiclient.Path("/domains/%s/dcv", id), Out: &ch})
	return &ch, err
}

// SetDomainMethod changes a domain's DCV method (PATCH
// /domains/{id}/dcv/method). It mints a fresh token even when the method is
// unchanged, invalidating the old one.
func (c *Client) SetDomainMethod(ctx context.Context, id, method string) (*Challenge, error) {
	var ch Challenge
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodPatch, Path: apiclient.Path("/domains/%s/dcv/method", id),
		JSON: map[string]string{"dcvMethod": method}, Out: &ch,
		// Repeating it mints yet another token, which the caller reads next.
		Reconcile: func(context.Context) (bool, error) { return false, nil }})
	return &ch, err
}

// VerifyDomain asks CERTInext to check a domain's DCV now (POST
// /domains/{id}/dcv/verify). A 422 "not verified" is a *VerifyFailed.
func (c *Client) VerifyDomain(ctx context.Context, id string) (*VerifyResult, error) {
	return c.verify(ctx, apiclient.Path("/domains/%s/dcv/verify", id), nil)
}

// VerifyOrder asks CERTInext to check one name of an order (POST
// /ssl-certificates/{id}/dcv/verify {"domain","method":"dns-txt"}).
func (c *Client) VerifyOrder(ctx context.Context, id, domain string) (*VerifyResult, error) {
	return c.verify(ctx, apiclient.Path("/ssl-certificates/%s/dcv/verify", id),
		map[string]string{"domain": domain, "method": MethodDNSTXT})
}

func (c *Client) verify(ctx context.Context, path string, body any) (*VerifyResult, error) {
	var raw json.RawMessage // a truncated 2xx body is then retried
	r := apiclient.Request{Method: http.MethodPost, Path: path, OK: []int{http.StatusUnprocessableEntity}, Out: &raw,
		// A verify is a check: repeating it after a lost answer is harmless.
		Reconcile: func(context.Context) (bool, error) { return false, nil }}
	if body != nil {
		r.JSON = body
	}
	resp, err := c.api.Do(ctx, r)
	if err != nil {
		return nil, err
	}
	var v VerifyResult
	switch {
	case resp.Status == http.StatusUnprocessableEntity:
		f := &VerifyFailed{Path: path}
		if err := json.Unmarshal(resp.Body, &f.Problem); err != nil {
			return nil, &apiclient.Error{Service: "certinext", Method: http.MethodPost, Path: path, Status: resp.Status,
				Detail: "malformed JSON in the 422 body: " + apiclient.Snippet(resp.Body)}
		}
		return nil, f
	case resp.Status == http.StatusNoContent || len(strings.TrimSpace(string(resp.Body))) == 0:
		v.NoContent = true
	default:
		if err := json.Unmarshal(resp.Body, &v); err != nil {
			return nil, &apiclient.Error{Service: "certinext", Method: http.MethodPost, Path: path, Status: resp.Status,
				Detail: "malformed JSON response: " + apiclient.Snippet(resp.Body)}
		}
	}
	return &v, nil
}

// VerifyFailed is a verify answered 422: CERTInext looked and did not find
// the record (overallStatus FAILED). Problem holds the body, with the
// diagnostics when the CA sent them.
type VerifyFailed struct {
	Path    string
	Problem Problem
}

func (f *VerifyFailed) Error() string {
	msg := cmpOr(f.Problem.Detail, f.Problem.Title, f.Problem.Message, "verification failed")
	s := fmt.Sprintf("certinext: POST %s: 422 %s", f.Path, strconv.Quote(msg))
	if d := f.Problem.Diagnostics; d != nil {
		s += ": " + d.Summary()
	}
	return s
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// Summary is the diagnostics in one line, for logs and `dcvd status`:
//
//	attempt 2026-05-01T10:00:00Z FAILED (RECORD_NOT_FOUND): expected TXT _emudhra-challenge.example.com "tok"; 0/3 perspectives agreed
func (d *Diagnostics) Summary() string {
	var b strings.Builder
	b.WriteString("attempt")
	if d.AttemptTimestamp != "" {
		b.WriteString(" " + string(d.AttemptTimestamp))
	}
	if d.OverallStatus != "" {
		b.WriteString(" " + d.OverallStatus)
	}
	if d.FailureClass != "" {
		b.WriteString(" (" + d.FailureClass + ")")
	}
	if d.Expected.DomainName != "" || d.Expected.RecordValue != "" {
		fmt.Fprintf(&b, ": expected TXT %s %q", d.Expected.DomainName, d.Expected.RecordValue)
	}
	if q := d.Consensus.TotalPerspectivesQueried; q != "" {
		agreed := string(d.Consensus.PerspectiveCount)
		if _, err := strconv.Atoi(string(d.Consensus.Agreed)); err == nil {
			agreed = string(d.Consensus.Agreed)
		}
		if agreed != "" {
			fmt.Fprintf(&b, "; %s/%s perspectives agreed", agreed, q)
		}
	}
	if d.TokenIsStale {
		b.WriteString("; token is stale")
	}
	return b.String()
}

// Deactivate deactivates a domain (POST /domains/{id}/deactivate).
func (c *Client) Deactivate(ctx context.Context, id string) (*Domain, error) {
	var d Domain
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: apiclient.Path("/domains/%s/deactivate", id), Out: &d,
		Reconcile: func(ctx context.Context) (bool, error) {
			cur, err := c.Domain(ctx, id)
			if err != nil {
				return false, err
			}
			if !strings.EqualFold(cur.Status, "ACTIVE") {
				d = *cur
				return true, nil
			}
			return false, nil
		}})
	return &d, err
}

// Attempts reads one page of a domain's verification history, newest first.
func (c *Client) Attempts(ctx context.Context, id string, offset, limit int) (*Page[Attempt], error) {
	var p Page[Attempt]
	_, err := c.api.Do(ctx, apiclient.Request{Path: apiclient.Path("/domains/%s/dcv/attempts", id),
		Query: url.Values{"offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(limit)}}, Out: &p})
	return &p, err
}

// LastAttempt reads a domain's last verification attempt; nil when there
// is none (404).
func (c *Client) LastAttempt(ctx context.Context, id string) (*LastAttempt, error) {
	var a LastAttempt
	resp, err := c.api.Do(ctx, apiclient.Request{Path: apiclient.Path("/domains/%s/dcv/attempts/last", id), Out: &a,
		OK: []int{http.StatusNotFound}})
	if err != nil {
		return nil, err
	}
	if resp.Status == http.StatusNotFound {
		return nil, nil
	}
	return &a, nil
}

// AllOrders reads every page of GET /reports/orders (1-based pages of at
// most 100), deduplicated by orderId.
func (c *Client) AllOrders(ctx context.Context, size int) ([]OrderSummary, error) {
	if size <= 0 || size > 100 {
		size = 100
	}
	var out []OrderSummary
	seen := map[Text]bool{}
	for page := 1; page <= maxPages; page++ {
		var p Page[OrderSummary]
		if _, err := c.api.Do(ctx, apiclient.Request{Path: "/reports/orders",
			Query: url.Values{"page": {strconv.Itoa(page)}, "size": {strconv.Itoa(size)}}, Out: &p}); err != nil {
			return out, fmt.Errorf("list orders, page %d: %w", page, err)
		}
		fresh := 0
		for _, o := range p.Content {
			if o.OrderID != "" && !seen[o.OrderID] {
				seen[o.OrderID] = true
				out = append(out, o)
				fresh++
			}
		}
		if len(p.Content) < size || fresh == 0 || (!p.Bare && p.TotalPages > 0 && page >= p.TotalPages) {
			break
		}
	}
	return out, nil
}

// Order reads GET /ssl-certificates/{id}.
func (c *Client) Order(ctx context.Context, id string) (*Order, error) {
	var o Order
	_, err := c.api.Do(ctx, apiclient.Request{Path: apiclient.Path("/ssl-certificates/%s", id), Out: &o})
	return &o, err
}

// OrderDCV reads the DNS-TXT challenge of one name of an order (GET
// /ssl-certificates/{id}/dcv?domain=<fqdn>&method=dns-txt), in whichever
// shape it comes (DecodeOrderChallenges), keyed by the name asked for.
func (c *Client) OrderDCV(ctx context.Context, id, domain string) (*Challenge, error) {
	// Decoding into a RawMessage makes a truncated body an error that is retried.
	var raw json.RawMessage
	resp, err := c.api.Do(ctx, apiclient.Request{Path: apiclient.Path("/ssl-certificates/%s/dcv", id),
		Query: url.Values{"domain": {domain}, "method": {MethodDNSTXT}}, Out: &raw})
	if err != nil {
		return nil, err
	}
	fail := func(detail string) error {
		return &apiclient.Error{Service: "certinext", Method: http.MethodGet, Path: apiclient.Path("/ssl-certificates/%s/dcv", id),
			Status: resp.Status, Detail: detail}
	}
	list, err := DecodeOrderChallenges(resp.Body)
	if err != nil {
		return nil, fail("malformed JSON response: " + apiclient.Snippet(resp.Body))
	}
	want := strings.TrimPrefix(strings.ToLower(domain), "*.")
	for i := range list {
		got := strings.TrimPrefix(strings.ToLower(strings.TrimSuffix(list[i].Domain, ".")), "*.")
		if got == want || (got == "" && len(list) == 1) {
			ch := list[i]
			ch.Domain = want
			if ch.Value == "" {
				return nil, fail("no token for " + domain + " in " + apiclient.Snippet(resp.Body))
			}
			return &ch, nil
		}
	}
	return nil, fail("no challenge for " + domain + " in " + apiclient.Snippet(resp.Body))
}

// idempotencyKey returns a random UUID (version 4) for an Idempotency-Key.
func idempotencyKey() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
