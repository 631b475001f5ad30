package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/internal/registry"
	"github.com/dcvd/dcvd/providers"
)

// caSpecs returns the registered CA types, sorted by type.
func caSpecs() []providers.Spec {
	var specs []providers.Spec
	for _, s := range registry.Registry().CA {
		specs = append(specs, s)
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].Type < specs[j].Type })
	return specs
}

// caCommands returns every registered CA's own `dcvd <type> ...` command
// (providers.Spec.Commands), each with the --account flag.
func caCommands(g *globals) []*cobra.Command {
	var out []*cobra.Command
	for _, spec := range caSpecs() {
		if spec.Commands == nil {
			continue
		}
		var account string
		cmd := spec.Commands(accountOpener(g, spec.Type, &account))
		cmd.PersistentFlags().StringVar(&account, "account", "", fmt.Sprintf("[[ca]] name to use (default: the only %s account)", spec.Type))
		out = append(out, cmd)
	}
	return out
}

// accountOpener opens the [[ca]] account of type typ named *account, or the
// only one of that type.
func accountOpener(g *globals, typ string, account *string) providers.OpenAccount {
	return func(cmd *cobra.Command) (providers.Provider, error) {
		cfg, err := app.LoadConfig(g.configPath)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, ca := range cfg.CAs {
			if ca.Type != typ {
				continue
			}
			names = append(names, ca.Name)
			if *account == "" || *account == ca.Name {
				if *account == "" && len(names) > 1 {
					break
				}
				logger := app.NewLogger(cmd.ErrOrStderr(), cfg.Daemon.LogFormat, "warn")
				p, err := ca.Spec.Open(cmd.Context(), app.ProviderBase(ca, logger), ca.Options)
				if err != nil {
					return nil, &exitError{Code: exitConfig, Err: fmt.Errorf("[[ca]] %q: %w", ca.Name, err)}
				}
				return p, nil
			}
		}
		switch {
		case len(names) == 0:
			return nil, &exitError{Code: exitConfig, Err: fmt.Errorf("no [[ca]] account of type %s in %s", typ, cfg.Path)}
		case *account == "":
			return nil, &exitError{Code: exitConfig, Err: fmt.Errorf("several %s accounts (%s): pick one with --account", typ, strings.Join(names, ", "))}
		}
		return nil, &exitError{Code: exitConfig, Err: fmt.Errorf("no %s account named %q (have %s)", typ, *account, strings.Join(names, ", "))}
	}
}
