package certinext

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dcvd/dcvd/internal/backoff"
	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/internal/secret"
	"github.com/dcvd/dcvd/providers"
	sandbox "github.com/dcvd/dcvd/sandbox/certinext"
)

// API hosts (spec §1). The v2 resources live under /api/certinext/v2 below
// them and the token endpoint at /oauth/token.
const (
	BaseURLSandbox      = "https://sandbox-us-api.certinext.io"
	BaseURLProductionUS = "https://us-api.certinext.io"
	BaseURLProduction   = "https://api.certinext.io" // India / global
)

// DefaultLabel is the TXT owner label used when the API names no host
// (spec §5.4): the record goes to _emudhra-challenge.<name>.
const DefaultLabel = "_emudhra-challenge"

// DefaultLimits are the client-side request limits of an account. CERTInext
// documents no v2 quota (spec §1, open question 7); these stay well under
// the v1 sandbox's observed burst limit for reads and writes alike. Override
// with rate_limits.
var DefaultLimits = []providers.RateLimit{{N: 100, Window: 10 * time.Second}, {N: 2000, Window: 10 * time.Minute}}

// Options is the CERTInext part of a [[ca]] table (type = "certinext").
//
//	[[ca]]
//	type = "certinext"
//	name = "certinext-main"
//	environment = "production-us"     # "sandbox", "production-us", "production"; base_url overrides
//	account_number = "100200300"
//	client_secret_file = "/etc/dcvd/credentials/certinext.secret"
//	prevalidate = true
//	revalidate_before = "30d"         # renew validations expiring within 30 days (default off)
//	txt_label = ""                    # "" = _emudhra-challenge; "@" = the name itself
type Options struct {
	// BaseURL overrides the environment's API host (also reachable as the
	// generic [[ca]] base_url key).
	BaseURL string `toml:"base_url"`
	// Environment picks the API host: "sandbox", "production-us" (default)
	// or "production" (India/global).
	Environment string `toml:"environment"`
	// AccountNumber is the CERTInext account number, the OAuth client_id.
	AccountNumber string `toml:"account_number"`
	// ClientSecret (or _file, _credential): the OAuth client secret from the
	// portal (Integrations → APIs → OAuth mode).
	ClientSecret           string `toml:"client_secret"`
	ClientSecretFile       string `toml:"client_secret_file"`
	ClientSecretCredential string `toml:"client_secret_credential"`
	// Prevalidate makes discovery also validate the account's pending
	// domains (domain-level DCV), not only orders waiting on DCV.
	Prevalidate bool `toml:"prevalidate"`
	// RevalidateBefore ("30d", default off) renews each account domain's
	// validation that far ahead of its validTill: discovery takes the
	// domain up as a domain challenge with a fresh token (PATCH of its
	// DCV method), at a point in the first third of the window fixed by
	// its ID (see revalidate.go).
	RevalidateBefore string `toml:"revalidate_before"`
	// SwitchEmailDomains switches account domains on email DCV to dns-txt
	// during prevalidation (default true).
	SwitchEmailDomains *bool `toml:"switch_email_domains"`
	// TXTLabel is the owner label when the API names no host: "" =
	// DefaultLabel, "@" = the validated name itself, or another label.
	TXTLabel string `toml:"txt_label"`
	// PageSize of domain lists (1..200, default 100); order lists use at
	// most 100.
	PageSize int `toml:"page_size"`
	// Timeout of one HTTP request (default 30s).
	Timeout config.Duration `toml:"timeout"`
	// RateLimits replace DefaultLimits: [{n = 100, window = "10s"}].
	RateLimits []LimitOption `toml:"rate_limits"`
	// BackoffMin and BackoffMax bound the retry backoff after 429/5xx
	// (defaults 1s and 1m); Retries is the number of extra attempts
	// (default 4; 0 keeps the default, -1 none).
	BackoffMin config.Duration `toml:"backoff_min"`
	BackoffMax config.Duration `toml:"backoff_max"`
	Retries    int             `toml:"retries"`
}

// Spec describes the "certinext" CA type.
func Spec() providers.Spec {
	return providers.Spec{
		Type:     "certinext",
		Options:  func() any { return &Options{} },
		Open:     openAny,
		Limits:   DefaultLimits,
		Labels:   Labels,
		Commands: commands,
		Sandbox:  sandbox.Command,
		Demo:     sandbox.Demo,
	}
}

// Labels are the TXT owner labels the spec lists for CERTInext (§5.4): the
// name itself (txt_label = "@", the apex form), _emudhra-challenge (the
// default) and _emsign-validation. The engine refuses any other owner, and
// txt_label must be one of them.
var Labels = []string{"", DefaultLabel, "_emsign-validation"}

// openAny is Spec's Open: options is the *Options the table decoded into.
func openAny(ctx context.Context, base providers.Base, options any) (providers.Provider, error) {
	o, _ := options.(*Options)
	if o == nil {
		return nil, fmt.Errorf("certinext: options: got %T, want *certinext.Options", options)
	}
	p, err := Open(ctx, base, o)
	if p == nil {
		return nil, err // never a typed nil in the interface
	}
	return p, err
}

// settings are validated Options.
type settings struct {
	baseURL     string
	account     string
	secret      secret.Ref
	prevalidate bool
	revalidate  time.Duration // revalidate_before; 0 = off
	switchEmail bool
	label       string // "@" or a label
	pageSize    int
	timeout     time.Duration
	limits      []providers.RateLimit
	backoff     backoff.Policy
	retries     int
}

func (o *Options) validate(base providers.Base) (*settings, error) {
	s := &settings{
		account:     strings.TrimSpace(o.AccountNumber),
		secret:      secret.Ref{Key: "client_secret", Inline: o.ClientSecret, File: o.ClientSecretFile, Credential: o.ClientSecretCredential},
		prevalidate: o.Prevalidate,
		switchEmail: o.SwitchEmailDomains == nil || *o.SwitchEmailDomains,
		label:       o.TXTLabel,
		pageSize:    o.PageSize,
		limits:      DefaultLimits,
		retries:     o.Retries,
	}
	switch {
	case o.BaseURL != "" && base.BaseURL != "" && o.BaseURL != base.BaseURL:
		return nil, fmt.Errorf("base_url given twice with different values")
	case o.BaseURL != "":
		s.baseURL = o.BaseURL
	case base.BaseURL != "":
		s.baseURL = base.BaseURL
	}
	env := map[string]string{"sandbox": BaseURLSandbox, "production-us": BaseURLProductionUS, "": BaseURLProductionUS,
		"production": BaseURLProduction}
	u, ok := env[strings.ToLower(o.Environment)]
	if !ok {
		return nil, fmt.Errorf("environment %q: want \"sandbox\", \"production-us\" or \"production\"", o.Environment)
	}
	if s.baseURL == "" {
		s.baseURL = u
	}
	s.baseURL = strings.TrimSuffix(strings.TrimRight(s.baseURL, "/"), "/api/certinext/v2")
	if s.account == "" {
		return nil, fmt.Errorf("account_number: not set (the CERTInext account number, the OAuth client_id)")
	}
	if !s.secret.Set() {
		return nil, fmt.Errorf("client_secret: not set (use client_secret_file or client_secret_credential)")
	}
	switch m := strings.ToLower(base.Method); m {
	case "", "dns-txt", "txt":
	default:
		return nil, fmt.Errorf("method %q: CERTInext validates by DNS with \"dns-txt\" only", base.Method)
	}
	switch {
	case s.label == "":
		s.label = DefaultLabel
	case s.label == "@" || slices.Contains(Labels[1:], s.label):
	default:
		return nil, fmt.Errorf("txt_label %q: want \"\" (%s), \"_emsign-validation\" or \"@\" (the name itself)", o.TXTLabel, DefaultLabel)
	}
	if o.RevalidateBefore != "" {
		d, err := providers.ParseWindow(o.RevalidateBefore)
		if err != nil {
			return nil, fmt.Errorf("revalidate_before %w", err)
		}
		s.revalidate = d
	}
	if s.pageSize = cmp.Or(s.pageSize, 100); s.pageSize < 1 || s.pageSize > 200 {
		return nil, fmt.Errorf("page_size %d: want 1..200", o.PageSize)
	}
	if o.RateLimits != nil {
		s.limits = nil
		for i, l := range o.RateLimits {
			if l.N <= 0 || l.Window <= 0 {
				return nil, fmt.Errorf("rate_limits[%d]: want n > 0 and a window like \"10s\"", i)
			}
			s.limits = append(s.limits, providers.RateLimit{N: l.N, Window: l.Window.D()})
		}
	}
	s.timeout = o.Timeout.D()
	s.backoff = backoff.Policy{Min: o.BackoffMin.D(), Max: o.BackoffMax.D()}
	if s.backoff.Max != 0 && s.backoff.Max < s.backoff.Min {
		return nil, fmt.Errorf("backoff_max %s: want at least backoff_min %s", s.backoff.Max, s.backoff.Min)
	}
	if s.retries < -1 {
		return nil, fmt.Errorf("retries %d: want -1 (none), 0 (default) or more", o.Retries)
	}
	return s, nil
}

// LimitOption is one configured rate limit.
type LimitOption struct {
	N      int             `toml:"n"`
	Window config.Duration `toml:"window"`
}
