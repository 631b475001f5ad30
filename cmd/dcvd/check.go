package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/sqlite"
	"github.com/dcvd/dcvd/verify"
)

func newCheckCmd(g *globals) *cobra.Command {
	var typ, value string
	var wait, asJSON bool
	cmd := &cobra.Command{
		Use:   "check NAME",
		Short: "Show what every authoritative server of NAME's zone answers",
		Long: `check finds NAME's zone cut and NS set the way the pipeline does, asks every
authoritative address directly and prints one row per server. With --value it
says whether the value is visible everywhere; with --wait it polls until it is
or [propagation] timeout passes.

Exit codes: 0 visible, 1 not visible, 2 error (config, zone not found).`,
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
			if !rep.Visible {
				return &exitError{Code: exitFailed}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&typ, "type", "TXT", "record type: TXT or CNAME")
	cmd.Flags().StringVar(&value, "value", "", "expected TXT value or CNAME target")
	cmd.Flags().BoolVar(&wait, "wait", false, "poll until visible or the propagation timeout")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// openStore opens the state database of cfg without building anything else.
func openStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	st, err := sqlite.Open(ctx, cfg.StatePath())
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", cfg.StatePath(), err)
	}
	return st, nil
}
