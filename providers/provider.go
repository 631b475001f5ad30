// Package providers defines how dcvd talks to a certificate authority or a
// reseller: find the names waiting on DNS-based domain control validation,
// say which record proves control of each, and ask the CA to check.
//
// Each CA lives in its own sub-package (providers/digicert, ...) and exposes
// a Spec; the binary lists the specs in one registry (internal/registry).
package providers

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/cli"
	"github.com/dcvd/dcvd/internal/ratelimit"
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
	// CAANames are the certificate's names that Record validates, as the
	// CA will check CAA for them (RFC 8659): "example.com" for the apex,
	// "*.example.com" for its wildcard (issuewild), both when an apex and
	// its wildcard share one record, and the names below Name that a
	// record at Name validates. The engine checks each before it asks the
	// CA. Empty: Name alone.
	CAANames []string
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
	// StateDir is the daemon's state directory ([daemon] state_dir), for
	// providers that keep files of their own (an ACME account key) below
	// <StateDir>/<type>/<name>.
	StateDir string
	// Shared, when set, is the limiter every instance sharing the state
	// uses for one credential (see Base.Limiter); nil: per process.
	Shared SharedLimiter
}

// Spec describes one CA type to the binary. Registering a Spec (one line in
// internal/registry) is all it takes to add a CA: the configuration loader
// decodes its [[ca]] tables, the engine polls its accounts, and the optional
// hooks below add its own commands, its simulator and its demo orders to the
// dcvd binary. Nothing under cmd/, internal/app or internal/config names a
// CA.
//
// A CA package typically defines Spec in provider.go and the hooks in
// cli.go; the simulator half (Sandbox, Demo) is best written in the CA's
// sandbox/<ca> package, whose exported functions the Spec then points at.
// See providers/README.md ("Adding a CA") and providers/digicert for a
// complete example.
type Spec struct {
	// Type is the value of `type` in a [[ca]] table, and the name of the
	// CA's own commands (`dcvd <Type> ...`, `dcvd sandbox <Type>`).
	Type string
	// Options returns a pointer to a fresh options struct the [[ca]] table is
	// decoded into (toml tags; unknown keys are config errors).
	Options func() any
	// Open validates options and builds the provider. No network I/O.
	Open func(ctx context.Context, base Base, options any) (Provider, error)
	// Limits are the CA's documented request limits per credential; the
	// scheduler stays under all of them. An account configured with other
	// limits says so by implementing Limited.
	Limits []RateLimit
	// Labels are the owner labels the CA documents beneath a validated
	// name, each an anchored regular expression over one lower-case label
	// ("_dnsauth", Sectigo's "_[0-9a-f]{32}"); "" stands for the validated
	// name itself. The engine refuses a record whose owner is anything
	// else. Nil means DefaultLabels.
	Labels []string
	// IssuerDomains are the CA's CAA issuer domain names (RFC 8659
	// issuer-domain-name: the value of an `issue`/`issuewild` property that
	// allows this CA), e.g. "digicert.com". Checks that a name's CAA records
	// let the CA issue use them; empty means "unknown, do not check".
	IssuerDomains []string

	// Commands, when set, builds the CA's own operator command, `dcvd
	// <Type>`, with its subcommands (repairs and one-off operations that the
	// daemon never needs: resend emails, change a DCV method, ...). The
	// returned command's Use must be Type. The binary adds the persistent
	// flag --account to it and passes open, which loads the configuration
	// (--config) and opens the [[ca]] account of this Type that --account
	// names, or the only one; the command then type-asserts the Provider to
	// its own concrete type to reach the CA's client.
	//
	// Commands exit through internal/cli: cli.Args for argument counts,
	// cli.Usage for bad flags (exit 2), cli.Failed for a CA call that failed
	// (exit 1). Errors returned by open already carry their exit code.
	Commands func(open OpenAccount) *cobra.Command

	// Sandbox, when set, builds `dcvd sandbox <Type>`: serve the CA's
	// simulator on a loopback address so a configuration can be dry-run
	// against it. The returned command's Use must be Type. Use
	// sandbox/simkit's Flags and Serve so that every simulator has the same
	// --listen and --dns flags and prints its base_url the same way.
	Sandbox func() *cobra.Command

	// Demo, when set, starts the CA's simulator for `dcvd demo` and seeds the
	// CA's demo orders. The demo runs the real pipeline (`dcvd run`) against
	// every registered CA's demo at once, with dcvd's embedded DNS server as
	// the only authoritative server for all of their zones; it succeeds when
	// every seeded challenge validated and its record was removed. The
	// simulator must stop when ctx ends. Choose zones no other CA's demo uses
	// (the DigiCert demo uses example.com, example.org and example.net).
	Demo func(ctx context.Context, env DemoEnv) (*Demo, error)
	// ACME marks CA types whose every record is an ACME dns-01 record with
	// a key authorization (dnspublish.Record.KeyAuth), which backends that
	// are dnspublish.Spec.ACMEOnly can publish.
	ACME bool
}

// OpenAccount opens the configured [[ca]] account a CA's command works on
// (see Spec.Commands). Its errors carry an exit code (internal/cli).
type OpenAccount func(cmd *cobra.Command) (Provider, error)

// DemoEnv is what `dcvd demo` gives a CA's Demo hook.
type DemoEnv struct {
	// DNS is the host:port of the embedded DNS server that serves every
	// demo zone; the simulator checks records there.
	DNS string
	// Account is the [[ca]] name the Demo's Config must use.
	Account string
	// Logger is for the simulator's own log (discarded by default).
	Logger *slog.Logger
}

// Demo is one CA's part of `dcvd demo`, returned by Spec.Demo with its
// simulator already serving.
type Demo struct {
	// Config is the CA's [[ca]] table for the demo's config file: type, name
	// (DemoEnv.Account), base_url of the running simulator, its key, a short
	// schedule, small backoffs and (the simulator being local) generous
	// rate_limits.
	Config string
	// Zones are the zones the seeded orders need; the embedded DNS server
	// serves them.
	Zones []string
	// Orders describe the seeded orders, one line each ("example.org,
	// *.example.org (dns-txt-token)"); the demo prints them.
	Orders []string
	// Simulator is a one-line description printed in the banner
	// ("DigiCert simulator on http://127.0.0.1:41234").
	Simulator string
}

// Limited is implemented by a provider whose account is configured with
// its own request limits (for example a rate_limits option); they replace
// Spec.Limits for that account.
type Limited interface {
	Provider
	Limits() []RateLimit
}

// AccountLimits returns the request limits an account's provider p, opened
// from spec, must stay under: its own (Limited) or the CA's documented ones.
func AccountLimits(spec Spec, p Provider) []RateLimit {
	if l, ok := p.(Limited); ok {
		return l.Limits()
	}
	return spec.Limits
}

// DefaultLabels are the owners allowed for a CA that documents none: the
// validated name itself and RFC 8555's _acme-challenge beneath it.
var DefaultLabels = []string{"", "_acme-challenge"}

// RateLimit is "at most N requests in any window of length Window", the
// shape every CA documents its limits in. It is internal/ratelimit's Limit:
// a CA client enforces its Spec.Limits (or the account's own) with
// ratelimit.Shared, one limiter per account for every goroutine.
type RateLimit = ratelimit.Limit

// AccountAs opens a command's account (open) as the CA's own provider type
// P, for the CA's Commands: an account of another type is a usage error
// (exit 2) naming typ.
func AccountAs[P Provider](open OpenAccount, typ string) func(cmd *cobra.Command) (P, error) {
	return func(cmd *cobra.Command) (P, error) {
		var zero P
		p, err := open(cmd)
		if err != nil {
			return zero, err
		}
		own, ok := p.(P)
		if !ok {
			return zero, cli.Usage(fmt.Errorf("account %q is not a %s account", p.Name(), typ))
		}
		return own, nil
	}
}
