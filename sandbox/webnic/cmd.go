package webnic

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/cli"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/sandbox/simkit"
)

// Command builds `dcvd sandbox webnic` (providers.Spec.Sandbox).
func Command() *cobra.Command {
	var f simkit.Flags
	var user, password string
	var allowed []string
	cmd := &cobra.Command{
		Use:   "webnic",
		Short: "Serve the WebNIC SSL API (Sectigo) simulator",
		Long: `sandbox webnic serves a WebNIC RESTful SSL API v2 simulator: the token flow, the
envelope with string code "1000" and error.subCode, order search, auth info, Change
Auth Type and DCV status. It approves a name only after it found Sectigo's exact
_<MD5>.<name> TXT or CNAME in DNS (asking the --dns servers). Point a [[ca]]
account's base_url at the printed URL, with the printed username and password,
to dry-run a configuration end to end.`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			sim := New(Options{Users: map[string]string{user: password}, AllowedIPs: allowed, DNSServers: f.DNS,
				Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))})
			if f.Seed != "" {
				specs, err := LoadOrders(f.Seed)
				if err != nil {
					return cli.Usage(err)
				}
				sim.AddOrders(specs)
			}
			return f.ServeFlags(cmd.Context(), sim, func(root string) {
				fmt.Fprintf(cmd.OutOrStdout(), "WebNIC simulator: base_url = %q, username = %q, password = %q, DNS checked at %v\n", root, user, password, f.DNS)
			})
		},
	}
	f.Register(cmd.Flags(), 8485, "TOML or JSON file of orders ([[order]]) to seed")
	cmd.Flags().StringVar(&user, "username", DefaultUser, "API username the simulator accepts")
	cmd.Flags().StringVar(&password, "password", DefaultPassword, "its password (a sandbox value, printed)")
	cmd.Flags().StringArrayVar(&allowed, "allow-ip", nil, "the credential's IP allow-list (repeatable; default: every caller)")
	return cmd
}

// DemoOrders are the orders `dcvd demo` seeds in DemoZone: apex + wildcard
// (one TXT), a CNAME challenge, an order that starts on email DCV (dcvd
// switches it to DNS), and a finished order dcvd must leave alone.
var DemoOrders = []OrderSpec{
	{CommonName: "webnic.example", SANs: []string{"*.webnic.example"}},
	{CommonName: "shop.webnic.example", RecordType: "CNAME"},
	{CommonName: "mail.webnic.example", AuthType: "email"},
	{CommonName: "old.webnic.example", OrderStatus: StatusCompleted},
}

// DemoZone is the zone of DemoOrders.
const DemoZone = "webnic.example"

// Demo starts the simulator for `dcvd demo` with DemoOrders
// (providers.Spec.Demo).
func Demo(ctx context.Context, env providers.DemoEnv) (*providers.Demo, error) {
	sim := New(Options{DNSServers: []string{env.DNS}, Logger: env.Logger}) // nil: discarded
	d := &providers.Demo{Zones: []string{DemoZone}}
	for _, o := range DemoOrders {
		sim.AddOrder(o)
		if Finished(o.OrderStatus, o.CertStatus) {
			d.Orders = append(d.Orders, fmt.Sprintf("%s (WebNIC, %s: left alone)", o.CommonName, o.OrderStatus))
			continue
		}
		how := strings.ToLower(o.AuthType)
		if how == "" {
			how = "dns"
		}
		if rt := o.RecordType; rt != "" && how == "dns" {
			how += " " + rt
		}
		d.Orders = append(d.Orders, fmt.Sprintf("%s (WebNIC, %s)", strings.Join(append([]string{o.CommonName}, o.SANs...), ", "), how))
	}
	root, err := simkit.Start(ctx, sim)
	if err != nil {
		return nil, err
	}
	d.Simulator = "WebNIC simulator on " + root
	d.Config = fmt.Sprintf(`[[ca]]
type = "webnic"
name = %q
base_url = %q
username = %q
password = %q
schedule = "@every 1m"
poll_min = "200ms"
poll_max = "2s"
retry_min = "50ms"
retry_max = "1s"
# The simulator is local: no need to stay under WebNIC's limits.
rate_limits = [{ n = 10000, window = "1s" }]
`, env.Account, root, DefaultUser, DefaultPassword)
	return d, nil
}
