package digicert

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/cli"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/digicert/internal/api"
)

// commands builds `dcvd digicert ...` (providers.Spec.Commands): the
// DigiCert operations that seed or repair DCV by hand, with the API key of a
// configured [[ca]] account.
func commands(open providers.OpenAccount) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "digicert",
		Short: "DigiCert CertCentral operations (resend DCV emails, change a domain's DCV method)",
	}
	account := providers.AccountAs[*Provider](open, "digicert")
	client := func(cmd *cobra.Command) (*api.Client, error) {
		p, err := account(cmd)
		if err != nil {
			return nil, err
		}
		return p.Client(), nil
	}

	var emails []string
	resend := &cobra.Command{
		Use:   "resend-emails ORDER_ID",
		Short: "Resend an order's DCV emails (optionally to chosen addresses)",
		Long: `resend-emails asks DigiCert to send the order's DCV emails again. With
--email domain=address (repeatable) the email for that domain goes to that address.`,
		Args: cli.Args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			m := map[string]string{}
			for _, e := range emails {
				d, addr, ok := strings.Cut(e, "=")
				if !ok || d == "" || !strings.Contains(addr, "@") {
					return cli.Usage(fmt.Errorf("--email %q: want domain=address", e))
				}
				m[d] = addr
			}
			c, err := client(cmd)
			if err != nil {
				return err
			}
			if err := c.ResendEmails(cmd.Context(), args[0], m); err != nil {
				return cli.Failed(err)
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
		Args: cli.Args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			res, err := c.SetDomainDCVMethod(cmd.Context(), args[0], args[1])
			if err != nil {
				return cli.Failed(err)
			}
			printMethodResult(cmd.OutOrStdout(), args[0], args[1], res)
			return nil
		},
	}
	cmd.AddCommand(resend, method)
	return cmd
}

func printMethodResult(w io.Writer, domainID, method string, res api.DCVMethodResult) {
	fmt.Fprintf(w, "domain %s: method %s\n", domainID, method)
	if s := res.String(); s != "" {
		fmt.Fprintln(w, s)
	}
}
