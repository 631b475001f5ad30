package main

import (
	"github.com/spf13/cobra"
)

// newSandboxCmd is `dcvd sandbox`, holding every registered CA's simulator
// command (providers.Spec.Sandbox).
func newSandboxCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Serve a CA or DNS provider simulator so a configuration can be dry-run",
	}
	for _, spec := range caSpecs() {
		if spec.Sandbox != nil {
			cmd.AddCommand(spec.Sandbox())
		}
	}
	for _, spec := range dnsSpecs() {
		if spec.Sandbox != nil {
			cmd.AddCommand(spec.Sandbox())
		}
	}
	return cmd
}
