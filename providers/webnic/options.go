package webnic

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dcvd/dcvd/internal/backoff"
	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/internal/secret"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/webnic/internal/api"
	sandbox "github.com/dcvd/dcvd/sandbox/webnic"
)

// Options is the WebNIC part of a [[ca]] table (type = "webnic").
//
//	[[ca]]
//	type = "webnic"
//	name = "webnic-main"
//	environment = "production"        # or "ote"; base_url overrides both
//	username = "api-xxxxxxxx"
//	password_file = "/etc/dcvd/credentials/webnic.password"
//	schedule = "*/10 * * * *"
//	switch_email_orders = true
//	domains = []
type Options struct {
	// Environment picks the base URL when base_url is not set:
	// "production" (default, https://api.webnic.cc) or "ote"
	// (https://oteapi.webnic.cc). A credential works in one of them only.
	Environment string `toml:"environment"`
	// Username is the API user ("api-xxxxxxxx", WebNIC Portal → Resource
	// Access Management → API Management).
	Username string `toml:"username"`
	// The API password (secret key): exactly one of password_file,
	// password_credential (systemd LoadCredential=) or password ("${ENV}").
	Password           string `toml:"password"`
	PasswordFile       string `toml:"password_file"`
	PasswordCredential string `toml:"password_credential"`
	// SwitchEmailOrders switches orders waiting on email (or file) DCV to
	// DNS (PUT /ssl/v2/orders/{id}/auth {"authType":"dns"}); default true.
	// When false they are left alone.
	SwitchEmailOrders *bool `toml:"switch_email_orders"`
	// PageSize of order searches (default 100, at most 1000).
	PageSize int `toml:"page_size"`
	// PollMin and PollMax bound how often WebNIC is asked about an order
	// that is still pending after its records were published: soon after
	// publishing, then backing off to the cap (defaults 1m and 30m).
	// Sectigo's own re-check schedule is not published.
	PollMin config.Duration `toml:"poll_min"`
	PollMax config.Duration `toml:"poll_max"`
	// Timeout of one HTTP request (default 30s).
	Timeout config.Duration `toml:"timeout"`
	// Retries after a 429, 5xx or transport error (default 4; -1: none),
	// waiting from retry_min doubling to retry_max (defaults 1s and 1m) or
	// as long as a 429's Retry-After says.
	Retries  int             `toml:"retries"`
	RetryMin config.Duration `toml:"retry_min"`
	RetryMax config.Duration `toml:"retry_max"`
	// RateLimits are the client-side request limits of this credential
	// (default DefaultLimits), e.g. [{n = 5000, window = "24h"}].
	RateLimits []LimitOption `toml:"rate_limits"`
}

// LimitOption is one configured rate limit.
type LimitOption struct {
	N      int             `toml:"n"`
	Window config.Duration `toml:"window"`
}

// DefaultLimits: the only figure anyone published is a third-party claim of
// 5000 requests a day per reseller (spec §2, unverified).
var DefaultLimits = []providers.RateLimit{{N: 5000, Window: 24 * time.Hour}}

// Spec describes the "webnic" CA type to the configuration loader.
func Spec() providers.Spec {
	return providers.Spec{
		Type:    "webnic",
		Options: func() any { return &Options{} },
		Open: func(ctx context.Context, base providers.Base, options any) (providers.Provider, error) {
			o, ok := options.(*Options)
			if !ok || o == nil {
				return nil, fmt.Errorf("webnic: options: got %T, want *webnic.Options", options)
			}
			p, err := Open(ctx, base, o)
			if err != nil {
				return nil, err
			}
			return p, nil
		},
		Limits:        DefaultLimits,
		Labels:        Labels,
		IssuerDomains: IssuerDomains,
		Commands:      commands,
		Sandbox:       sandbox.Command,
		Demo:          sandbox.Demo,
	}
}

// IssuerDomains are the CAA issuer domain names Sectigo (formerly Comodo
// CA) recognises in issue/issuewild as permitting it to issue (Sectigo's
// statement as quoted by its resellers, e.g. SSL247's CAA article).
var IssuerDomains = []string{"sectigo.com", "comodoca.com", "comodo.com", "usertrust.com", "trust-provider.com"}

// Labels are the owners Sectigo's hash scheme puts beneath a validated
// name: "_" and the 32 hex digits of the CSR's MD5 (lower-cased, as dcvd
// writes owner names).
var Labels = []string{"_[0-9a-f]{32}"}

// settings are validated Options.
type settings struct {
	baseURL    string
	username   string
	password   secret.Ref
	switchMail bool
	pageSize   int
	poll       backoff.Policy
	timeout    time.Duration
	retries    int
	retry      backoff.Policy
	limits     []providers.RateLimit
}

// open validates the options and reads the password.
func (o *Options) open(base providers.Base) (*settings, string, error) {
	s, err := o.validate(base)
	if err != nil {
		return nil, "", err
	}
	password, err := s.password.Read()
	return s, password, err
}

func (o *Options) validate(base providers.Base) (*settings, error) {
	s := &settings{
		baseURL:    strings.TrimSuffix(base.BaseURL, "/"),
		username:   strings.TrimSpace(o.Username),
		password:   secret.Ref{Key: "password", Inline: o.Password, File: o.PasswordFile, Credential: o.PasswordCredential},
		switchMail: o.SwitchEmailOrders == nil || *o.SwitchEmailOrders,
		pageSize:   o.PageSize,
		poll:       backoff.Policy{Min: o.PollMin.D(), Max: o.PollMax.D()},
		timeout:    o.Timeout.D(),
		retries:    o.Retries,
		retry:      backoff.Policy{Min: o.RetryMin.D(), Max: o.RetryMax.D()},
		limits:     DefaultLimits,
	}
	switch strings.ToLower(o.Environment) {
	case "", "production", "prod", "live":
		if s.baseURL == "" {
			s.baseURL = api.BaseURLProduction
		}
	case "ote", "test", "sandbox":
		if s.baseURL == "" {
			s.baseURL = api.BaseURLOTE
		}
	default:
		return nil, fmt.Errorf("environment %q: want \"production\" or \"ote\"", o.Environment)
	}
	if s.username == "" {
		return nil, fmt.Errorf("username: not set (the API user, \"api-...\")")
	}
	if !s.password.Set() {
		return nil, fmt.Errorf("password: not set (use password_file or password_credential)")
	}
	switch m := strings.ToLower(base.Method); m {
	case "", "dns", "dns-txt", "dns-cname":
		// WebNIC decides TXT or CNAME per order; dcvd publishes what it says.
	default:
		return nil, fmt.Errorf("method %q: WebNIC orders are validated with the record WebNIC returns; leave method unset", base.Method)
	}
	if s.pageSize == 0 {
		s.pageSize = 100
	}
	if s.pageSize < 1 || s.pageSize > 1000 {
		return nil, fmt.Errorf("page_size %d: want 1..1000", o.PageSize)
	}
	if s.poll.Min == 0 {
		s.poll.Min = time.Minute
	}
	if s.poll.Max == 0 {
		s.poll.Max = 30 * time.Minute
	}
	if s.poll.Max < s.poll.Min {
		return nil, fmt.Errorf("poll_max %s is below poll_min %s", s.poll.Max, s.poll.Min)
	}
	if s.retry.Max != 0 && s.retry.Max < s.retry.Min {
		return nil, fmt.Errorf("retry_max %s is below retry_min %s", s.retry.Max, s.retry.Min)
	}
	if s.retries < -1 {
		return nil, fmt.Errorf("retries %d: want -1 (none) or more", o.Retries)
	}
	if o.RateLimits != nil {
		s.limits = nil
		for i, l := range o.RateLimits {
			if l.N <= 0 || l.Window <= 0 {
				return nil, fmt.Errorf("rate_limits[%d]: want n > 0 and a window like \"24h\"", i)
			}
			s.limits = append(s.limits, providers.RateLimit{N: l.N, Window: l.Window.D()})
		}
	}
	return s, nil
}
