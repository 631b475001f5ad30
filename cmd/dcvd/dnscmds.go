package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/internal/registry"
)

// dnsSpecs returns the registered DNS backend types, sorted by type.
func dnsSpecs() []dnspublish.Spec {
	var specs []dnspublish.Spec
	for _, s := range registry.Registry().DNS {
		specs = append(specs, s)
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].Type < specs[j].Type })
	return specs
}

// dnsCommands returns every registered DNS backend's own `dcvd <type> ...`
// command (dnspublish.Spec.Commands), each with the --backend flag.
func dnsCommands(g *globals) []*cobra.Command {
	var out []*cobra.Command
	for _, spec := range dnsSpecs() {
		if spec.Commands == nil {
			continue
		}
		var backend string
		cmd := spec.Commands(backendOpener(g, spec.Type, &backend))
		cmd.PersistentFlags().StringVar(&backend, "backend", "", fmt.Sprintf("[[dns]] name to use (default: the only %s backend)", spec.Type))
		out = append(out, cmd)
	}
	return out
}

// backendOpener opens the [[dns]] backend of type typ named *backend, or
// the only one of that type.
func backendOpener(g *globals, typ string, backend *string) dnspublish.OpenBackend {
	return func(cmd *cobra.Command) (dnspublish.Publisher, error) {
		cfg, err := app.LoadConfig(g.configPath)
		if err != nil {
			return nil, err
		}
		var names []string
		var pick *config.DNS
		for i, d := range cfg.DNS {
			if d.Type != typ {
				continue
			}
			names = append(names, d.Name)
			if *backend == d.Name {
				pick = &cfg.DNS[i]
			}
		}
		if pick == nil && *backend == "" && len(names) == 1 {
			for i, d := range cfg.DNS {
				if d.Type == typ {
					pick = &cfg.DNS[i]
				}
			}
		}
		if pick != nil {
			logger := app.NewLogger(cmd.ErrOrStderr(), cfg.Daemon.LogFormat, "warn")
			p, err := pick.Spec.Open(cmd.Context(), app.PublisherBase(*pick, logger, nil), pick.Options)
			if err != nil {
				return nil, &exitError{Code: exitConfig, Err: fmt.Errorf("[[dns]] %q: %w", pick.Name, err)}
			}
			return p, nil
		}
		switch {
		case len(names) == 0:
			return nil, &exitError{Code: exitConfig, Err: fmt.Errorf("no [[dns]] backend of type %s in %s", typ, cfg.Path)}
		case *backend == "":
			return nil, &exitError{Code: exitConfig, Err: fmt.Errorf("several %s backends (%s): pick one with --backend", typ, strings.Join(names, ", "))}
		}
		return nil, &exitError{Code: exitConfig, Err: fmt.Errorf("no %s backend named %q (have %s)", typ, *backend, strings.Join(names, ", "))}
	}
}
