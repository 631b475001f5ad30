package mijndomeinreseller

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/internal/cli"
	sim "github.com/dcvd/dcvd/sandbox/mijndomeinreseller"
	"github.com/dcvd/dcvd/sandbox/simkit"
)

// AuthCode is the answer of POST /v2/domains/{domain}/auth_code.
type AuthCode struct {
	// Code is the generated auth code; empty when Mailed.
	Code string `json:"auth_code"`
	// Expiry is set only when the code expires.
	Expiry *time.Time `json:"auth_code_date_expiry,omitempty"`
	// Mailed: the registry sends the code to the registrant (204).
	Mailed bool `json:"-"`
}

// AuthCode asks for a domain's auth code (transfer token). 201 carries the
// code; 204 means the registry mails it to the registrant.
func (p *Publisher) AuthCode(ctx context.Context, domain string) (AuthCode, error) {
	var out AuthCode
	resp, err := p.api.Do(ctx, apiclient.Request{
		Method: http.MethodPost,
		Path:   apiclient.Path("/v2/domains/%s/auth_code", domainOf(dnsName(domain))),
		Out:    &out,
	})
	if err != nil {
		return out, err
	}
	if resp.Status == http.StatusNoContent {
		return AuthCode{Mailed: true}, nil
	}
	if out.Code == "" {
		return out, fmt.Errorf("%s: POST auth_code for %s: %d without an auth_code", p.label, domain, resp.Status)
	}
	return out, nil
}

func dnsName(s string) string {
	if s == "" || s[len(s)-1] != '.' {
		return s + "."
	}
	return s
}

// commands builds `dcvd mijndomeinreseller` (dnspublish.Spec.Commands).
func commands(open dnspublish.OpenBackend) *cobra.Command {
	root := &cobra.Command{
		Use:   Type,
		Short: "mijndomeinreseller.nl / nextname.nl operations",
	}
	root.AddCommand(&cobra.Command{
		Use:   "auth-code DOMAIN",
		Short: "Request a domain's auth code (transfer token)",
		Long: `auth-code asks the registrar for DOMAIN's auth code (POST /v2/domains/{domain}/auth_code).
It prints the code (and when it expires, if it does). For registries that only mail the
code to the registrant (.be, for one), it says so instead. Exit 0 on either outcome,
1 with the API's own error, 2 on a usage or configuration error.`,
		Args: cli.Args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, err := open(cmd)
			if err != nil {
				return err
			}
			p, ok := pub.(*Publisher)
			if !ok {
				return cli.Usage(fmt.Errorf("[[dns]] %q is not a mijndomeinreseller backend", pub.Name()))
			}
			ac, err := p.AuthCode(cmd.Context(), args[0])
			if err != nil {
				return cli.Failed(err)
			}
			switch {
			case ac.Mailed:
				fmt.Fprintf(cmd.OutOrStdout(), "%s: the registry sends the auth code to the registrant (no code returned)\n", args[0])
			case ac.Expiry != nil:
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t(expires %s)\n", ac.Code, ac.Expiry.UTC().Format(time.RFC3339))
			default:
				fmt.Fprintln(cmd.OutOrStdout(), ac.Code)
			}
			return nil
		},
	})
	return root
}

// sandboxCommand builds `dcvd sandbox mijndomeinreseller`.
func sandboxCommand() *cobra.Command {
	var listen, dnsListen, key string
	var domains []string
	cmd := &cobra.Command{
		Use:   Type,
		Short: "Serve the mijndomeinreseller.nl DNS API simulator with its own DNS server",
		Long: `sandbox mijndomeinreseller serves the API v2 DNS zone records and auth_code endpoints
for the given domains, and an authoritative DNS server (UDP and TCP on --dns-listen) that
serves those domains from the simulator's state. Point a [[dns]] backend's base_url at the
printed URL with the printed key, and the verifier (or dig) at the DNS address.`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s := sim.New(sim.Options{Keys: []string{key}, Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))})
			for _, d := range domains {
				s.AddDomain(d)
			}
			d, err := s.StartDNS(cmd.Context(), dnsListen)
			if err != nil {
				return cli.Usage(err)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return cli.Usage(fmt.Errorf("sandbox: %w", err))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "mijndomeinreseller simulator: base_url = %q, api_key = %q, DNS at %s, domains %v\n",
				"http://"+ln.Addr().String(), key, d.Addr(), domains)
			return simkit.Serve(cmd.Context(), ln, s)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8486", "address to serve the API on")
	cmd.Flags().StringVar(&dnsListen, "dns-listen", "127.0.0.1:8553", "address to serve DNS on (UDP and TCP)")
	cmd.Flags().StringVar(&key, "key", sim.DefaultKey, "API key the simulator accepts (a sandbox value, printed)")
	cmd.Flags().StringArrayVar(&domains, "domain", []string{"example.nl"}, "domain hosted in the simulated account (repeatable)")
	return cmd
}
