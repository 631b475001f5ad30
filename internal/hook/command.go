package hook

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/app"
)

// Opener opens the dcvd configuration (the CLI binds it to --config,
// $DCVD_CONFIG and /etc/dcvd/config.toml).
type Opener func(ctx context.Context) (*app.App, error)

// Command returns the `hook` command tree. Errors it returns carry their
// exit code (ExitCode); the caller prints the error once on stderr.
//
// Commands whose arguments come from a tool (dehydrated, uacme, lego-exec)
// stop parsing flags at the first argument, because ACME tokens and values
// may begin with "-": put flags before the verb.
func Command(open Opener) *cobra.Command {
	var timeout time.Duration
	root := &cobra.Command{
		Use:   "hook",
		Short: "Publish dns-01 records for certbot, dehydrated, uacme, lego, acme.sh",
		Long: `Run dcvd as the DNS hook of an existing ACME client. dcvd publishes the
record through the backend the config routes the name to, waits until every
authoritative server serves it, and removes exactly that value afterwards.

Exit codes: 0 success; 1 publish or propagation failure (uacme: type
declined); 2 usage or configuration error (missing variable or argument,
a name no backend serves).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().DurationVar(&timeout, "timeout", 0, "give up waiting for propagation after this long (default: [propagation] timeout)")

	// run opens the app, runs fn with a Runner and closes the app.
	run := func(cmd *cobra.Command, fn func(ctx context.Context, r *Runner) error) error {
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		a, err := open(ctx)
		if err != nil {
			return &Error{Code: ExitUsage, Err: fmt.Errorf("hook: open config: %w", err)}
		}
		defer a.Close()
		return fn(ctx, NewRunner(a))
	}
	toolCmd := func(use, short string, fn func(ctx context.Context, r *Runner, args []string) error) *cobra.Command {
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.ArbitraryArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				// Calls that need no DNS (dehydrated's other verbs, uacme's
				// other challenge types) do not open the config at all.
				if done, err := answerWithoutConfig(cmd.Name(), args); done {
					return err
				}
				return run(cmd, func(ctx context.Context, r *Runner) error { return fn(ctx, r, args) })
			},
		}
		c.Flags().SetInterspersed(false)
		return c
	}

	root.AddCommand(
		toolCmd("certbot-auth", "certbot --manual-auth-hook (reads CERTBOT_* variables)",
			func(ctx context.Context, r *Runner, _ []string) error { return r.CertbotAuth(ctx, osEnv) }),
		toolCmd("certbot-cleanup", "certbot --manual-cleanup-hook (reads CERTBOT_* variables)",
			func(ctx context.Context, r *Runner, _ []string) error { return r.CertbotCleanup(ctx, osEnv) }),
		toolCmd("dehydrated VERB [ARGS...]", "dehydrated HOOK: deploy_challenge / clean_challenge (other verbs: nothing)",
			func(ctx context.Context, r *Runner, args []string) error { return r.Dehydrated(ctx, args) }),
		toolCmd("uacme METHOD TYPE IDENT TOKEN AUTH", "uacme --hook: begin publishes and waits for dns-01; done/failed remove",
			func(ctx context.Context, r *Runner, args []string) error { return r.Uacme(ctx, args, osEnv) }),
	)

	legoNoWait := false
	lego := toolCmd("lego-exec present|cleanup FQDN VALUE | present|cleanup -- DOMAIN TOKEN KEYAUTH",
		"lego exec provider (EXEC_PATH); RAW mode computes the value from the key authorization",
		func(ctx context.Context, r *Runner, args []string) error { return r.LegoExec(ctx, args, !legoNoWait) })
	lego.Flags().BoolVar(&legoNoWait, "no-wait", false, "return as soon as the backend accepted the record (lego checks propagation itself)")
	root.AddCommand(lego)

	var addType string
	var noWait bool
	add := &cobra.Command{
		Use:   "add FQDN VALUE",
		Short: "publish one record and wait until every authoritative server serves it",
		Long: `Publish VALUE at FQDN (TXT by default; --type CNAME for a CNAME target) next to any
other value, and wait until every authoritative server serves it. On failure
the record is removed again. Use -- before the arguments when VALUE may start
with "-".`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			typ, err := dnspublish.ParseType(addType)
			if err != nil {
				return usageErr("hook add: %v", err)
			}
			item := Item{Record: dnspublish.Record{FQDN: args[0], Type: typ, Value: args[1]}}
			return run(cmd, func(ctx context.Context, r *Runner) error {
				return r.Add(ctx, "add:"+nameOf(args[0]), []Item{item}, !noWait)
			})
		},
	}
	add.Flags().StringVar(&addType, "type", "TXT", "record type: TXT or CNAME")
	add.Flags().BoolVar(&noWait, "no-wait", false, "return once the backend accepted the record")

	var rmType string
	remove := &cobra.Command{
		Use:   "remove FQDN VALUE",
		Short: "remove exactly one value a hook published (already gone: success)",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			typ, err := dnspublish.ParseType(rmType)
			if err != nil {
				return usageErr("hook remove: %v", err)
			}
			item := Item{Record: dnspublish.Record{FQDN: args[0], Type: typ, Value: args[1]}}
			return run(cmd, func(ctx context.Context, r *Runner) error { return r.Remove(ctx, []Item{item}) })
		},
	}
	remove.Flags().StringVar(&rmType, "type", "TXT", "record type: TXT or CNAME")
	root.AddCommand(add, remove)
	return root
}

// CleanupCommand returns `dcvd cleanup`: remove every record a crashed
// tool, hook or run left behind (rows whose DNS state says the zone may
// still hold their record and that are older than --older-than).
func CleanupCommand(open Opener) *cobra.Command {
	var olderThan time.Duration
	c := &cobra.Command{
		Use:   "cleanup",
		Short: "remove records left behind by crashed hooks or runs",
		Long: `Remove every record dcvd published that a crashed ACME client, hook or run left
behind. Records younger than --older-than (default: [daemon] hook_max_age) are
kept, so a tool that is still waiting for its CA is not disturbed;
--older-than 0 removes everything now.`,
		Args:          exactArgs(0),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			a, err := open(ctx)
			if err != nil {
				return &Error{Code: ExitUsage, Err: fmt.Errorf("cleanup: open config: %w", err)}
			}
			defer a.Close()
			if !cmd.Flags().Changed("older-than") {
				olderThan = a.Config.Daemon.HookMaxAge.D()
			}
			n, err := a.Engine.Cleanup(ctx, olderThan)
			if err != nil {
				return failErr(fmt.Errorf("cleanup: %w", err))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %d leftover record(s)\n", n)
			return nil
		},
	}
	c.Flags().DurationVar(&olderThan, "older-than", 0, "only records untouched at least this long (default [daemon] hook_max_age, 6h)")
	return c
}

// answerWithoutConfig answers the tool calls that need no DNS work.
func answerWithoutConfig(cmd string, args []string) (done bool, err error) {
	switch cmd {
	case "dehydrated":
		if len(args) > 0 && !dehydratedHandles(args[0]) {
			return true, nil
		}
	case "uacme":
		if len(args) == 5 && args[1] != "dns-01" {
			return true, declineUacme(args[1], args[2])
		}
	}
	return false, nil
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErr("%s: want %d arguments, got %d (usage: %s)", cmd.CommandPath(), n, len(args), cmd.UseLine())
		}
		return nil
	}
}
