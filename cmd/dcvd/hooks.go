package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/internal/hook"
)

// addHookCommands adds `dcvd hook ...` and `dcvd cleanup`.
func addHookCommands(root *cobra.Command, g *globals) {
	open := func(ctx context.Context) (*app.App, error) {
		return app.Open(ctx, g.configPath, app.Options{MinLogLevel: "warn", Actor: "hook"})
	}
	root.AddCommand(hook.Command(open), hook.CleanupCommand(open))
}
