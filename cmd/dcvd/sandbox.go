package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	sandbox "github.com/dcvd/dcvd/sandbox/digicert"
)

func newSandboxCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Serve a CA simulator so a configuration can be dry-run",
	}
	var listen, orders, key string
	var dnsServers []string
	dc := &cobra.Command{
		Use:   "digicert",
		Short: "Serve the DigiCert CertCentral simulator",
		Long: `sandbox digicert serves a DigiCert CertCentral Services API v2 simulator. It accepts
the documented requests, answers with the documented shapes and errors, enforces
DigiCert's rate limits, and approves a name only after it found the record in DNS
(asking the --dns servers). Point a [[ca]] account's base_url at the printed URL
and use the printed API key to dry-run a configuration end to end.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			sim := sandbox.New(sandbox.Options{Keys: []string{key}, DNSServers: dnsServers, Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))})
			if orders != "" {
				f, err := sandbox.LoadFile(orders)
				if err != nil {
					return &exitError{Code: exitConfig, Err: err}
				}
				f.Seed(sim)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return &exitError{Code: exitConfig, Err: fmt.Errorf("sandbox: %w", err)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "DigiCert simulator: base_url = \"http://%s%s\", api_key = %q, DNS checked at %v\n", ln.Addr(), sandbox.Prefix, key, dnsServers)
			return serveUntil(cmd.Context(), ln, sim)
		},
	}
	dc.Flags().StringVar(&listen, "listen", "127.0.0.1:8484", "address to serve on")
	dc.Flags().StringVar(&orders, "orders", "", "TOML or JSON file of orders ([[order]]) and domains ([[domain]]) to seed")
	dc.Flags().StringVar(&key, "key", sandbox.DefaultKey, "API key the simulator accepts")
	dc.Flags().StringArrayVar(&dnsServers, "dns", []string{"127.0.0.1:53"}, "DNS server host:port to look records up at (repeatable)")
	cmd.AddCommand(dc)
	return cmd
}

// serveUntil serves h on ln until ctx ends.
func serveUntil(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}
