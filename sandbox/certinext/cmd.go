package certinext

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/cli"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/sandbox/simkit"
)

// SeedFile is the file of `dcvd sandbox certinext --orders FILE` (TOML):
//
//	[[order]]
//	domain = "example.com"
//	additional_domains = ["*.example.com", "www.example.com"]
//
//	[[domain]]                    # an account domain waiting on DCV
//	name = "example.org"
//	method = "dns-txt"            # or "email" (dcvd switches it), "http-url"
//	verified = false
//	verified_at = 2026-06-01T00:00:00Z  # validated then: validTill = +199 days
type SeedFile struct {
	Order  []OrderSpec  `toml:"order"`
	Domain []DomainSpec `toml:"domain"`
}

// LoadSeed reads a SeedFile; an unknown key is an error naming it.
func LoadSeed(path string) (*SeedFile, error) {
	var f SeedFile
	md, err := toml.DecodeFile(path, &f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		return nil, fmt.Errorf("%s: unknown key %q", path, u[0].String())
	}
	for i, o := range f.Order {
		if o.Domain == "" {
			return nil, fmt.Errorf("%s: order %d: domain is required", path, i+1)
		}
	}
	for i, d := range f.Domain {
		if d.Name == "" {
			return nil, fmt.Errorf("%s: domain %d: name is required", path, i+1)
		}
	}
	return &f, nil
}

// Seed adds the file's domains, then its orders, to s.
func (f *SeedFile) Seed(s *Server) {
	for _, d := range f.Domain {
		s.AddDomain(d)
	}
	for _, o := range f.Order {
		s.AddOrder(o)
	}
}

// Command builds `dcvd sandbox certinext` (providers.Spec.Sandbox).
func Command() *cobra.Command {
	var f simkit.Flags
	var account, secret, label string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "certinext",
		Short: "Serve the CERTInext (eMudhra) API v2 simulator",
		Long: `sandbox certinext serves a CERTInext API v2 simulator: OAuth2 client credentials
with short-lived access tokens and rotating refresh tokens, account domains and
SSL orders waiting on DNS-TXT DCV, problem+json errors and verify diagnostics. A
verify passes only when every --dns server serves the exact token at the owner
name (--label, default _emudhra-challenge.<name>). Point a [[ca]] account's
base_url at the printed URL, with the printed account number and secret.`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			sim := New(Options{Accounts: map[string]string{account: secret}, AccessTTL: ttl, Label: label,
				DNSServers: f.DNS, Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))})
			if f.Seed != "" {
				file, err := LoadSeed(f.Seed)
				if err != nil {
					return cli.Usage(err)
				}
				file.Seed(sim)
			}
			return f.ServeFlags(cmd.Context(), sim, func(root string) {
				fmt.Fprintf(cmd.OutOrStdout(), "CERTInext simulator: base_url = %q, account_number = %q, client_secret = %q, DNS checked at %v\n",
					root, account, secret, f.DNS)
			})
		},
	}
	f.Register(cmd.Flags(), 8486, "TOML file of orders ([[order]]) and account domains ([[domain]]) to seed")
	cmd.Flags().StringVar(&account, "account", DefaultAccount, "account number (OAuth client_id) the simulator accepts")
	cmd.Flags().StringVar(&secret, "secret", DefaultSecret, "client secret the simulator accepts (a sandbox value, never a real one)")
	cmd.Flags().StringVar(&label, "label", "", `TXT owner label the simulator checks ("" = _emudhra-challenge, "@" = the name)`)
	cmd.Flags().DurationVar(&ttl, "access-ttl", time.Hour, "access token lifetime")
	return cmd
}

// DemoSeed is what `dcvd demo` seeds: a single-name order, an apex +
// wildcard order, a multi-SAN order, and two account domains waiting on DCV
// (one on email DCV, which dcvd switches to dns-txt).
var DemoSeed = SeedFile{
	Order: []OrderSpec{
		{Domain: "example.info"},
		{Domain: "example.biz", AdditionalDomains: []string{"*.example.biz"}},
		{Domain: "a.example.info", AdditionalDomains: []string{"b.example.info", "www.example.biz"}},
	},
	Domain: []DomainSpec{
		{Name: "shop.example.info"},
		{Name: "mail.example.biz", Method: "email"},
	},
}

// Demo starts the simulator for `dcvd demo` (providers.Spec.Demo).
func Demo(ctx context.Context, env providers.DemoEnv) (*providers.Demo, error) {
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	sim := New(Options{DNSServers: []string{env.DNS}, AccessTTL: time.Minute, Logger: logger})
	DemoSeed.Seed(sim)
	d := &providers.Demo{Zones: []string{"example.info", "example.biz"}}
	for _, o := range DemoSeed.Order {
		d.Orders = append(d.Orders, strings.Join(append([]string{o.Domain}, o.AdditionalDomains...), ", ")+" (order, dns-txt)")
	}
	for _, dom := range DemoSeed.Domain {
		d.Orders = append(d.Orders, dom.Name+" (account domain, "+cmpOr(dom.Method, "dns-txt")+")")
	}
	root, err := simkit.Start(ctx, sim)
	if err != nil {
		return nil, err
	}
	d.Simulator = "CERTInext simulator on " + root
	d.Config = fmt.Sprintf(`[[ca]]
type = "certinext"
name = %q
base_url = %q
account_number = %q
client_secret = %q
schedule = "@every 1m"
prevalidate = true
backoff_min = "50ms"
backoff_max = "1s"
# The simulator is local: no need for conservative limits.
rate_limits = [{ n = 10000, window = "1s" }]
`, env.Account, root, DefaultAccount, DefaultSecret)
	return d, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
