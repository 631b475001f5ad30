package main

import (
	"context"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/internal/hook"
)

// addHookCommands adds `dcvd hook ...` and `dcvd cleanup`.
func addHookCommands(root *cobra.Command, g *globals) {
	open := func(ctx context.Context) (*app.App, error) {
		return app.Open(ctx, g.configPath, app.Options{MinLogLevel: "warn"})
	}
	root.AddCommand(hook.Command(open), hook.CleanupCommand(open))
}

// httpReqHandler serves lego's httpreq provider on the daemon's listener.
func httpReqHandler(a *app.App, user, pass string) http.Handler {
	return hook.HTTPReqHandler(a, user, pass)
}
