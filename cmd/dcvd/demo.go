package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/store"
)

func newDemoCmd() *cobra.Command {
	var keep bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline on this machine with nothing else installed",
		Long: `demo starts dcvd's embedded DNS server and every built-in CA simulator on loopback,
seeds each CA's demo orders (apex names, apex + wildcard pairs, a CNAME-validated
name), writes a config file for them, and runs exactly what "dcvd run" runs:
discover, publish, verify on the authoritative server, ask the CA, clean up. It prints the summary and the final state of every challenge, and exits 0
when all validated and nothing is left in the zones.`,
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
	sctx, stopSims := context.WithCancel(ctx)
	defer stopSims()
	var demos []*providers.Demo
	var zones []string
	for _, spec := range caSpecs() {
		if spec.Demo == nil {
			continue
		}
		d, err := spec.Demo(sctx, providers.DemoEnv{DNS: dnsAddr, Account: spec.Type})
		if err != nil {
			return fmt.Errorf("demo: %s simulator: %w", spec.Type, err)
		}
		demos = append(demos, d)
		zones = append(zones, d.Zones...)
	}
	if len(demos) == 0 {
		return &exitError{Code: exitConfig, Err: fmt.Errorf("demo: no CA in this binary has demo orders")}
	}

	cfgPath := filepath.Join(dir, "config.toml")
	var cas strings.Builder
	for _, d := range demos {
		cas.WriteString("\n" + d.Config)
	}
	cfg := fmt.Sprintf(`# Written by "dcvd demo": the embedded DNS server and the CA simulators on loopback.
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
%s
[[dns]]
type = "embedded"
name = "embedded"
zones = [%s]
listen = %q
`, filepath.Join(dir, "state"), dnsAddr, dnsAddr, cas.String(), quoteList(zones), dnsAddr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "dcvd demo: embedded DNS on %s, config %s\n", dnsAddr, cfgPath)
	for _, d := range demos {
		fmt.Fprintf(stdout, "%s\n", d.Simulator)
		for _, o := range d.Orders {
			fmt.Fprintf(stdout, "  order: %s\n", o)
		}
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

// quoteList renders strings as the inside of a TOML array.
func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
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
