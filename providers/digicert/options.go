package digicert

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dcvd/dcvd/internal/backoff"
	"github.com/dcvd/dcvd/internal/secret"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/digicert/internal/api"
	sandbox "github.com/dcvd/dcvd/sandbox/digicert"
)

// Options is the DigiCert part of a [[ca]] table (type = "digicert").
//
//	[[ca]]
//	type = "digicert"
//	name = "digicert-main"
//	region = "us"                         # or "eu"; or base_url = "..."
//	api_key_file = "/etc/dcvd/digicert.key"
//	method = "dns-txt"                    # or "dns-cname"
type Options struct {
	// BaseURL overrides the API base (the [[ca]] base_url key also reaches
	// the provider through providers.Base.BaseURL).
	BaseURL string `toml:"base_url"`
	// Region picks the instance when no base URL is set: "us" (default) or "eu".
	Region string `toml:"region"`

	APIKey           string `toml:"api_key"`
	APIKeyFile       string `toml:"api_key_file"`
	APIKeyCredential string `toml:"api_key_credential"`

	// SwitchEmailOrders switches pending orders that use email DCV to the
	// configured DNS method (default true). When false such orders are
	// left alone.
	SwitchEmailOrders *bool `toml:"switch_email_orders"`
	// Prevalidate makes discovery also validate the account's domains
	// (OV/EV prevalidation, GET /domain), not only pending orders (default
	// false). Domains on email DCV are switched to the configured method
	// only when switch_email_orders is on.
	Prevalidate bool `toml:"prevalidate"`
	// CNAMEForm: "dnsauth" (default, `_dnsauth.<name> CNAME
	// <random>.dcv.digicert.com`) or "legacy" (`<random>.<name> CNAME
	// dcv.digicert.com`).
	CNAMEForm string `toml:"cname_form"`
	// TXTName: "name" (default, TXT at the validated name) or "dnsauth"
	// (TXT at `_dnsauth.<name>`, which only resellers document — UNVERIFIED).
	TXTName string `toml:"txt_name"`
	// PageSize of list-orders requests (default 100).
	PageSize int `toml:"page_size"`
	// Timeout of one HTTP request (default 30s), as a Go duration string.
	Timeout string `toml:"timeout"`
	// RateLimits override the client-side limits, e.g.
	// [{n = 100, window = "5s"}, {n = 1000, window = "3m"}].
	RateLimits []LimitOption `toml:"rate_limits"`
	// BackoffMin, BackoffMax, BackoffRetries tune the 429 backoff
	// (defaults 5s, 3m, 6).
	BackoffMin     string `toml:"backoff_min"`
	BackoffMax     string `toml:"backoff_max"`
	BackoffRetries *int   `toml:"backoff_retries"`
	// RevalidateBefore ("30d", default off) renews each account domain's
	// validation that long before it expires: discovery takes the domain
	// up as a domain challenge (as prevalidate does for pending ones), at a
	// point spread over the first third of the window (inventory.go).
	RevalidateBefore string `toml:"revalidate_before"`
}

// DefaultLimits are DigiCert's documented per-key limits: 100 requests per
// 5 seconds and 1000 per 3 minutes (an older page says 5 minutes; the
// stricter figure is used). Going over either gives 429 on every request
// until the window drains. The client waits for ratelimit.Shared, one
// limiter per account for every goroutine, which uses each window in full.
var DefaultLimits = []providers.RateLimit{
	{N: 100, Window: 5 * time.Second},
	{N: 1000, Window: 3 * time.Minute},
}

// Defaults of the 429/5xx backoff: exponential with jitter from BackoffMin,
// doubling up to BackoffMax, at most BackoffRetries retries per request. A
// 429's Retry-After, when DigiCert sends one, replaces the delay.
const (
	DefaultBackoffMin     = 5 * time.Second
	DefaultBackoffMax     = 3 * time.Minute
	DefaultBackoffRetries = 6
)

// LimitOption is one configured rate limit.
type LimitOption struct {
	N      int    `toml:"n"`
	Window string `toml:"window"`
}

// Spec describes the "digicert" CA type to the configuration loader.
func Spec() providers.Spec {
	return providers.Spec{
		Type:    "digicert",
		Options: func() any { return &Options{} },
		Open: func(ctx context.Context, base providers.Base, options any) (providers.Provider, error) {
			o, ok := options.(*Options)
			if !ok || o == nil {
				return nil, fmt.Errorf("digicert: options: got %T, want *digicert.Options", options)
			}
			p, err := Open(ctx, base, o)
			if err != nil {
				return nil, err // not a typed nil in the interface
			}
			return p, nil
		},
		Limits:        DefaultLimits,
		Labels:        Labels,
		IssuerDomains: []string{"digicert.com"},
		Commands:      commands,
		Sandbox:       sandbox.Command,
		Demo:          sandbox.Demo,
	}
}

// Labels are the owners DigiCert documents beneath a validated name: the
// name itself (TXT), _dnsauth (TXT for resellers, CNAME), and for
// cname_form = "legacy" the random value itself, which must look like one
// (DigiCert hands out 32 lower-case letters and digits) before it becomes
// a label.
var Labels = []string{"", "_dnsauth", "[a-z0-9]{16,64}"}

// settings are validated Options.
type settings struct {
	baseURL    string
	key        secret.Ref
	switchMail bool
	prevalid   bool
	method     string // "dns-txt-token" | "dns-cname-token"
	cnameForm  string
	txtName    string
	pageSize   int
	limits     []providers.RateLimit
	timeout    time.Duration
	backoff    backoff.Policy
	retries    int
	revalidate time.Duration
}

func (o *Options) validate(base providers.Base) (*settings, error) {
	s := &settings{
		key:        secret.Ref{Key: "api_key", Inline: o.APIKey, File: o.APIKeyFile, Credential: o.APIKeyCredential},
		switchMail: o.SwitchEmailOrders == nil || *o.SwitchEmailOrders,
		prevalid:   o.Prevalidate,
		cnameForm:  strings.ToLower(o.CNAMEForm),
		txtName:    strings.ToLower(o.TXTName),
		pageSize:   o.PageSize,
	}
	switch {
	case o.BaseURL != "" && base.BaseURL != "" && o.BaseURL != base.BaseURL:
		return nil, fmt.Errorf("base_url given twice with different values")
	case o.BaseURL != "":
		s.baseURL = o.BaseURL
	case base.BaseURL != "":
		s.baseURL = base.BaseURL
	}
	switch strings.ToLower(o.Region) {
	case "", "us":
		if s.baseURL == "" {
			s.baseURL = api.BaseURLUS
		}
	case "eu":
		if s.baseURL == "" {
			s.baseURL = api.BaseURLEU
		}
	default:
		return nil, fmt.Errorf("region %q: want \"us\" or \"eu\"", o.Region)
	}
	if !s.key.Set() {
		return nil, fmt.Errorf("api_key: not set (use api_key_file or api_key_credential)")
	}
	switch strings.ToLower(base.Method) {
	case "", "dns-txt", "dns-txt-token", "txt":
		s.method = MethodTXT
	case "dns-cname", "dns-cname-token", "cname":
		s.method = MethodCNAME
	default:
		return nil, fmt.Errorf("method %q: want \"dns-txt\" or \"dns-cname\"", base.Method)
	}
	switch s.cnameForm {
	case "":
		s.cnameForm = "dnsauth"
	case "dnsauth", "legacy":
	default:
		return nil, fmt.Errorf("cname_form %q: want \"dnsauth\" or \"legacy\"", o.CNAMEForm)
	}
	switch s.txtName {
	case "":
		s.txtName = "name"
	case "name", "dnsauth":
	default:
		return nil, fmt.Errorf("txt_name %q: want \"name\" or \"dnsauth\"", o.TXTName)
	}
	if s.pageSize == 0 {
		s.pageSize = 100
	}
	if s.pageSize < 1 || s.pageSize > 1000 {
		return nil, fmt.Errorf("page_size %d: want 1..1000", o.PageSize)
	}
	if o.Timeout != "" {
		d, err := time.ParseDuration(o.Timeout)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("timeout %q: want a positive duration like \"30s\"", o.Timeout)
		}
		s.timeout = d
	}
	if o.RateLimits != nil {
		var ls []providers.RateLimit
		for i, l := range o.RateLimits {
			d, err := time.ParseDuration(l.Window)
			if err != nil || d <= 0 || l.N <= 0 {
				return nil, fmt.Errorf("rate_limits[%d]: want n > 0 and a window like \"5s\"", i)
			}
			ls = append(ls, providers.RateLimit{N: l.N, Window: d})
		}
		s.limits = ls
	} else {
		s.limits = DefaultLimits
	}
	bmin, bmax, n := DefaultBackoffMin, DefaultBackoffMax, DefaultBackoffRetries
	{
		var err error
		if o.BackoffMin != "" {
			if bmin, err = time.ParseDuration(o.BackoffMin); err != nil || bmin < 0 {
				return nil, fmt.Errorf("backoff_min %q: want a duration", o.BackoffMin)
			}
		}
		if o.BackoffMax != "" {
			if bmax, err = time.ParseDuration(o.BackoffMax); err != nil || bmax < bmin {
				return nil, fmt.Errorf("backoff_max %q: want a duration >= backoff_min", o.BackoffMax)
			}
		}
		if o.BackoffRetries != nil {
			if n = *o.BackoffRetries; n < 0 {
				return nil, fmt.Errorf("backoff_retries %d: want >= 0", n)
			}
		}
	}
	if o.RevalidateBefore != "" {
		d, err := providers.ParseWindow(o.RevalidateBefore)
		if err != nil {
			return nil, fmt.Errorf("revalidate_before %w", err)
		}
		s.revalidate = d
	}
	s.backoff, s.retries = backoff.Policy{Min: bmin, Max: bmax}, n
	if n == 0 {
		s.retries = -1 // apiclient: 0 is its default, < 0 none
	}
	return s, nil
}
