package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/providers"
)

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Configuration tools"}
	var online bool
	check := &cobra.Command{
		Use:   "check",
		Short: "Validate the config and print the routing plan (secrets redacted)",
		Long: `config check loads the configuration exactly as the daemon does, opens every DNS
backend and CA account (no network I/O), and prints which zone goes to which
backend, which CA accounts are polled when, and how propagation is checked.
Secrets are never printed. Exit code 2 on any error, naming file:line.

With --online, each DNS backend that can (dnspublish.Checker) also checks its
credentials and zones with one read call per zone; a failure is printed with
the backend's own message and exits 1. The state store is checked too: for
PostgreSQL, a connection and the schema version found (nothing is changed).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := app.LoadConfig(g.configPath)
			if err != nil {
				return err
			}
			quiet := app.NewLogger(io.Discard, "text", "error")
			var pubs []dnspublish.Publisher
			for _, d := range cfg.DNS {
				p, err := d.Spec.Open(cmd.Context(), app.PublisherBase(d, quiet, noRecords{}), d.Options)
				if err != nil {
					return &config.Error{File: cfg.Path, Line: d.Line, Msg: fmt.Sprintf("[[dns]] %q: %v", d.Name, err)}
				}
				if c, ok := p.(dnspublish.Closer); ok {
					defer c.Close()
				}
				pubs = append(pubs, p)
			}
			router, err := dnspublish.NewRouter(pubs...)
			if err != nil {
				return &config.Error{File: cfg.Path, Msg: err.Error()}
			}
			limits := map[string][]providers.RateLimit{}
			for _, ca := range cfg.CAs {
				p, err := ca.Spec.Open(cmd.Context(), app.ProviderBase(ca, quiet), ca.Options)
				if err != nil {
					return &config.Error{File: cfg.Path, Line: ca.Line, Msg: fmt.Sprintf("[[ca]] %q: %v", ca.Name, err)}
				}
				limits[ca.Name] = providers.AccountLimits(ca.Spec, p)
			}
			printPlan(cmd.OutOrStdout(), cfg, router, limits)
			if online {
				return errors.Join(checkStoreOnline(cmd.Context(), cmd.OutOrStdout(), cfg),
					checkOnline(cmd.Context(), cmd.OutOrStdout(), pubs))
			}
			return nil
		},
	}
	check.Flags().BoolVar(&online, "online", false, "also check each DNS backend's credentials and zones with a read call")
	cmd.AddCommand(check)
	return cmd
}

func printPlan(w io.Writer, cfg *config.Config, router *dnspublish.Router, limits map[string][]providers.RateLimit) {
	fmt.Fprintf(w, "config %s: ok\n\nstate: %s\n", cfg.Path, cfg.StateDescription())
	if cfg.Daemon.Listen != "" {
		fmt.Fprintf(w, "listen: %s (/metrics, /healthz", cfg.Daemon.Listen)
		if cfg.Daemon.HTTPReq.Username != "" {
			fmt.Fprint(w, ", httpreq /present /cleanup")
		}
		fmt.Fprintln(w, ")")
	}
	fmt.Fprintln(w, "\nDNS routing (longest suffix wins; other names are refused):")
	t := newTable(w, "  ZONE", "BACKEND", "TYPE")
	types := map[string]string{}
	for _, d := range cfg.DNS {
		types[d.Name] = d.Type
	}
	for _, zr := range router.Plan() {
		t.row("  "+strings.TrimSuffix(zr[0], "."), zr[1], types[zr[1]])
	}
	t.flush()

	fmt.Fprintln(w, "\nCA accounts:")
	if len(cfg.CAs) == 0 {
		fmt.Fprintln(w, "  none (hooks only)")
	} else {
		t = newTable(w, "  NAME", "TYPE", "SCHEDULE", "NEXT", "METHOD", "DOMAINS", "LIMITS")
		for _, ca := range cfg.CAs {
			next := "-"
			if s, err := cron.ParseStandard(ca.Schedule); err == nil {
				next = s.Next(time.Now()).Format("15:04:05")
			}
			domains := "all"
			if len(ca.Domains) > 0 {
				domains = strings.Join(ca.Domains, ",")
			}
			var ls []string
			for _, l := range limits[ca.Name] {
				ls = append(ls, l.String())
			}
			lim := "-"
			if len(ls) > 0 {
				lim = strings.Join(ls, ",")
			}
			t.row("  "+ca.Name, ca.Type, ca.Schedule, next, ca.Method, domains, lim)
		}
		t.flush()
	}

	p := cfg.Propagation
	fmt.Fprintln(w, "\nPropagation:")
	if p.Mode == "wait" {
		fmt.Fprintf(w, "  mode wait: fixed delay %s, no DNS queries\n", p.Wait.D())
	} else {
		req := "every authoritative address"
		if p.Require == "quorum" {
			req = fmt.Sprintf("a quorum of %d authoritative addresses", p.Quorum)
		}
		fmt.Fprintf(w, "  mode authoritative: %s must serve the value\n", req)
		fmt.Fprintf(w, "  poll %s doubling to %s, query timeout %s, give up after %s\n", p.PollMin.D(), p.PollMax.D(), p.QueryTimeout.D(), p.Timeout.D())
		res := "system (/etc/resolv.conf)"
		if len(p.Resolvers) > 0 {
			res = strings.Join(p.Resolvers, ", ")
		}
		fmt.Fprintf(w, "  zone cuts and NS found through: %s\n", res)
		if len(p.Recursive) > 0 {
			fmt.Fprintf(w, "  then recursive resolvers (after the authoritative check): %s\n", strings.Join(p.Recursive, ", "))
		}
	}
	for _, o := range p.Override {
		fmt.Fprintf(w, "  override %s: ask %s instead of its NS set\n", strings.TrimSuffix(o.Zone, "."), strings.Join(o.Servers, ", "))
	}
}

// noRecords is the record store backends get during `config check`: the
// check builds every backend but must not open (or create) the state.
type noRecords struct{}

func (noRecords) AddRecords(context.Context, string, []dnspublish.Record) error {
	return fmt.Errorf("config check writes no records")
}
func (noRecords) RemoveRecords(context.Context, string, []dnspublish.Record) error {
	return fmt.Errorf("config check writes no records")
}
func (noRecords) Records(context.Context, string) ([]dnspublish.Record, error) { return nil, nil }
