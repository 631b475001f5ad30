package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/miekg/dns"
	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/verify"
)

func newCheckCmd(g *globals) *cobra.Command {
	var typ, value, domain string
	var wait, asJSON, noCAA bool
	var issuers []string
	cmd := &cobra.Command{
		Use:   "check NAME",
		Short: "Show what every authoritative server of NAME's zone answers",
		Long: `check finds NAME's zone cut and NS set the way the pipeline does, asks every
authoritative address directly and prints one row per server. With --value it
says whether the value is visible everywhere; with --wait it polls until it is
or [propagation] timeout passes.

Every server row shows its DNSSEC verdict (secure, insecure, bogus and why),
whether the parent's delegation and the zone's own NS set agree on it, and
IPv6 addresses this machine cannot reach. [[propagation.perspective]] entries
are asked once the authoritative servers serve the value. Then the CAA records
of the domain (NAME without its leading _labels, or --domain; "*.example.com"
for a wildcard) are checked for every configured CA's issuer domain (or
--issuer).

Exit codes: 0 visible (and CAA allows), 1 not visible or CAA forbids,
2 error (config, zone not found).`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := dnspublish.ParseType(typ)
			if err != nil {
				return &exitError{Code: exitConfig, Err: err}
			}
			cfg, err := app.LoadConfig(g.configPath)
			if err != nil {
				return err
			}
			logger := app.NewLogger(cmd.ErrOrStderr(), cfg.Daemon.LogFormat, "warn")
			chk, err := verify.New(app.VerifyOptions(cfg, logger))
			if err != nil {
				return &exitError{Code: exitConfig, Err: err}
			}
			q := verify.Query{Name: args[0], Type: t, Value: value}
			var rep *verify.Report
			if wait {
				rep, err = chk.Wait(cmd.Context(), q)
			} else {
				rep, err = chk.Check(cmd.Context(), q)
			}
			if rep == nil && err != nil {
				return &exitError{Code: exitConfig, Err: fmt.Errorf("check %s: %w", args[0], err)}
			}
			forbidden := false
			if !noCAA {
				sets := caaIssuerSets(cfg, issuers)
				if len(sets) == 0 {
					if rep.Note != "" {
						rep.Note += "; "
					}
					rep.Note += "CAA not checked: no configured [[ca]] names its issuer domain (use --issuer with the CA's CAA domain)"
				}
				name := domain
				if name == "" {
					name = caaDomain(args[0])
				}
				for _, iss := range sets {
					res, err := chk.CAA(cmd.Context(), name, iss)
					if err != nil {
						return &exitError{Code: exitConfig, Err: fmt.Errorf("check %s: %w", args[0], err)}
					}
					rep.CAA = append(rep.CAA, res)
					forbidden = forbidden || res.Forbidden() || res.Hold
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				rep.WriteTable(out)
			}
			if err != nil {
				// The check could not run (zone not found, CNAME loop):
				// an error, not "not visible".
				return &exitError{Code: exitConfig, Err: fmt.Errorf("check %s: %w", args[0], err)}
			}
			if !rep.Visible || forbidden {
				return &exitError{Code: exitFailed}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&typ, "type", "TXT", "record type: TXT or CNAME")
	cmd.Flags().StringVar(&value, "value", "", "expected TXT value or CNAME target")
	cmd.Flags().BoolVar(&wait, "wait", false, "poll until visible or the propagation timeout")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringSliceVar(&issuers, "issuer", nil, "CAA issuer domain to check (repeatable; default: those of every configured [[ca]])")
	cmd.Flags().StringVar(&domain, "domain", "", `domain whose CAA is checked (default: NAME without leading "_" labels; "*.name" for a wildcard)`)
	cmd.Flags().BoolVar(&noCAA, "no-caa", false, "skip the CAA check")
	return cmd
}

// caaDomain is the domain a DCV record name validates: the name without
// its leading underscore labels (_acme-challenge, _dnsauth, ...).
func caaDomain(name string) string {
	labels := dns.SplitDomainName(name)
	for len(labels) > 1 && strings.HasPrefix(labels[0], "_") {
		labels = labels[1:]
	}
	return strings.Join(labels, ".")
}

// caaIssuerSets are the issuer-domain sets to check: --issuer as one set,
// else one per configured CA type that has issuer domains.
func caaIssuerSets(cfg *config.Config, flag []string) [][]string {
	if len(flag) > 0 {
		return [][]string{flag}
	}
	var out [][]string
	seen := map[string]bool{}
	for _, ca := range cfg.CAs {
		k := strings.Join(ca.Spec.IssuerDomains, ",")
		if k == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, ca.Spec.IssuerDomains)
	}
	return out
}

// openStore opens the state database of cfg without building anything else.
func openStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	return app.OpenStore(ctx, cfg)
}
