// Package cloudflare publishes DCV records in Cloudflare DNS zones through
// the official SDK, github.com/cloudflare/cloudflare-go/v6, with an API
// token.
//
// Cloudflare stores one record per value, so the backend never rewrites an
// RRset: Add creates a record for each value that is not there yet
// (POST /zones/{zone_id}/dns_records), Remove deletes exactly the records
// whose name, type and value are dcvd's (DELETE .../dns_records/{id}). An
// SPF record or another order's challenge at the same name is another
// record and is never touched. Zone ids are looked up by name once
// (GET /zones?name=) unless configured.
//
// TXT content is sent in the quoted presentation form Cloudflare asks for
// (`"..."`, 255-octet strings, `"` and `\` escaped) and compared by value.
// The SDK stays inside this package: the rest of dcvd never imports it.
// Only its dns and zones services are used (the root package would compile
// every Cloudflare product into the binary).
package cloudflare

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	cfdns "github.com/cloudflare/cloudflare-go/v6/dns"
	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/zones"
	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/ratelimit"
	"github.com/dcvd/dcvd/internal/secret"
)

// Type is the value of `type` in a [[dns]] table.
const Type = "cloudflare"

// Defaults for options left empty.
const (
	DefaultTimeout = 30 * time.Second
	DefaultTTL     = 60 // Cloudflare's minimum outside Enterprise
)

// sdkRetries is how often the SDK repeats a call after 429, 5xx or a
// transport error (it honours Retry-After and backs off otherwise).
var sdkRetries = 3

// DefaultRateLimit stays well below Cloudflare's global 1200 requests per 5
// minutes per user.
var DefaultRateLimit = ratelimit.Limit{N: 1000, Window: 5 * time.Minute}

// Options are the keys of a [[dns]] table with type = "cloudflare".
type Options struct {
	// The API token (Zone.DNS:Edit on the zones, Zone:Read to find them).
	APIToken           string `toml:"api_token"`
	APITokenFile       string `toml:"api_token_file"`
	APITokenCredential string `toml:"api_token_credential"`
	// ZoneIDs maps zone names to ids, sparing the lookup (and the
	// Zone:Read permission). Optional.
	ZoneIDs map[string]string `toml:"zone_ids"`
	// BaseURL overrides https://api.cloudflare.com/client/v4/ (a simulator).
	BaseURL string `toml:"base_url"`
	// Timeout bounds each request (default "30s").
	Timeout dnspublish.Duration `toml:"timeout"`
	// TTL of the records (default 60; 1 means Cloudflare's "automatic").
	TTL uint32 `toml:"ttl"`
	// RateLimit bounds the API calls (default "1000/5m").
	RateLimit dnspublish.Rate `toml:"rate_limit"`
}

// Spec describes the backend to the configuration loader, with its
// `dcvd sandbox cloudflare`.
func Spec() dnspublish.Spec {
	s := dnspublish.SpecFor(Type, New)
	s.Sandbox = sandboxCommand
	return s
}

// Publisher writes records with one API token.
type Publisher struct {
	dnspublish.Identity
	dnspublish.Changer
	label   string
	records *cfdns.RecordService
	zones   *zones.ZoneService
	limit   *ratelimit.Limiter
	ttl     uint32
	timeout time.Duration
	log     *slog.Logger

	mu  sync.Mutex
	ids map[string]string // zone name (canonical) → zone id
}

var (
	_ dnspublish.Publisher = (*Publisher)(nil)
	_ dnspublish.Checker   = (*Publisher)(nil)
)

// New validates o and returns a Publisher. It reads the token; no network I/O.
func New(base dnspublish.Base, o Options) (*Publisher, error) {
	id, label, err := dnspublish.NewIdentity(Type, base)
	if err != nil {
		return nil, err
	}
	fail := dnspublish.Failf[*Publisher](label)
	ref := secret.Ref{Key: "api_token", Inline: o.APIToken, File: o.APITokenFile, Credential: o.APITokenCredential}
	if !ref.Set() {
		return fail("api_token, api_token_file or api_token_credential is required")
	}
	token, err := ref.Read()
	if err != nil {
		return fail("%v", err)
	}
	p := &Publisher{Identity: id, label: label, ttl: o.TTL, timeout: o.Timeout.Or(DefaultTimeout), log: base.Logger, ids: map[string]string{}}
	p.Changer = p.change
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.ttl == 0 {
		p.ttl = DefaultTTL
	}
	for name, zid := range o.ZoneIDs {
		z := dns.CanonicalName(name)
		if !p.has(z) {
			return fail("zone_ids: %s is not one of the zones", name)
		}
		p.ids[z] = zid
	}
	p.limit = ratelimit.Shared(label, []ratelimit.Limit{o.RateLimit.Or(DefaultRateLimit)})
	opts := []option.RequestOption{
		option.WithEnvironmentProduction(),
		option.WithAPIToken(token),
		option.WithRequestTimeout(p.timeout),
		option.WithMaxRetries(sdkRetries),
		option.WithHTTPClient(&http.Client{}),
		option.WithMiddleware(p.middleware),
	}
	if o.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(strings.TrimRight(o.BaseURL, "/")+"/"))
	}
	p.records = cfdns.NewRecordService(opts...)
	p.zones = zones.NewZoneService(opts...)
	return p, nil
}

// callKey carries a *callInfo in a request's context.
type callKey struct{}

// callInfo is what the middleware saw of a call's last attempt.
type callInfo struct {
	method, path string
	status       int
	body         []byte
}

// middleware applies the rate limit to every attempt (the SDK's retries
// included) and keeps the status and error body of the last one.
func (p *Publisher) middleware(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	if err := p.limit.Wait(req.Context()); err != nil {
		return nil, err
	}
	resp, err := next(req)
	ci, ok := req.Context().Value(callKey{}).(*callInfo)
	if !ok || resp == nil {
		return resp, err
	}
	ci.method, ci.path, ci.status = req.Method, req.URL.Path, resp.StatusCode
	if resp.StatusCode >= 400 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		ci.body = b
	}
	return resp, err
}

// apiError is a failed call, one line: method, path, status and
// Cloudflare's own codes and messages.
type apiError struct {
	Status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// call runs fn with a context that lets the middleware report on it, and
// turns an SDK error into an apiError.
func (p *Publisher) call(ctx context.Context, fn func(ctx context.Context) error) error {
	ci := &callInfo{}
	err := fn(context.WithValue(ctx, callKey{}, ci))
	if err == nil || ci.status < 400 {
		return err
	}
	var body struct {
		Errors []struct {
			Code    int64  `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	var parts []string
	if json.Unmarshal(ci.body, &body) == nil {
		for _, d := range body.Errors {
			parts = append(parts, fmt.Sprintf("%d: %q", d.Code, d.Message))
		}
	}
	detail := http.StatusText(ci.status)
	if len(parts) > 0 {
		detail = strings.Join(parts, "; ")
	}
	return &apiError{Status: ci.status, msg: fmt.Sprintf("%s %s: %d %s", ci.method, ci.path, ci.status, detail)}
}

func (p *Publisher) has(zone string) bool {
	for _, z := range p.Zones() {
		if z == zone {
			return true
		}
	}
	return false
}

// statusOf is the HTTP status of a failed call, or 0.
func statusOf(err error) int {
	var e *apiError
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// zoneID returns the id of zone, looking it up by name once.
func (p *Publisher) zoneID(ctx context.Context, zone string) (string, error) {
	p.mu.Lock()
	id, ok := p.ids[zone]
	p.mu.Unlock()
	if ok {
		return id, nil
	}
	name := strings.TrimSuffix(zone, ".")
	var params zones.ZoneListParams
	params.Name.Value, params.Name.Present = name, true
	var found []zones.Zone
	err := p.call(ctx, func(ctx context.Context) error {
		page, err := p.zones.List(ctx, params)
		if err == nil {
			found = page.Result
		}
		return err
	})
	if err != nil {
		return "", err
	}
	for _, z := range found {
		if strings.EqualFold(z.Name, name) {
			p.mu.Lock()
			p.ids[zone] = z.ID
			p.mu.Unlock()
			return z.ID, nil
		}
	}
	return "", fmt.Errorf("zone %s not found (not in the account, or the token may not read it)", name)
}

// Check looks every zone up (dcvd config check --online).
func (p *Publisher) Check(ctx context.Context) error {
	return dnspublish.CheckZones(ctx, p.label, p.Zones(), func(ctx context.Context, z string) error {
		zid, err := p.zoneID(ctx, z)
		if err == nil {
			_, err = p.list(ctx, zid, z)
		}
		return err
	})
}

// list returns the records at name (every type), all pages.
func (p *Publisher) list(ctx context.Context, zid, name string) ([]cfdns.RecordResponse, error) {
	var out []cfdns.RecordResponse
	for pg := 1; pg <= 50; pg++ {
		// The SDK's field types live in its internal package: set them
		// field by field.
		var q cfdns.RecordListParams
		q.ZoneID.Value, q.ZoneID.Present = zid, true
		q.Name.Value.Exact.Value, q.Name.Value.Exact.Present, q.Name.Present = strings.TrimSuffix(name, "."), true, true
		q.Page.Value, q.Page.Present = float64(pg), true
		q.PerPage.Value, q.PerPage.Present = 100, true
		var got []cfdns.RecordResponse
		err := p.call(ctx, func(ctx context.Context) error {
			res, err := p.records.List(ctx, q)
			if err == nil {
				got = res.Result
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
		if len(got) < 100 {
			break
		}
	}
	return out, nil
}
