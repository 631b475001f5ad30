package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/internal/observe"
	"github.com/dcvd/dcvd/internal/web"
)

func newDaemonCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "daemon",
		Short: "Run continuously: discover on each account's schedule and drive every challenge",
		Long: `daemon runs until SIGTERM. It polls every CA account on its cron schedule, drives the
pipeline with a bounded worker pool, serves the embedded DNS backend, and (when
daemon.listen is set) /metrics, /healthz and lego's httpreq endpoints.

Under systemd (Type=notify) it reports READY, a STATUS line and WATCHDOG pings.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDaemon(cmd.Context(), g.configPath)
		},
	}
}

func runDaemon(ctx context.Context, configPath string) error {
	a, err := app.Open(ctx, configPath, app.Options{Actor: "daemon"})
	if err != nil {
		return err
	}
	defer a.Close()
	log := a.Logger
	stopServers, err := startServers(ctx, a)
	if err != nil {
		return err
	}
	defer stopServers()

	stopHTTP, err := web.Serve(ctx, a)
	if err != nil {
		return err
	}
	defer stopHTTP()

	daemon.SdNotify(false, daemon.SdNotifyReady)
	defer daemon.SdNotify(false, daemon.SdNotifyStopping)
	go watchdog(ctx, a)
	go sweepHookLeftovers(ctx, a)
	go observe.Prune(ctx, a.Store, a.Config.Daemon.AuditRetention.D(), time.Hour, log)
	log.Info("dcvd started", "version", versionString(), "accounts", len(a.Providers), "backends", len(a.Publishers))
	err = a.Engine.Run(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("dcvd stopped")
	return nil
}

// watchdog pings systemd's watchdog at half its interval and refreshes the
// STATUS= line that `systemctl status` shows.
func watchdog(ctx context.Context, a *app.App) {
	interval := 30 * time.Second
	if wd, err := daemon.SdWatchdogEnabled(false); err == nil && wd > 0 {
		interval = wd / 2
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		status := statusLine(ctx, a)
		daemon.SdNotify(false, "STATUS="+status)
		daemon.SdNotify(false, daemon.SdNotifyWatchdog)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepHookLeftovers removes, every few minutes, records that a hook
// published and its tool never cleaned up (the tool crashed) once they are
// older than daemon.hook_max_age.
func sweepHookLeftovers(ctx context.Context, a *app.App) {
	maxAge := a.Config.Daemon.HookMaxAge.D()
	t := time.NewTicker(min(maxAge/4, 10*time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := a.Engine.Cleanup(ctx, maxAge); err != nil {
			a.Logger.Warn("hook leftover cleanup failed", "err", err)
		} else if n > 0 {
			a.Logger.Info("removed hook leftovers", "records", n, "older_than", maxAge)
		}
	}
}

// statusLine is the STATUS= line systemd shows: the challenges by state.
func statusLine(ctx context.Context, a *app.App) string {
	counts, err := a.Store.Counts(ctx)
	if err != nil {
		return "store error: " + err.Error()
	}
	var parts []string
	for _, st := range summaryOrder {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, counts[st]))
		}
	}
	if len(parts) == 0 {
		return "idle, no challenges"
	}
	return strings.Join(parts, ", ")
}
