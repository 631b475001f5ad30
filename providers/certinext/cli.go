package certinext

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/cli"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/certinext/internal/api"
)

// commands builds `dcvd certinext ...` (providers.Spec.Commands): the
// account's domains and an order's DCV by hand, with the OAuth credentials
// of a configured [[ca]] account. Output is a table, or JSON with --json. A
// failed CERTInext call exits 1 with one line naming the request and
// CERTInext's words; a failed verify prints CERTInext's diagnostics first.
func commands(open providers.OpenAccount) *cobra.Command {
	var asJSON bool
	root := &cobra.Command{
		Use:   "certinext",
		Short: "CERTInext (eMudhra) operations: account domains and order DCV",
	}
	root.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	account := providers.AccountAs[*Provider](open, "certinext")
	// run wraps a subcommand body: it opens the account and turns a
	// CERTInext failure into exit 1.
	run := func(n int, use, short, long string, body func(ctx context.Context, p *Provider, out io.Writer, args []string) (any, error)) *cobra.Command {
		args := cobra.ExactArgs(n)
		if strings.HasSuffix(use, "]") {
			args = cobra.RangeArgs(n, n+1)
		}
		return &cobra.Command{Use: use, Short: short, Long: long, Args: cli.Args(args),
			RunE: func(cmd *cobra.Command, args []string) error {
				p, err := account(cmd)
				if err != nil {
					return err
				}
				var text strings.Builder
				v, err := body(cmd.Context(), p, &text, args)
				if err != nil {
					var ee *cli.ExitError
					if errors.As(err, &ee) {
						return err
					}
					fmt.Fprint(cmd.OutOrStdout(), text.String())
					return cli.Failed(err)
				}
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					return enc.Encode(v)
				}
				fmt.Fprint(cmd.OutOrStdout(), text.String())
				return nil
			}}
	}

	var statuses []string
	domains := run(0, "domains", "List the account's domains (sorted by name)",
		`domains lists every account domain with its status and DCV status. --status
keeps the domains whose status or dcvStatus is one of the given values
(repeatable or comma-separated: PENDING, VERIFIED, EXPIRED, ACTIVE, INACTIVE, ...).`,
		func(ctx context.Context, p *Provider, out io.Writer, _ []string) (any, error) {
			list, err := p.client.AllDomains(ctx, api.DomainQuery{}, p.set.pageSize)
			if err != nil {
				return nil, err
			}
			want := map[string]bool{}
			for _, s := range statuses {
				for _, v := range strings.Split(s, ",") {
					if v = strings.ToUpper(strings.TrimSpace(v)); v != "" {
						want[v] = true
					}
				}
			}
			sel := []api.Domain{}
			for _, d := range list {
				if len(want) == 0 || want[strings.ToUpper(d.Status)] || want[strings.ToUpper(d.DCVStatus)] {
					sel = append(sel, d)
				}
			}
			tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "DOMAIN\tSTATUS\tDCV\tVERIFIED\tVALID TILL\tID")
			for _, d := range sel {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.DomainName, d.Status, d.DCVStatus, dash(d.VerifiedAt), dash(d.ValidTill), d.DomainID)
			}
			tw.Flush()
			return sel, nil
		})
	domains.Flags().StringArrayVar(&statuses, "status", nil, "keep domains with this status or DCV status (repeatable)")

	add := run(1, "domain-add NAME", "Add a domain to the account (its DCV starts pending)",
		`domain-add creates an account domain. A domain that is already in the account
fails with CERTInext's 409, which names the existing domain's ID.`,
		func(ctx context.Context, p *Provider, out io.Writer, args []string) (any, error) {
			d, err := p.client.AddDomain(ctx, providers.BaseName(args[0]))
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(out, "domain %s added: id %s, DCV %s\n", d.DomainName, d.DomainID, d.DCVStatus)
			return d, nil
		})

	dcv := run(1, "domain-dcv DOMAIN", "Show a domain's DCV method and the TXT record to publish",
		`domain-dcv reads the domain's DCV (CERTInext generates the token on the first
read) and prints the record dcvd would publish. DOMAIN is a name or a domainId.`,
		func(ctx context.Context, p *Provider, out io.Writer, args []string) (any, error) {
			id, name, err := p.resolveDomain(ctx, args[0])
			if err != nil {
				return nil, err
			}
			c, err := p.client.DomainDCV(ctx, id)
			if err != nil {
				return nil, err
			}
			return p.printDCV(out, name, c), nil
		})

	method := run(2, "domain-method DOMAIN METHOD", "Change a domain's DCV method (dns-txt, http-url, email); mints a new token",
		`domain-method sets the domain's DCV method and prints the new challenge. Changing
the method — even to the one it has — makes CERTInext mint a new token: a
record published for the old one no longer verifies.`,
		func(ctx context.Context, p *Provider, out io.Writer, args []string) (any, error) {
			m := strings.ToLower(args[1])
			if m != api.MethodDNSTXT && m != api.MethodHTTPURL && m != api.MethodEmail {
				return nil, cli.Usage(fmt.Errorf("domain-method: method %q: want dns-txt, http-url or email", args[1]))
			}
			id, name, err := p.resolveDomain(ctx, args[0])
			if err != nil {
				return nil, err
			}
			c, err := p.client.SetDomainMethod(ctx, id, m)
			if err != nil {
				return nil, err
			}
			if c.Value == "" && m == api.MethodDNSTXT {
				if c, err = p.client.DomainDCV(ctx, id); err != nil {
					return nil, err
				}
			}
			return p.printDCV(out, name, c), nil
		})

	verify := run(1, "domain-verify DOMAIN", "Ask CERTInext to verify a domain's DCV now",
		`domain-verify asks CERTInext to check the domain's DNS-TXT record now. When it is
not verified, CERTInext's diagnostics are printed (expected owner and value,
failure class, perspectives) and the command exits 1.`,
		func(ctx context.Context, p *Provider, out io.Writer, args []string) (any, error) {
			id, name, err := p.resolveDomain(ctx, args[0])
			if err != nil {
				return nil, err
			}
			res, err := p.client.VerifyDomain(ctx, id)
			var vf *api.VerifyFailed
			if errors.As(err, &vf) {
				if d := vf.Problem.Diagnostics; d != nil {
					printDiagnostics(out, d)
				}
				return nil, err
			}
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(out, "domain %s: %s\n", name, res.Verdict())
			if res.Diagnostics != nil {
				printDiagnostics(out, res.Diagnostics)
			}
			return res, nil
		})

	attempts := run(1, "domain-attempts DOMAIN", "Show a domain's DCV attempt history and the last attempt's diagnostics",
		"",
		func(ctx context.Context, p *Provider, out io.Writer, args []string) (any, error) {
			id, _, err := p.resolveDomain(ctx, args[0])
			if err != nil {
				return nil, err
			}
			page, err := p.client.Attempts(ctx, id, 0, 50)
			if err != nil {
				return nil, err
			}
			last, err := p.client.LastAttempt(ctx, id)
			if err != nil {
				return nil, err
			}
			tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "ATTEMPTED\tMETHOD\tSTATUS\tFAILURE\tID")
			for _, a := range page.Content {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.AttemptedAt, a.Method, a.OverallStatus, dash(api.Text(a.FailureClass)), a.AttemptID)
			}
			tw.Flush()
			if last != nil && last.Diagnostics != nil {
				fmt.Fprintln(out, "\nlast attempt:")
				printDiagnostics(out, last.Diagnostics)
			}
			return map[string]any{"attempts": page.Content, "last": last}, nil
		})

	deactivate := run(1, "domain-deactivate DOMAIN", "Deactivate an account domain",
		"",
		func(ctx context.Context, p *Provider, out io.Writer, args []string) (any, error) {
			id, name, err := p.resolveDomain(ctx, args[0])
			if err != nil {
				return nil, err
			}
			d, err := p.client.Deactivate(ctx, id)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(out, "domain %s: %s\n", name, cmpText(d.Status, "deactivated"))
			return d, nil
		})

	order := run(1, "order-dcv ORDER [NAME]", "Show an order's names, their DCV state and the TXT records to publish",
		`order-dcv reads the order and, for every name (or only NAME) not verified yet,
its DNS-TXT challenge (GET /ssl-certificates/{id}/dcv?domain=NAME) and the record
dcvd would publish.`,
		func(ctx context.Context, p *Provider, out io.Writer, args []string) (any, error) {
			o, err := p.client.Order(ctx, args[0])
			if err != nil {
				return nil, err
			}
			type row struct {
				Name      string `json:"name"`
				DCVStatus string `json:"dcvStatus"`
				Owner     string `json:"owner,omitempty"`
				Value     string `json:"value,omitempty"`
				Expires   string `json:"expires,omitempty"`
			}
			var rows []row
			seen := map[string]bool{}
			for _, d := range o.Verifications.Domain.Domains {
				n := providers.BaseName(d.Domain)
				if seen[n] || (len(args) > 1 && n != providers.BaseName(args[1])) {
					continue
				}
				seen[n] = true
				r := row{Name: n, DCVStatus: d.DCVStatus}
				if !strings.EqualFold(d.DCVStatus, "VERIFIED") && strings.EqualFold(o.Status, "pending-dcv") {
					c, err := p.client.OrderDCV(ctx, args[0], n)
					if err != nil {
						return nil, err
					}
					owner, err := p.set.owner(n, c.Host)
					if err != nil {
						return nil, err
					}
					r.Owner, r.Value, r.Expires = owner, c.Value, string(c.Expiry)
				}
				rows = append(rows, r)
			}
			if len(args) > 1 && len(rows) == 0 {
				return nil, fmt.Errorf("order %s has no name %s", args[0], args[1])
			}
			fmt.Fprintf(out, "order %s: %s\n", o.OrderID, o.Status)
			tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDCV\tRECORD")
			for _, r := range rows {
				rec := "-"
				if r.Owner != "" {
					rec = fmt.Sprintf("%s. TXT %q", r.Owner, r.Value)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.DCVStatus, rec)
			}
			tw.Flush()
			return map[string]any{"orderId": o.OrderID, "status": o.Status, "names": rows}, nil
		})

	root.AddCommand(domains, add, dcv, method, verify, attempts, deactivate, order)
	return root
}

// resolveDomain turns a name or a domainId into (id, name).
func (p *Provider) resolveDomain(ctx context.Context, arg string) (string, string, error) {
	if !strings.Contains(arg, ".") {
		d, err := p.client.Domain(ctx, arg)
		if err != nil {
			return "", "", err
		}
		return arg, d.DomainName, nil
	}
	d, err := p.client.FindDomain(ctx, arg)
	if err != nil {
		return "", "", err
	}
	if d == nil {
		return "", "", fmt.Errorf("no account domain named %s (dcvd certinext domains lists them)", providers.BaseName(arg))
	}
	return string(d.DomainID), d.DomainName, nil
}

// printDCV prints a domain's challenge and the record dcvd would publish.
func (p *Provider) printDCV(out io.Writer, name string, c *api.Challenge) map[string]any {
	v := map[string]any{"domain": name, "method": c.Method}
	fmt.Fprintf(out, "domain %s: method %s\n", name, c.Method)
	if c.Value == "" {
		fmt.Fprintln(out, "no active token (verified, or not a DNS method)")
		return v
	}
	owner, err := p.set.owner(name, c.Host)
	if err != nil {
		fmt.Fprintln(out, err)
		return v
	}
	fmt.Fprintf(out, "record: %s. TXT %q\n", owner, c.Value)
	if c.Expiry != "" {
		fmt.Fprintf(out, "token expires: %s\n", c.Expiry)
	}
	v["owner"], v["value"], v["tokenExpiry"] = owner, c.Value, c.Expiry
	return v
}

// printDiagnostics prints CERTInext's diagnostics of one attempt.
func printDiagnostics(out io.Writer, d *api.Diagnostics) {
	fmt.Fprintln(out, d.Summary())
	for _, ps := range d.Perspectives {
		fmt.Fprintf(out, "  perspective %s: %s %q %s\n", ps.Perspective, ps.Status, ps.Values, ps.Error)
	}
	for _, n := range d.NextSteps {
		fmt.Fprintf(out, "  next step (%s): %s %v\n", n.Severity, n.Key, n.Params)
	}
}

func dash(t api.Text) string {
	if t == "" {
		return "-"
	}
	return string(t)
}

func cmpText(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
