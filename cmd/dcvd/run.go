package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/scheduler"
	"github.com/dcvd/dcvd/store"
)

func newRunCmd(g *globals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "run",
		Short: "One pass: discover, drive every challenge as far as it goes, print a summary",
		Long: `run discovers pending orders on every configured CA account, then publishes, verifies,
submits and cleans up until nothing more can happen now or --timeout passes.

Exit codes: 0 all done or nothing to do, 1 at least one challenge failed,
2 configuration error, 3 some challenges still wait on the CA.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			return runOnce(ctx, g.configPath, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "give up driving challenges after this long")
	return cmd
}

// runOnce is `dcvd run`; the demo calls it too.
func runOnce(ctx context.Context, configPath string, stdout, stderr io.Writer) error {
	prog := newProgress(stderr)
	a, err := app.Open(ctx, configPath, app.Options{LogOutput: prog.logWriter(), OnChange: prog.change})
	if err != nil {
		return err
	}
	defer a.Close()
	stopServers, err := startServers(ctx, a)
	if err != nil {
		return err
	}
	defer stopServers()

	prog.start()
	start := time.Now()
	sum, err := a.Engine.RunOnce(ctx)
	prog.stop()
	if err != nil && ctx.Err() == nil {
		return &exitError{Code: exitFailed, Err: fmt.Errorf("run: %w", err)}
	}
	printSummary(stdout, sum, time.Since(start))
	return summaryExit(sum)
}

func summaryExit(sum scheduler.Summary) error {
	switch {
	case sum.ByState[store.Failed]+sum.ByState[store.Expired] > 0:
		return &exitError{Code: exitFailed}
	case waiting(sum) > 0:
		return &exitError{Code: exitWaiting}
	}
	return nil
}

// waiting counts rows that are not finished.
func waiting(sum scheduler.Summary) int {
	n := 0
	for st, c := range sum.ByState {
		if !st.Terminal() {
			n += c
		}
	}
	return n
}

var summaryOrder = []store.State{store.Discovered, store.Published, store.Visible, store.Submitted, store.Validated, store.Cleaned, store.Failed, store.Expired}

func printSummary(w io.Writer, sum scheduler.Summary, took time.Duration) {
	total := 0
	for _, c := range sum.ByState {
		total += c
	}
	fmt.Fprintf(w, "%d challenges in %s\n", total, took.Round(time.Millisecond))
	tw := newTable(w, "STATE", "COUNT")
	for _, st := range summaryOrder {
		if c := sum.ByState[st]; c > 0 {
			tw.row(string(st), fmt.Sprint(c))
		}
	}
	tw.flush()
	if len(sum.Failed) > 0 {
		fmt.Fprintln(w)
		tw := newTable(w, "ACCOUNT", "ORDER", "NAME", "STATE", "REASON")
		for _, c := range sum.Failed {
			tw.row(c.Account, c.Order, c.Name, string(c.State), c.Reason)
		}
		tw.flush()
	}
}
