package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/internal/backoff"
)

// Base URLs (spec §1). A credential belongs to one environment.
const (
	BaseURLProduction = "https://api.webnic.cc"
	BaseURLOTE        = "https://oteapi.webnic.cc"
)

// Paths. The approver-email paths are not documented anywhere (spec §3.5):
// they are this project's guess, shared with sandbox/webnic.
const (
	PathToken         = "/reseller/v2/api-user/token"
	PathSearch        = "/ssl/v2/orders/search"
	PathOrderInfo     = "/ssl/v2/orders/info"
	PathAuthInfo      = "/ssl/v2/orders/%s/auth/info"
	PathAuth          = "/ssl/v2/orders/%s/auth"
	PathDCVStatus     = "/ssl/v2/orders/%s/dcv-status"
	PathApprovers     = "/ssl/v2/domainValidations/approver-list"
	PathApproverEmail = "/ssl/v2/orders/%s/approver-email"
	PathSendApprover  = "/ssl/v2/orders/%s/approver-email/send"
)

// TokenEarly is how long before expiry a token is replaced (WebNIC's own
// SDK keeps its 60-minute tokens for 50 minutes), at most a sixth of the
// token's lifetime, so that a short-lived token is not re-minted per call.
const TokenEarly = 5 * time.Minute

// tokenUse returns how long a token that lives life is used.
func tokenUse(life time.Duration) time.Duration {
	return life - min(TokenEarly, life/6)
}

// Config configures a Client.
type Config struct {
	BaseURL  string
	Username string
	Password string
	HTTP     *http.Client
	Limiter  apiclient.Waiter
	Timeout  time.Duration
	Retries  int
	Backoff  backoff.Policy
	Logger   *slog.Logger
}

// Client is a WebNIC SSL API client for one API credential. Safe for
// concurrent use.
type Client struct {
	http *apiclient.Client
	cfg  Config
}

// New returns a client. It does no I/O; the first call mints the token.
func New(cfg Config) *Client {
	c := &Client{cfg: cfg}
	c.http = apiclient.New(apiclient.Config{
		Service: "webnic", BaseURL: cfg.BaseURL, Timeout: cfg.Timeout, HTTP: cfg.HTTP,
		Auth:    apiclient.Bearer(c.mint, 0), // mint's expiry already holds the margin
		Limiter: cfg.Limiter, Backoff: cfg.Backoff,
		Retries: cfg.Retries, Decode: DecodeError, Logger: cfg.Logger,
	})
	return c
}

// Credential failures at token time, and the IP allow-list refusal, named
// so that the one-line error says what to fix.
var (
	ErrUsername  = errors.New("username rejected")
	ErrPassword  = errors.New("password rejected")
	ErrIPBlocked = errors.New("this host's IP address is not on the API credential's allow-list")
	ErrNotFound  = errors.New("order not found")
)

// mint gets a token (POST /reseller/v2/api-user/token). Minting twice is
// harmless, so the call is retried like a read. WebNIC answers a wrong
// username with HTTP 500 RES5001, which is not retried as a server fault; a
// genuine 500 is then asked again with the usual retries.
func (c *Client) mint(ctx context.Context) (string, time.Time, error) {
	body := map[string]string{"username": c.cfg.Username, "password": c.cfg.Password}
	var env Envelope
	resp, err := c.http.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: PathToken, JSON: body,
		Out: &env, NoAuth: true, ReadOnly: true, OK: []int{http.StatusInternalServerError}})
	if err == nil && resp.Status == http.StatusInternalServerError {
		codes, _ := DecodeError(resp.Status, resp.Body)
		e := &apiclient.Error{Service: "webnic", Method: http.MethodPost, Path: PathToken, Status: resp.Status, Codes: codes}
		if e.Has("RES5001") {
			return "", time.Time{}, fmt.Errorf("%w: %w", ErrUsername, e)
		}
		env = Envelope{}
		resp, err = c.http.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: PathToken, JSON: body, Out: &env, NoAuth: true, ReadOnly: true})
	}
	if err != nil {
		if s := apiclient.StatusOf(err); s == http.StatusUnauthorized || s == http.StatusForbidden || (s == http.StatusBadRequest && !apiclient.HasCode(err, "SSL4002")) {
			return "", time.Time{}, fmt.Errorf("%w: %w", ErrPassword, err)
		}
		return "", time.Time{}, err
	}
	var tok Token
	if err := c.check(http.MethodPost, PathToken, resp, &env, &tok); err != nil {
		return "", time.Time{}, err
	}
	if tok.AccessToken == "" {
		return "", time.Time{}, &apiclient.Error{Service: "webnic", Method: http.MethodPost, Path: PathToken, Status: resp.Status, Detail: "reply has no access_token"}
	}
	life := time.Duration(tok.ExpiresIn) * time.Second
	if life <= 0 {
		life = time.Hour // documented lifetime
	}
	return tok.AccessToken, time.Now().Add(tokenUse(life)), nil
}

// check verifies a 2xx envelope says success and decodes its data into out
// (nil: ignored). A success without data is fine when out is nil.
func (c *Client) check(method, path string, resp *apiclient.Response, env *Envelope, out any) error {
	fail := func(detail string) error {
		return &apiclient.Error{Service: "webnic", Method: method, Path: path, Status: resp.Status, Detail: detail}
	}
	if resp.Status == 0 {
		return nil // reconciled: the call took effect, no body
	}
	if !env.OK() {
		codes := envelopeCodes(env)
		if len(codes) == 0 {
			return fail(fmt.Sprintf("reply code %q is not %q", env.Code, CodeOK))
		}
		return &apiclient.Error{Service: "webnic", Method: method, Path: path, Status: resp.Status, Codes: codes}
	}
	if out == nil {
		return nil
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return fail("reply has no data")
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fail(fmt.Sprintf("unexpected data shape (%v): %s", err, apiclient.Snippet(env.Data)))
	}
	return nil
}

// call sends one request and decodes its data into out. The IP allow-list
// refusal gets its named error wrapped around the *apiclient.Error.
func (c *Client) call(ctx context.Context, r apiclient.Request, out any) error {
	var env Envelope
	r.Out = &env
	resp, err := c.http.Do(ctx, r)
	if err == nil {
		err = c.check(r.Method, r.Path, resp, &env, out)
	}
	if apiclient.HasCode(err, "RES0004") || apiclient.HasCode(err, "DOM0004") {
		return fmt.Errorf("%w: %w", ErrIPBlocked, err)
	}
	return err
}

// orderCall is call for a request about one order: "no such order" gets
// ErrNotFound wrapped around it.
func (c *Client) orderCall(ctx context.Context, r apiclient.Request, out any) error {
	err := c.call(ctx, r, out)
	if err != nil && isNotFound(err) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// isNotFound recognises "no such order": HTTP 404 with an envelope, or a
// 4xx business error whose message says not found (the SSL sub-codes are
// not documented).
func isNotFound(err error) bool {
	var e *apiclient.Error
	if !errors.As(err, &e) || e.Status < 400 || e.Status >= 500 || e.Status == 401 || e.Status == 403 || e.Status == 429 {
		return false
	}
	for _, c := range e.Codes {
		if strings.Contains(strings.ToLower(c.Message), "not found") || strings.Contains(strings.ToLower(c.Message), "not exist") {
			return true
		}
	}
	return e.Status == http.StatusNotFound && len(e.Codes) > 0 && e.Codes[0].Code != "Not Found"
}

// Search returns one page of orders matching filters.
func (c *Client) Search(ctx context.Context, filters []Filter, page, size int) (*SearchPage, error) {
	var out SearchPage
	err := c.call(ctx, apiclient.Request{Method: http.MethodPost, Path: PathSearch, ReadOnly: true,
		JSON: SearchRequest{Filters: filters, Pagination: Pagination{Page: page, PageSize: size}}}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// maxPages bounds one search walk (a server that never says it is done).
const maxPages = 10000

// SearchAll walks every page of a search: until totalPages, or, when the
// reply does not say, until a short or empty page — or a page holding only
// orders already seen (a server that ignores the page number).
func (c *Client) SearchAll(ctx context.Context, filters []Filter, size int) ([]OrderSummary, error) {
	var all []OrderSummary
	seen := map[Text]bool{}
	for page := 1; page <= maxPages; page++ {
		p, err := c.Search(ctx, filters, page, size)
		if err != nil {
			return all, err
		}
		fresh := 0
		for _, it := range p.Items {
			if !seen[it.OrderID] {
				seen[it.OrderID] = true
				all = append(all, it)
				fresh++
			}
		}
		if fresh == 0 || int(p.TotalPages) <= page && (p.TotalPages > 0 || len(p.Items) < size) {
			return all, nil
		}
	}
	return all, nil
}

// OrderInfo reads GET /ssl/v2/orders/info?orderId=.
func (c *Client) OrderInfo(ctx context.Context, id string) (*OrderInfo, error) {
	var out OrderInfo
	err := c.orderCall(ctx, apiclient.Request{Method: http.MethodGet, Path: PathOrderInfo, Query: url.Values{"orderId": {id}}}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// AuthInfo reads an order's challenges (GET /ssl/v2/orders/{id}/auth/info).
func (c *Client) AuthInfo(ctx context.Context, id string) (*AuthData, error) {
	var out AuthData
	if err := c.orderCall(ctx, apiclient.Request{Method: http.MethodGet, Path: apiclient.Path(PathAuthInfo, id)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ChangeAuth switches an order's DCV method (PUT /ssl/v2/orders/{id}/auth)
// and returns the new challenges. PUT is retried after an ambiguous failure
// (it sets a state; repeating it changes nothing more). A success without
// the challenges in the reply (reconciled, or no data) reads them with
// AuthInfo.
func (c *Client) ChangeAuth(ctx context.Context, id, authType string, sendGuide bool) (*AuthData, error) {
	var out AuthData
	err := c.orderCall(ctx, apiclient.Request{Method: http.MethodPut, Path: apiclient.Path(PathAuth, id),
		JSON: AuthRequest{AuthType: authType, SendAuthGuideEmail: sendGuide}}, &out)
	if err != nil && !isNoData(err) {
		return nil, err
	}
	if err != nil || len(out.All()) == 0 {
		return c.AuthInfo(ctx, id)
	}
	return &out, nil
}

// isNoData: a successful reply without data.
func isNoData(err error) bool {
	var e *apiclient.Error
	return errors.As(err, &e) && e.Status >= 200 && e.Status < 300 && e.Detail == "reply has no data"
}

// DCVStatus asks for a DCV status check (GET /ssl/v2/orders/{id}/dcv-status).
func (c *Client) DCVStatus(ctx context.Context, id string) (*DCVStatus, error) {
	var out DCVStatus
	if err := c.orderCall(ctx, apiclient.Request{Method: http.MethodGet, Path: apiclient.Path(PathDCVStatus, id)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Approvers lists the approver addresses of a domain (a leading "*." is
// stripped first, as WebNIC expects the base name).
func (c *Client) Approvers(ctx context.Context, domain string) (Approvers, error) {
	var out Approvers
	q := url.Values{"commonName": {strings.TrimPrefix(domain, "*.")}}
	if err := c.call(ctx, apiclient.Request{Method: http.MethodGet, Path: PathApprovers, Query: q}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateApprover sets the approver address of an order on email DCV.
func (c *Client) UpdateApprover(ctx context.Context, id, email string) (*AuthData, error) {
	var out AuthData
	err := c.orderCall(ctx, apiclient.Request{Method: http.MethodPut, Path: apiclient.Path(PathApproverEmail, id),
		JSON: ApproverRequest{ApproverEmail: email}}, &out)
	if err != nil && !isNoData(err) {
		return nil, err
	}
	return &out, nil
}

// SendApprover (re)sends the approval email of an order on email DCV. It
// is not repeated after an ambiguous failure (it would send twice).
func (c *Client) SendApprover(ctx context.Context, id string) error {
	return c.orderCall(ctx, apiclient.Request{Method: http.MethodPost, Path: apiclient.Path(PathSendApprover, id)}, nil)
}
