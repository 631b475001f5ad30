package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/app"
	sandbox "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store"
)

func newDemoCmd() *cobra.Command {
	var keep bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline on this machine with nothing else installed",
		Long: `demo starts dcvd's embedded DNS server and the DigiCert simulator on loopback, seeds
three orders (an apex TXT, an apex + wildcard pair, and one validated by CNAME),
writes a config file for them, and runs exactly what "dcvd run" runs: discover,
publish, verify on the authoritative server, ask the CA, clean up. It prints the
summary and the final state of every challenge, and exits 0 when all validated
and nothing is left in the zones.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			return runDemo(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), keep)
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the demo's directory (config, state) afterwards")
	cmd.Flags().DurationVar(&timeout, "timeout", 60*time.Second, "give up after this long")
	return cmd
}

// demoOrders are the orders the demo seeds: what the README promises.
var demoOrders = []sandbox.OrderSpec{
	{CommonName: "example.com", Method: "dns-txt-token"},
	{CommonName: "example.org", DNSNames: []string{"*.example.org"}, Method: "dns-txt-token"},
	{CommonName: "shop.example.net", Method: "dns-cname-token"},
}

func runDemo(ctx context.Context, stdout, stderr io.Writer, keep bool) error {
	dir, err := os.MkdirTemp("", "dcvd-demo-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	dnsAddr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	sim := sandbox.New(sandbox.Options{
		DNSServers: []string{dnsAddr},
		NoLimits:   true,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	for _, o := range demoOrders {
		sim.AddOrder(o)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stopSim := context.WithCancel(ctx)
	defer stopSim()
	go serveUntil(sctx, ln, sim)

	cfgPath := filepath.Join(dir, "config.toml")
	cfg := fmt.Sprintf(`# Written by "dcvd demo": the embedded DNS server and the DigiCert simulator on loopback.
[daemon]
state_dir = %q
log_level = "warn"

[propagation]
# The demo's zones exist only on the embedded server, so zone cuts are found
# there and every zone's authoritative server is that address.
resolvers = [%q]
poll_min = "10ms"
poll_max = "200ms"
timeout = "30s"
[[propagation.override]]
zone = "."
servers = [%q]

[[ca]]
type = "digicert"
name = "demo"
base_url = "http://%s%s"
api_key = %q
schedule = "@every 1m"
backoff_min = "50ms"
backoff_max = "1s"
# The simulator is local: no need to stay under DigiCert's real limits.
rate_limits = [{ n = 10000, window = "1s" }]

[[dns]]
type = "embedded"
name = "embedded"
zones = ["example.com", "example.org", "example.net"]
listen = %q
`, filepath.Join(dir, "state"), dnsAddr, dnsAddr, ln.Addr(), sandbox.Prefix, sandbox.DefaultKey, dnsAddr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "dcvd demo: embedded DNS on %s, DigiCert simulator on http://%s, config %s\n", dnsAddr, ln.Addr(), cfgPath)
	for _, o := range demoOrders {
		names := append([]string{o.CommonName}, o.DNSNames...)
		fmt.Fprintf(stdout, "  order: %s (%s)\n", strings.Join(names, ", "), o.Method)
	}
	fmt.Fprintln(stdout)

	runErr := runOnce(ctx, cfgPath, stdout, stderr)

	// Show where every challenge ended, straight from the store (with a
	// fresh context: the run may have used up the demo's).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	c, err := app.LoadConfig(cfgPath)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	rows, err := st.List(ctx, store.Filter{})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	t := newTable(stdout, "ORDER", "NAME", "RECORD", "STATE", "DNS")
	for _, r := range rows {
		t.row(r.Order, r.Name, r.Record.String(), string(r.State), string(r.DNS))
	}
	t.flush()
	if runErr != nil {
		return runErr
	}
	if len(rows) == 0 {
		return &exitError{Code: exitFailed, Err: fmt.Errorf("demo: no challenge was discovered")}
	}
	for _, r := range rows {
		if r.State != store.Cleaned {
			return &exitError{Code: exitFailed, Err: fmt.Errorf("demo: %s ended %s: %s", r.Name, r.State, r.Reason)}
		}
	}
	fmt.Fprintf(stdout, "\nall %d challenges validated and their records removed\n", len(rows))
	return nil
}

// freeLoopbackAddr returns 127.0.0.1:port with the port free for UDP and TCP.
func freeLoopbackAddr() (string, error) {
	for i := 0; i < 20; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := l.Addr().String()
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err == nil {
			u.Close()
			return addr, nil
		}
	}
	return "", fmt.Errorf("no free loopback port")
}
