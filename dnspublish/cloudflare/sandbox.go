package cloudflare

import (
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/cli"
	sim "github.com/dcvd/dcvd/sandbox/cloudflare"
	"github.com/dcvd/dcvd/sandbox/simkit"
)

// sandboxCommand builds `dcvd sandbox cloudflare`.
func sandboxCommand() *cobra.Command {
	var listen, dnsListen, token string
	var zones []string
	cmd := &cobra.Command{
		Use:   Type,
		Short: "Serve the Cloudflare DNS API simulator with its own DNS server",
		Long: `sandbox cloudflare serves the Cloudflare API v4 zone and DNS record endpoints for the
given zones, and an authoritative DNS server (UDP and TCP on --dns-listen) serving them
from the simulator's state. Point a [[dns]] backend's base_url at the printed URL with the
printed token, and the verifier (or dig) at the DNS address.`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s := sim.New(map[string][]string{token: nil})
			for _, z := range zones {
				s.AddZone(z)
			}
			d, err := s.StartDNS(cmd.Context(), dnsListen)
			if err != nil {
				return cli.Usage(err)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return cli.Usage(fmt.Errorf("sandbox: %w", err))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Cloudflare simulator: base_url = %q, api_token = %q, DNS at %s, zones %v\n",
				"http://"+ln.Addr().String()+sim.Prefix, token, d.Addr(), zones)
			return simkit.Serve(cmd.Context(), ln, s)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8487", "address to serve the API on")
	cmd.Flags().StringVar(&dnsListen, "dns-listen", "127.0.0.1:8554", "address to serve DNS on (UDP and TCP)")
	cmd.Flags().StringVar(&token, "token", "sandbox-cloudflare-token", "API token the simulator accepts (a sandbox value, printed)")
	cmd.Flags().StringArrayVar(&zones, "zone", []string{"example.org"}, "zone in the simulated account (repeatable)")
	return cmd
}
