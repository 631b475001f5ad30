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
	a, err := app.Open(ctx, configPath, app.Options{LogOutput: prog.logWriter(), OnChange: prog.onChange(), MinLogLevel: prog.minLogLevel()})
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
	if err != nil {
		return &exitError{Code: exitFailed, Err: fmt.Errorf("run: %w", err)}
	}
	printSummary(stdout, sum, time.Since(start))
	return summaryExit(sum)
}

func summaryExit(sum scheduler.Summary) error {
	if code := sum.ExitCode(); code != 0 {
		return &exitError{Code: code}
	}
	return nil
}

var summaryOrder = []store.State{store.Discovered, store.Published, store.Visible, store.Triggering, store.Submitted, store.Validated, store.Cleaned, store.Failed, store.Expired}

// printSummary prints the counts, then every row that needs a person's
// attention with the reason: failures, records that could not be removed,
// and challenges still waiting (on the CA, or backing off after an error).
func printSummary(w io.Writer, sum scheduler.Summary, took time.Duration) {
	fmt.Fprintf(w, "%s in %s\n", sum.String(), took.Round(time.Millisecond))
	for _, e := range sum.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
	if sum.Total > 0 {
		tw := newTable(w, "STATE", "COUNT")
		for _, st := range summaryOrder {
			if c := sum.ByState[st]; c > 0 {
				tw.row(string(st), fmt.Sprint(c))
			}
		}
		tw.flush()
	}
	var attention []store.Challenge
	attention = append(attention, sum.Failed...)
	attention = append(attention, sum.Leftover...)
	attention = append(attention, sum.Pending...)
	if len(attention) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := newTable(w, "ACCOUNT", "ORDER", "NAME", "STATE", "DNS", "REASON")
	for i, c := range attention {
		if i == 50 {
			tw.row("...", fmt.Sprintf("%d more: dcvd status", len(attention)-50), "", "", "", "")
			break
		}
		reason := c.Reason
		if reason == "" && c.State == store.Submitted {
			reason = "waiting on the CA"
		}
		tw.row(c.Account, c.Order, c.Name, string(c.State), string(c.DNS), reason)
	}
	tw.flush()
}
