// Package mijndomeinreseller publishes DCV records in domains hosted on the
// name servers of mijndomeinreseller.nl, or of its white-label twin
// nextname.nl (provider = "nextname": the same API at another host),
// through API v2:
//
//	GET   /v2/domains/{domain}/dnszone/records   read, to find the record_id of our values
//	PATCH /v2/domains/{domain}/dnszone/records   {"records":{"add":[...]}} / {"records":{"del":[{"record_id"}]}}
//
// The PATCH is incremental: an add touches nothing else, a del removes
// exactly the records whose ids dcvd read for its own values. dcvd never
// calls PUT on the records, which replaces the whole zone.
//
// The knowledge base documents the PATCH but not the read; the backend
// accepts the record list as {"data":[...]}, {"records":[...]} or a bare
// array, paged with page/per_page. No TTL can be set (the provider's
// default applies) and no serial is returned, so the verifier polls the
// provider's name servers. A record id that vanished between the read and
// the del (someone removed it meanwhile) is not an error when the value is
// gone after all: dcvd reads again and deletes whatever of its values is
// left.
//
// The package also gives `dcvd mijndomeinreseller auth-code DOMAIN`
// (POST /v2/domains/{domain}/auth_code).
package mijndomeinreseller

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/internal/backoff"
	"github.com/dcvd/dcvd/internal/ratelimit"
	"github.com/dcvd/dcvd/internal/secret"
)

// Type is the value of `type` in a [[dns]] table.
const Type = "mijndomeinreseller"

// Hosts per provider and environment.
var hosts = map[string]map[string]string{
	"mijndomeinreseller": {"live": "https://api.mijndomeinreseller.nl", "test": "https://api-test.mijndomeinreseller.nl"},
	"nextname":           {"live": "https://api.nextname.nl", "test": "https://api-test.nextname.nl"},
}

// Defaults for options left empty.
const (
	DefaultTimeout = 30 * time.Second
	perPage        = 100
	maxPages       = 100
)

// retryPolicy spaces retries after 429 and 5xx answers.
var retryPolicy = backoff.Policy{Min: 500 * time.Millisecond, Max: 30 * time.Second}

// DefaultRateLimit bounds the API calls of one backend; the provider
// documents no limit.
var DefaultRateLimit = ratelimit.Limit{N: 5, Window: time.Second}

// Options are the keys of a [[dns]] table with type = "mijndomeinreseller".
type Options struct {
	// Provider is "mijndomeinreseller" (default) or "nextname".
	Provider string `toml:"provider"`
	// Environment is "live" (default) or "test" (api-test.*).
	Environment string `toml:"environment"`
	// BaseURL overrides both (a simulator: "http://127.0.0.1:8486").
	BaseURL string `toml:"base_url"`
	// The API key (Authorization: Bearer): inline, file or systemd credential.
	APIKey           string `toml:"api_key"`
	APIKeyFile       string `toml:"api_key_file"`
	APIKeyCredential string `toml:"api_key_credential"`
	// Timeout bounds each HTTP request (default "30s").
	Timeout dnspublish.Duration `toml:"timeout"`
	// RateLimit bounds the API calls (default "5/1s").
	RateLimit dnspublish.Rate `toml:"rate_limit"`
}

// Spec describes the backend to the configuration loader, with its
// `dcvd mijndomeinreseller` command and `dcvd sandbox mijndomeinreseller`.
func Spec() dnspublish.Spec {
	s := dnspublish.SpecFor(Type, New)
	s.Commands = commands
	s.Sandbox = sandboxCommand
	return s
}

// Publisher writes records through one account's API key.
type Publisher struct {
	dnspublish.Identity
	label string
	api   *apiclient.Client
	log   *slog.Logger
}

var (
	_ dnspublish.Publisher = (*Publisher)(nil)
	_ dnspublish.Checker   = (*Publisher)(nil)
)

// New validates o and returns a Publisher. It reads the key; no network I/O.
func New(base dnspublish.Base, o Options) (*Publisher, error) {
	provider := o.Provider
	if provider == "" {
		provider = Type
	}
	id, label, err := dnspublish.NewIdentity(provider, base)
	if err != nil {
		return nil, err
	}
	fail := dnspublish.Failf[*Publisher](label)
	envs, ok := hosts[provider]
	if !ok {
		return fail("provider %q: want \"mijndomeinreseller\" or \"nextname\"", o.Provider)
	}
	env := o.Environment
	if env == "" {
		env = "live"
	}
	baseURL, ok := envs[env]
	if !ok {
		return fail("environment %q: want \"live\" or \"test\"", o.Environment)
	}
	if o.BaseURL != "" {
		u, err := url.Parse(o.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fail("base_url %q: want an http(s) URL", o.BaseURL)
		}
		baseURL = strings.TrimRight(o.BaseURL, "/")
	}
	p := &Publisher{Identity: id, label: label, log: base.Logger}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	for _, z := range p.Zones() {
		if dns.CountLabel(z) < 2 {
			return fail("zone %q is not a registered domain name", z)
		}
	}
	ref := secret.Ref{Key: "api_key", Inline: o.APIKey, File: o.APIKeyFile, Credential: o.APIKeyCredential}
	if !ref.Set() {
		return fail("api_key, api_key_file or api_key_credential is required")
	}
	key, err := ref.Read()
	if err != nil {
		return fail("%v", err)
	}
	p.api = apiclient.New(apiclient.Config{
		Service: label,
		BaseURL: baseURL,
		Timeout: o.Timeout.Or(DefaultTimeout),
		Auth:    apiclient.HeaderKey("Authorization", "Bearer "+key),
		Limiter: ratelimit.Shared(label+" "+baseURL, []ratelimit.Limit{o.RateLimit.Or(DefaultRateLimit)}),
		Backoff: retryPolicy,
		Decode:  decodeError,
		Logger:  p.log,
	})
	return p, nil
}

// decodeError reads {"errors":[{"error":"CT-HL01","parameter","message","details"}]}.
func decodeError(status int, body []byte) ([]apiclient.Code, error) {
	var e struct {
		Errors []struct {
			Error     string `json:"error"`
			Parameter string `json:"parameter"`
			Message   string `json:"message"`
			Details   string `json:"details"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) == 0 {
		return apiclient.DecodeGeneric(status, body)
	}
	var out []apiclient.Code
	for _, x := range e.Errors {
		msg := x.Message
		if x.Details != "" && x.Details != x.Message {
			msg += ": " + x.Details
		}
		if x.Parameter != "" {
			msg += " (" + x.Parameter + ")"
		}
		out = append(out, apiclient.Code{Code: x.Error, Message: msg})
	}
	return out, nil
}

// record is one zone record on the wire.
type record struct {
	ID       string `json:"record_id,omitempty"`
	Name     string `json:"name,omitempty"`
	Type     string `json:"type,omitempty"`
	Content  string `json:"content,omitempty"`
	Priority int    `json:"priority,omitempty"`
}

// UnmarshalJSON accepts record_id as a string or a number.
func (r *record) UnmarshalJSON(b []byte) error {
	var w struct {
		ID       json.RawMessage `json:"record_id"`
		Name     string          `json:"name"`
		Type     string          `json:"type"`
		Content  string          `json:"content"`
		Priority int             `json:"priority"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = record{Name: w.Name, Type: strings.ToUpper(w.Type), Content: w.Content, Priority: w.Priority}
	if len(w.ID) > 0 {
		var s string
		if json.Unmarshal(w.ID, &s) != nil {
			var n json.Number
			if err := json.Unmarshal(w.ID, &n); err != nil {
				return fmt.Errorf("record_id %s: %w", w.ID, err)
			}
			s = n.String()
		}
		r.ID = s
	}
	return nil
}

// recordList accepts {"data":[...]}, {"records":[...]} or [...].
type recordList []record

func (l *recordList) UnmarshalJSON(b []byte) error {
	var arr []record
	if err := json.Unmarshal(b, &arr); err == nil {
		*l = arr
		return nil
	}
	var obj struct {
		Data    *[]record `json:"data"`
		Records *[]record `json:"records"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	switch {
	case obj.Data != nil:
		*l = *obj.Data
	case obj.Records != nil:
		*l = *obj.Records
	default:
		return fmt.Errorf("record list: neither \"data\" nor \"records\" in the answer")
	}
	return nil
}

func domainOf(zone string) string { return strings.TrimSuffix(zone, ".") }

func (p *Publisher) recordsPath(zone string) string {
	return apiclient.Path("/v2/domains/%s/dnszone/records", domainOf(zone))
}

// read returns every record of zone, page by page.
func (p *Publisher) read(ctx context.Context, zone string) ([]record, error) {
	var all []record
	for page := 1; page <= maxPages; page++ {
		var l recordList
		q := url.Values{"page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(perPage)}}
		if _, err := p.api.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: p.recordsPath(zone), Query: q, Out: &l}); err != nil {
			return nil, err
		}
		all = append(all, l...)
		if len(l) < perPage {
			return all, nil
		}
	}
	return nil, fmt.Errorf("more than %d records in %s", perPage*maxPages, domainOf(zone))
}

// Check reads the records of each zone once (dcvd config check --online):
// the key works and every domain is in the account.
func (p *Publisher) Check(ctx context.Context) error {
	for _, z := range p.Zones() {
		q := url.Values{"page": {"1"}, "per_page": {"1"}}
		if _, err := p.api.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: p.recordsPath(z), Query: q}); err != nil {
			return err
		}
	}
	return nil
}

func (p *Publisher) lock(zone string) func() {
	return dnspublish.Lock(p.api.BaseURL() + " " + zone)
}
