package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/store"
)

func newAuditCmd(g *globals) *cobra.Command {
	var (
		since  time.Duration
		name   string
		asJSON bool
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit trail: every DNS write, propagation check and CA call",
		Long: `audit prints the audit trail kept in the state store, oldest first: every DNS
write and removal (backend, zone, name, type, value, serial), every propagation
check (with each server's answer, rcode and round-trip time in --json), every CA
trigger and verdict, and acme-dns API calls, each with the challenge, order and
who asked (daemon, run, hook, acmedns). Entries older than daemon.audit_retention
are pruned by the daemon.`,
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
			f := store.AuditFilter{Name: name, Limit: limit}
			if since > 0 {
				f.Since = time.Now().Add(-since)
			}
			rows, err := st.Audit(cmd.Context(), f)
			if err != nil {
				return err
			}
			for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
				rows[i], rows[j] = rows[j], rows[i]
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(auditJSON(rows))
			}
			if len(rows) == 0 {
				fmt.Fprintln(out, "no audit entries")
				return nil
			}
			t := newTable(out, "TIME", "ACTOR", "KIND", "ACCOUNT", "ORDER", "CHALLENGE", "NAME", "TYPE", "VALUE", "BACKEND", "ZONE", "SERIAL", "RESULT", "DETAIL")
			for _, r := range rows {
				serial := ""
				if r.Serial != 0 {
					serial = strconv.FormatUint(uint64(r.Serial), 10)
				}
				ch := ""
				if r.Challenge != 0 {
					ch = strconv.FormatInt(r.Challenge, 10)
				}
				t.row(r.Time.Local().Format("2006-01-02 15:04:05.000"), r.Actor, r.Kind, r.Account, r.Order, ch, r.Name, r.Type, r.Value,
					r.Backend, r.Zone, serial, r.Result, r.Detail)
			}
			t.flush()
			return nil
		},
	}
	cmd.Flags().DurationVar(&since, "since", 24*time.Hour, "show entries newer than this (0: all)")
	cmd.Flags().StringVar(&name, "name", "", "only this record name (e.g. _acme-challenge.example.com)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON, with each server's answer for propagation checks")
	cmd.Flags().IntVar(&limit, "limit", 0, "show at most the newest N entries (0: all)")
	return cmd
}

type auditRow struct {
	ID        int64            `json:"id"`
	Time      time.Time        `json:"time"`
	Kind      string           `json:"kind"`
	Actor     string           `json:"actor"`
	Challenge int64            `json:"challenge,omitempty"`
	Account   string           `json:"account,omitempty"`
	Order     string           `json:"order,omitempty"`
	Name      string           `json:"name,omitempty"`
	Type      string           `json:"type,omitempty"`
	Value     string           `json:"value,omitempty"`
	Backend   string           `json:"backend,omitempty"`
	Zone      string           `json:"zone,omitempty"`
	Serial    uint32           `json:"serial,omitempty"`
	Result    string           `json:"result,omitempty"`
	Detail    string           `json:"detail,omitempty"`
	TookMS    float64          `json:"took_ms,omitempty"`
	Evidence  []store.Evidence `json:"evidence,omitempty"`
}

func auditJSON(rows []store.AuditEntry) []auditRow {
	out := make([]auditRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, auditRow{ID: r.ID, Time: r.Time, Kind: r.Kind, Actor: r.Actor, Challenge: r.Challenge, Account: r.Account,
			Order: r.Order, Name: r.Name, Type: r.Type, Value: r.Value, Backend: r.Backend, Zone: r.Zone, Serial: r.Serial,
			Result: r.Result, Detail: r.Detail, TookMS: float64(r.Took.Microseconds()) / 1000, Evidence: r.Evidence})
	}
	return out
}
