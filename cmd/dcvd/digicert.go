package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/providers/digicert"
)

// newDigicertCmd holds the DigiCert operations that seed or repair DCV by
// hand. They use the API key of a configured [[ca]] account.
func newDigicertCmd(g *globals) *cobra.Command {
	var account string
	cmd := &cobra.Command{
		Use:   "digicert",
		Short: "DigiCert CertCentral operations (resend DCV emails, change a domain's DCV method)",
	}
	cmd.PersistentFlags().StringVar(&account, "account", "", "[[ca]] name to use (default: the only digicert account)")

	client := func(cmd *cobra.Command) (*digicert.Client, error) {
		cfg, err := app.LoadConfig(g.configPath)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, ca := range cfg.CAs {
			if ca.Type != "digicert" {
				continue
			}
			names = append(names, ca.Name)
			if account == "" || account == ca.Name {
				if account == "" && len(names) > 1 {
					break
				}
				logger := app.NewLogger(cmd.ErrOrStderr(), cfg.Daemon.LogFormat, "warn")
				p, err := digicert.Open(cmd.Context(), app.ProviderBase(ca, logger), ca.Options.(*digicert.Options))
				if err != nil {
					return nil, &exitError{Code: exitConfig, Err: fmt.Errorf("[[ca]] %q: %w", ca.Name, err)}
				}
				return p.Client(), nil
			}
		}
		switch {
		case len(names) == 0:
			return nil, &exitError{Code: exitConfig, Err: fmt.Errorf("no [[ca]] account of type digicert in %s", cfg.Path)}
		case account == "":
			return nil, &exitError{Code: exitConfig, Err: fmt.Errorf("several digicert accounts (%s): pick one with --account", strings.Join(names, ", "))}
		}
		return nil, &exitError{Code: exitConfig, Err: fmt.Errorf("no digicert account named %q (have %s)", account, strings.Join(names, ", "))}
	}

	var emails []string
	resend := &cobra.Command{
		Use:   "resend-emails ORDER_ID",
		Short: "Resend an order's DCV emails (optionally to chosen addresses)",
		Long: `resend-emails asks DigiCert to send the order's DCV emails again. With
--email domain=address (repeatable) the email for that domain goes to that address.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			m := map[string]string{}
			for _, e := range emails {
				d, addr, ok := strings.Cut(e, "=")
				if !ok || d == "" || !strings.Contains(addr, "@") {
					return &exitError{Code: exitConfig, Err: fmt.Errorf("--email %q: want domain=address", e)}
				}
				m[d] = addr
			}
			c, err := client(cmd)
			if err != nil {
				return err
			}
			if err := c.ResendEmails(cmd.Context(), args[0], m); err != nil {
				return &exitError{Code: exitFailed, Err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "order %s: DCV emails sent\n", args[0])
			return nil
		},
	}
	resend.Flags().StringArrayVar(&emails, "email", nil, "domain=address to send that domain's email to (repeatable)")

	method := &cobra.Command{
		Use:   "dcv-method DOMAIN_ID METHOD",
		Short: "Change a domain's DCV method and print the token or the validation emails",
		Long: `dcv-method sets the domain's DCV method (dns-txt-token, dns-cname-token, email,
http-token) and prints what DigiCert returned: the random value to publish (and
the CNAME target), or the addresses the validation emails went to.`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			res, err := c.SetDomainDCVMethod(cmd.Context(), args[0], args[1])
			if err != nil {
				return &exitError{Code: exitFailed, Err: err}
			}
			printMethodResult(cmd.OutOrStdout(), args[0], args[1], res)
			return nil
		},
	}
	cmd.AddCommand(resend, method)
	return cmd
}

func printMethodResult(w io.Writer, domainID, method string, res digicert.DCVMethodResult) {
	fmt.Fprintf(w, "domain %s: method %s\n", domainID, method)
	if s := res.String(); s != "" {
		fmt.Fprintln(w, s)
	}
}
