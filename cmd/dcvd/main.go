// Command dcvd automates domain control validation over DNS.
//
// Exit codes (documented in the README):
//
//	0  done, or nothing to do
//	1  at least one challenge failed (run); not visible (check); hook failure
//	2  configuration or usage error
//	3  some challenges still wait on the CA (run)
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/cli"
	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/internal/hook"
)

// Exit codes (internal/cli documents them; CA commands use them too).
const (
	exitOK      = cli.ExitOK
	exitFailed  = cli.ExitFailed
	exitConfig  = cli.ExitConfig
	exitWaiting = cli.ExitWaiting
)

// exitError carries an exit code out of a command. A nil Err exits silently.
type exitError = cli.ExitError

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	endProfile := startProfile()
	err := newRoot().ExecuteContext(ctx)
	stop()
	endProfile()
	os.Exit(exitCode(err))
}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(os.Stderr, "dcvd:", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintln(os.Stderr, "dcvd:", err)
	var ce *config.Error
	if errors.As(err, &ce) {
		return exitConfig
	}
	// cobra has no error type for an unknown (sub)command; its message is
	// fixed ("unknown command %q for %q"). A usage error exits 2.
	if strings.HasPrefix(err.Error(), "unknown command ") {
		return exitConfig
	}
	return hook.ExitCode(err) // hook errors carry their documented code; others are 1
}

// globals holds the persistent flags.
type globals struct {
	configPath string
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "dcvd",
		Short:         "Domain control validation over DNS, unattended",
		Long:          "dcvd finds certificate orders waiting on DNS domain control validation, publishes the\nrecord the CA asked for, proves every authoritative server serves it, asks the CA to\ncheck, and removes the record afterwards.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&g.configPath, "config", "c", "", "config file (default $DCVD_CONFIG or "+config.DefaultPath+")")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{Code: exitConfig, Err: fmt.Errorf("%s: %w", c.CommandPath(), err)}
	})
	root.AddCommand(
		newDaemonCmd(g),
		newRunCmd(g),
		newStatusCmd(g),
		newDomainsCmd(g),
		newAuditCmd(g),
		newCheckCmd(g),
		newConfigCmd(g),
		newMigrateCmd(g),
		newStoreCmd(g),
		newDemoCmd(),
		newSandboxCmd(),
		newVersionCmd(),
	)
	root.AddCommand(caCommands(g)...)
	root.AddCommand(dnsCommands(g)...)
	addHookCommands(root, g)
	rejectUnknownSubcommands(root)
	return root
}

// rejectUnknownSubcommands makes a command group (`dcvd config`, `dcvd
// hook`, ...) refuse an unknown subcommand with the usage exit code; cobra
// would print the group's help and exit 0. The group alone still prints
// its help.
func rejectUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		rejectUnknownSubcommands(sub)
	}
	if c.HasParent() && c.HasSubCommands() && !c.Runnable() {
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &exitError{Code: exitConfig, Err: fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
			}
			return cmd.Help()
		}
	}
}

// usageArgs wraps cobra's argument validators so a wrong argument count
// exits with the usage code.
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs { return cli.Args(v) }
