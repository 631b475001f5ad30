// Package providers defines how dcvd talks to a certificate authority or a
// reseller: find the names waiting on DNS-based domain control validation,
// say which record proves control of each, and ask the CA to check.
//
// Each CA lives in its own sub-package (providers/digicert, ...) and exposes
// a Spec; the binary lists the specs in one registry (internal/registry).
package providers

import (
	"context"
	"log/slog"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
)

// Challenge is one name of one order that waits on DCV, with the record that
// proves control of it.
type Challenge struct {
	// Order is the CA's order (or domain, for prevalidation) identifier. The
	// pipeline asks the CA to check all challenges of one order together.
	Order string
	// Name is the domain being validated, as the CA shows it (a wildcard
	// already reduced to its base: "*.example.com" → "example.com").
	Name string
	// Record is what to publish. Its FQDN must lie at or below Name.
	Record dnspublish.Record
	// Expires is when the CA stops accepting Record (zero: unknown).
	Expires time.Time
	// Ref is opaque provider data round-tripped through the store (for
	// example a DigiCert domain_id). Keep it small.
	Ref string
	// OrderNames are the names the order covers (its certificate's names,
	// wildcards reduced to their base; for a prevalidated domain, the
	// domain). The engine refuses a challenge whose Name is neither one of
	// them nor an ancestor of one: a CA's answer never decides on its own
	// where dcvd writes.
	OrderNames []string
}

// Key identifies a challenge within one CA account: the same order, name and
// record value is the same challenge across discovery runs.
func (c Challenge) Key() string { return c.Order + "|" + c.Name + "|" + c.Record.Key() }

// Status is what the CA says about one challenge.
type Status int

const (
	// Pending: the CA has not decided yet; poll again later.
	Pending Status = iota
	// NotVisible: the CA looked and did not find the record (DigiCert 400
	// invalid_dns_txt). Retry with backoff; the record stays.
	NotVisible
	// Validated: control is proven; the record may be removed.
	Validated
	// Failed: the CA will not validate this challenge (order cancelled,
	// rejected, wrong method). Outcome.Reason says why.
	Failed
)

func (s Status) String() string {
	switch s {
	case Pending:
		return "pending"
	case NotVisible:
		return "not-visible"
	case Validated:
		return "validated"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// Outcome is the CA's answer for one challenge.
type Outcome struct {
	Status Status
	Reason string // for NotVisible and Failed: the CA's words
}

// Provider is one configured CA account.
type Provider interface {
	// Name is the configured account name ([[ca]] name).
	Name() string
	// Discover lists every challenge currently waiting on DNS DCV. It is
	// called on the account's schedule; returning a challenge that is
	// already known is expected and harmless.
	Discover(ctx context.Context) ([]Challenge, error)
	// Submit asks the CA to check the challenges of one order now (they share
	// Order) and returns one Outcome per challenge, in order.
	Submit(ctx context.Context, order string, chs []Challenge) ([]Outcome, error)
	// Poll reads the CA's current verdict on the challenges of one order
	// without triggering a new check.
	Poll(ctx context.Context, order string, chs []Challenge) ([]Outcome, error)
}

// Base is what every provider gets from the configuration.
type Base struct {
	Name    string // [[ca]] name
	BaseURL string // "" = the provider's default
	// Method is the preferred DCV method: "dns-txt" or "dns-cname".
	Method string
	// Domains, when not empty, restricts the account to these names and
	// their subdomains; everything else is ignored at discovery.
	Domains []string
	Logger  *slog.Logger
}

// Spec describes one CA type to the configuration loader.
type Spec struct {
	// Type is the value of `type` in a [[ca]] table.
	Type string
	// Options returns a pointer to a fresh options struct the [[ca]] table is
	// decoded into (toml tags; unknown keys are config errors).
	Options func() any
	// Open validates options and builds the provider. No network I/O.
	Open func(ctx context.Context, base Base, options any) (Provider, error)
	// Limits are the CA's documented request limits per credential; the
	// scheduler stays under all of them.
	Limits []RateLimit
	// Labels are the owner labels the CA documents beneath a validated
	// name, each an anchored regular expression over one lower-case label
	// ("_dnsauth", Sectigo's "_[0-9a-f]{32}"); "" stands for the validated
	// name itself. The engine refuses a record whose owner is anything
	// else. Nil means DefaultLabels.
	Labels []string
}

// DefaultLabels are the owners allowed for a CA that documents none: the
// validated name itself and RFC 8555's _acme-challenge beneath it.
var DefaultLabels = []string{"", "_acme-challenge"}

// RateLimit is "at most N requests per Window".
type RateLimit struct {
	N      int
	Window time.Duration
}
