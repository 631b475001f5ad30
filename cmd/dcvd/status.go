package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/store"
)

func newStatusCmd(g *globals) *cobra.Command {
	var asJSON bool
	var all bool
	var limit int
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show every challenge and why it is where it is",
		Long: `status lists the challenges in the store: account, order, name, the record, the pipeline
state, what dcvd holds in DNS for it, and the reason of the last failure. Finished
(cleaned) challenges are hidden unless --all.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := app.LoadConfig(g.configPath)
			if err != nil {
				return err
			}
			st, err := openStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			rows, err := st.List(cmd.Context(), store.Filter{Limit: limit})
			if err != nil {
				return err
			}
			if !all {
				kept := rows[:0]
				for _, r := range rows {
					if r.State != store.Cleaned {
						kept = append(kept, r)
					}
				}
				rows = kept
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(statusJSON(rows))
			}
			if len(rows) == 0 {
				fmt.Fprintln(out, "no challenges")
				return nil
			}
			t := newTable(out, "ID", "ACCOUNT", "ORDER", "NAME", "RECORD", "STATE", "DNS", "UPDATED", "REASON")
			for _, r := range rows {
				t.row(fmt.Sprint(r.ID), r.Account, r.Order, r.Name, r.Record.String(), string(r.State), string(r.DNS), r.Updated.Local().Format(time.DateTime), r.Reason)
			}
			t.flush()
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&all, "all", false, "include cleaned challenges")
	cmd.Flags().IntVar(&limit, "limit", 0, "show at most this many (0: all)")
	return cmd
}

type statusRow struct {
	ID      int64     `json:"id"`
	Account string    `json:"account"`
	Order   string    `json:"order"`
	Name    string    `json:"name"`
	Record  string    `json:"record"`
	Type    string    `json:"type"`
	Value   string    `json:"value"`
	Backend string    `json:"backend,omitempty"`
	Zone    string    `json:"zone,omitempty"`
	State   string    `json:"state"`
	DNS     string    `json:"dns"`
	Reason  string    `json:"reason,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
	Updated time.Time `json:"updated"`
}

func statusJSON(rows []store.Challenge) []statusRow {
	out := make([]statusRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, statusRow{
			ID: r.ID, Account: r.Account, Order: r.Order, Name: r.Name,
			Record: r.Record.FQDN, Type: string(r.Record.Type), Value: r.Record.Value,
			Backend: r.Backend, Zone: r.Zone, State: string(r.State), DNS: string(r.DNS),
			Reason: r.Reason, Expires: r.Expires, Updated: r.Updated,
		})
	}
	return out
}
