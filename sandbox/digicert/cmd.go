package digicert

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/cli"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/sandbox/simkit"
)

// Command builds `dcvd sandbox digicert` (providers.Spec.Sandbox).
func Command() *cobra.Command {
	var f simkit.Flags
	var key string
	cmd := &cobra.Command{
		Use:   "digicert",
		Short: "Serve the DigiCert CertCentral simulator",
		Long: `sandbox digicert serves a DigiCert CertCentral Services API v2 simulator. It accepts
the documented requests, answers with the documented shapes and errors, enforces
DigiCert's rate limits, and approves a name only after it found the record in DNS
(asking the --dns servers). Point a [[ca]] account's base_url at the printed URL
and use the printed API key to dry-run a configuration end to end.`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			sim := New(Options{Keys: []string{key}, DNSServers: f.DNS, Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))})
			seed := func(path string) error {
				file, err := LoadFile(path)
				if err == nil {
					file.Seed(sim)
				}
				return err
			}
			return f.Run(cmd.Context(), sim, seed, func(root string) {
				fmt.Fprintf(cmd.OutOrStdout(), "DigiCert simulator: base_url = \"%s%s\", api_key = %q, DNS checked at %v\n", root, Prefix, key, f.DNS)
			})
		},
	}
	f.Register(cmd.Flags(), 8484, "TOML or JSON file of orders ([[order]]) and domains ([[domain]]) to seed")
	cmd.Flags().StringVar(&key, "key", DefaultKey, "API key the simulator accepts")
	return cmd
}

// DemoOrders are the orders `dcvd demo` seeds: an apex TXT, an apex +
// wildcard pair, and one validated by CNAME (what the README promises).
var DemoOrders = []OrderSpec{
	{CommonName: "example.com", Method: "dns-txt-token"},
	{CommonName: "example.org", DNSNames: []string{"*.example.org"}, Method: "dns-txt-token"},
	{CommonName: "shop.example.net", Method: "dns-cname-token"},
}

// Demo starts the simulator for `dcvd demo` with DemoOrders
// (providers.Spec.Demo).
func Demo(ctx context.Context, env providers.DemoEnv) (*providers.Demo, error) {
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	sim := New(Options{DNSServers: []string{env.DNS}, NoLimits: true, Logger: logger})
	d := &providers.Demo{Zones: []string{"example.com", "example.org", "example.net"}}
	for _, o := range DemoOrders {
		sim.AddOrder(o)
		names := append([]string{o.CommonName}, o.DNSNames...)
		d.Orders = append(d.Orders, fmt.Sprintf("%s (%s)", strings.Join(names, ", "), o.Method))
	}
	root, err := simkit.Start(ctx, sim)
	if err != nil {
		return nil, err
	}
	d.Simulator = "DigiCert simulator on " + root
	d.Config = fmt.Sprintf(`[[ca]]
type = "digicert"
name = %q
base_url = "%s%s"
api_key = %q
schedule = "@every 1m"
backoff_min = "50ms"
backoff_max = "1s"
# The simulator is local: no need to stay under DigiCert's real limits.
rate_limits = [{ n = 10000, window = "1s" }]
`, env.Account, root, Prefix, DefaultKey)
	return d, nil
}
