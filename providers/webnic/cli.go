package webnic

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/cli"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/webnic/internal/api"
)

// commands builds `dcvd webnic ...` (providers.Spec.Commands): WebNIC's
// Domain Validations operations, by hand, with a configured account's
// credential. Each prints what WebNIC returned as a table, or its data as
// JSON with --json.
func commands(open providers.OpenAccount) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "webnic",
		Short: "WebNIC (Sectigo) DCV operations: auth type, auth info, DCV status, approver emails",
	}
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print WebNIC's data as JSON")
	account := providers.AccountAs[*Provider](open, "webnic")
	client := func(cmd *cobra.Command) (*api.Client, error) {
		p, err := account(cmd)
		if err != nil {
			return nil, err
		}
		return p.client, nil
	}
	// out prints v as JSON or with table.
	out := func(cmd *cobra.Command, v any, table func(w io.Writer)) error {
		w := cmd.OutOrStdout()
		if asJSON {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		table(tw)
		return tw.Flush()
	}

	var guide bool
	authType := &cobra.Command{
		Use:   "auth-type ORDER email|dns|file",
		Short: "Change an order's DCV method (Change Auth Type) and print the new challenge",
		Long: `auth-type switches every name of the order to email, dns or file DCV
(PUT /ssl/v2/orders/{id}/auth) and prints the challenge WebNIC returns: for dns
the host, record type and value to publish; for email the approver address (the
first of the approver list; change it with approver-email); for file the path
and the file's content. --send-guide-email asks WebNIC to email instructions.`,
		Args: cli.Args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			at := strings.ToLower(args[1])
			if at != "email" && at != "dns" && at != "file" {
				return cli.Usage(fmt.Errorf("auth type %q: want email, dns or file", args[1]))
			}
			c, err := client(cmd)
			if err != nil {
				return err
			}
			a, err := c.ChangeAuth(cmd.Context(), args[0], at, guide)
			if err != nil {
				return cli.Failed(err)
			}
			return out(cmd, a, func(w io.Writer) { challengeTable(w, a) })
		},
	}
	authType.Flags().BoolVar(&guide, "send-guide-email", false, "have WebNIC email the DCV instructions (sendAuthGuideEmail)")

	authInfo := &cobra.Command{
		Use:   "auth-info ORDER",
		Short: "Print an order's current DCV challenge (Get Auth Info)",
		Args:  cli.Args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			a, err := c.AuthInfo(cmd.Context(), args[0])
			if err != nil {
				return cli.Failed(err)
			}
			return out(cmd, a, func(w io.Writer) { challengeTable(w, a) })
		},
	}

	status := &cobra.Command{
		Use:   "dcv-status ORDER",
		Short: "Ask for an order's DCV status (Check DCV Status)",
		Args:  cli.Args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			st, err := c.DCVStatus(cmd.Context(), args[0])
			if err != nil {
				return cli.Failed(err)
			}
			return out(cmd, st, func(w io.Writer) {
				fmt.Fprintln(w, "ORDER\tORDER STATUS\tCERT STATUS")
				fmt.Fprintf(w, "%s\t%s\t%s\n", orDash(string(st.OrderID)), orDash(st.OrderStatus), orDash(st.CertStatus))
			})
		},
	}

	approvers := &cobra.Command{
		Use:   "approvers DOMAIN",
		Short: "List the addresses Sectigo accepts for email DCV of a domain (Approver List)",
		Args:  cli.Args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			list, err := c.Approvers(cmd.Context(), args[0])
			if err != nil {
				return cli.Failed(err)
			}
			return out(cmd, list, func(w io.Writer) {
				fmt.Fprintln(w, "DOMAIN\tEMAIL")
				for _, a := range list {
					d := a.Domain
					if d == "" {
						d = strings.TrimPrefix(args[0], "*.")
					}
					fmt.Fprintf(w, "%s\t%s\n", d, a.Email)
				}
			})
		},
	}

	setApprover := &cobra.Command{
		Use:   "approver-email ORDER EMAIL",
		Short: "Set the approver address of an order on email DCV (Update Email Approver)",
		Args:  cli.Args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !strings.Contains(args[1], "@") {
				return cli.Usage(fmt.Errorf("email %q: want an address", args[1]))
			}
			c, err := client(cmd)
			if err != nil {
				return err
			}
			a, err := c.UpdateApprover(cmd.Context(), args[0], args[1])
			if err != nil {
				return cli.Failed(err)
			}
			return out(cmd, a, func(w io.Writer) {
				fmt.Fprintf(w, "order %s: approver set to %s\n", args[0], args[1])
				if len(a.All()) > 0 {
					challengeTable(w, a)
				}
			})
		},
	}

	send := &cobra.Command{
		Use:   "send-approver-email ORDER",
		Short: "Send the approval email of an order on email DCV again (Send Email Approver)",
		Args:  cli.Args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			if err := c.SendApprover(cmd.Context(), args[0]); err != nil {
				return cli.Failed(err)
			}
			return out(cmd, map[string]any{"orderId": args[0], "sent": true}, func(w io.Writer) {
				fmt.Fprintf(w, "order %s: approval email sent\n", args[0])
			})
		},
	}
	cmd.AddCommand(authType, authInfo, status, approvers, setApprover, send)
	return cmd
}

// challengeTable prints one row per name: NAME, AUTH, TYPE, HOST / PATH,
// VALUE (a file body's line breaks shown as \n).
func challengeTable(w io.Writer, a *api.AuthData) {
	fmt.Fprintln(w, "NAME\tAUTH\tTYPE\tHOST / PATH\tVALUE")
	for _, c := range a.All() {
		where := c.Host
		if c.AuthType == "file" {
			where = c.Path
			if where == "" {
				where = c.FileName
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", orDash(c.Name), orDash(c.AuthType), orDash(c.RecordType), orDash(where),
			orDash(strings.ReplaceAll(c.Value, "\n", `\n`)))
	}
}
