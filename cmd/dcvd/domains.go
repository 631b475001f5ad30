package main

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/store"
)

func newDomainsCmd(g *globals) *cobra.Command {
	var asJSON bool
	var account, expiring string
	cmd := &cobra.Command{
		Use:   "domains",
		Short: "List every CA account's domains and when each validation expires",
		Long: `domains lists the domain inventory the daemon (or dcvd run) read from each CA account at
its last discovery: every domain the CA knows, its validation status and method, when it
was validated and when that validation expires, soonest expiry first (domains that were
never validated, which have no expiry, first of all), with the reason for each that is not
valid. --expiring 30d keeps the domains whose validation expires within 30 days (or has
expired); --account keeps one account.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var within time.Duration
			if expiring != "" {
				d, err := providers.ParseWindow(expiring)
				if err != nil {
					return &exitError{Code: exitConfig, Err: fmt.Errorf("domains: --expiring %w", err)}
				}
				within = d
			}
			cfg, err := app.LoadConfig(g.configPath)
			if err != nil {
				return err
			}
			st, err := openStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			ds, ok := st.(store.DomainStore)
			if !ok {
				return &exitError{Code: exitFailed, Err: fmt.Errorf("domains: the state store %T keeps no domain inventory", st)}
			}
			rows, err := ds.Domains(cmd.Context(), account)
			if err != nil {
				return &exitError{Code: exitFailed, Err: fmt.Errorf("domains: %w", err)}
			}
			now := time.Now()
			if expiring != "" {
				kept := rows[:0]
				for _, r := range rows {
					if !r.Expires.IsZero() && r.Expires.Sub(now) <= within {
						kept = append(kept, r)
					}
				}
				rows = kept
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(domainsJSON(rows, now))
			}
			if len(rows) == 0 {
				fmt.Fprintln(out, "no domains (the inventory is filled at each discovery of a CA account that has domain objects)")
				return nil
			}
			t := newTable(out, "ACCOUNT", "DOMAIN", "STATUS", "METHOD", "VALIDATED", "EXPIRES", "DAYS", "REASON")
			for _, r := range rows {
				days := "-"
				if d, ok := daysLeft(r.Expires, now); ok {
					days = fmt.Sprint(d)
				}
				t.row(r.Account, r.Name, r.Status, r.Method, dateOrDash(r.Validated), dateOrDash(r.Expires), days, r.Reason)
			}
			t.flush()
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&account, "account", "", "only this [[ca]] account")
	cmd.Flags().StringVar(&expiring, "expiring", "", `only validations expiring within this window ("30d", "72h")`)
	return cmd
}

// daysLeft is the whole days from now to t, rounded down (negative once
// expired); ok is false for the zero time.
func daysLeft(t, now time.Time) (int, bool) {
	if t.IsZero() {
		return 0, false
	}
	return int(math.Floor(t.Sub(now).Hours() / 24)), true
}

func dateOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.DateOnly)
}

type domainRow struct {
	Account   string     `json:"account"`
	ID        string     `json:"id,omitempty"`
	Name      string     `json:"name"`
	Status    string     `json:"status"`
	Method    string     `json:"method,omitempty"`
	Validated *time.Time `json:"validated,omitempty"`
	Expires   *time.Time `json:"expires,omitempty"`
	DaysLeft  *int       `json:"days_left,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	Refreshed time.Time  `json:"refreshed"`
}

func domainsJSON(rows []store.Domain, now time.Time) []domainRow {
	out := make([]domainRow, 0, len(rows))
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		u := t.UTC()
		return &u
	}
	for _, r := range rows {
		row := domainRow{Account: r.Account, ID: r.ID, Name: r.Name, Status: r.Status, Method: r.Method,
			Validated: opt(r.Validated), Expires: opt(r.Expires), Reason: r.Reason, Refreshed: r.Refreshed.UTC()}
		if d, ok := daysLeft(r.Expires, now); ok {
			row.DaysLeft = &d
		}
		out = append(out, row)
	}
	return out
}
