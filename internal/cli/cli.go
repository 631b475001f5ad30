// Package cli holds what every dcvd command shares, whichever package
// builds it: the documented exit codes and the error that carries one out of
// a cobra command. The binary (cmd/dcvd) builds the generic commands; a CA
// package builds its own `dcvd <ca> ...` and `dcvd sandbox <ca>` commands
// (see providers.Spec) and uses this package so that every command exits the
// same way.
package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// Exit codes (documented in the top README).
const (
	ExitOK      = 0 // done, or nothing to do
	ExitFailed  = 1 // at least one challenge failed (run); not visible (check); a CA call failed
	ExitConfig  = 2 // configuration or usage error
	ExitWaiting = 3 // some challenges still wait on the CA (run)
)

// ExitError carries an exit code out of a command. A nil Err exits silently.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Exit wraps err so the command exits with code.
func Exit(code int, err error) error { return &ExitError{Code: code, Err: err} }

// Usage wraps err as a usage or configuration error (exit 2).
func Usage(err error) error { return Exit(ExitConfig, err) }

// Failed wraps err as an operation that failed (exit 1), e.g. a CA call.
func Failed(err error) error { return Exit(ExitFailed, err) }

// Args wraps cobra's argument validators so a wrong argument count exits
// with the usage code and names the command.
func Args(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return Usage(fmt.Errorf("%s: %w", cmd.CommandPath(), err))
		}
		return nil
	}
}
