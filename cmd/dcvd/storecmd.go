package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/postgres"
	"github.com/dcvd/dcvd/store/sqlite"
)

// newMigrateCmd is `dcvd migrate`: bring the configured store to this
// dcvd's schema. Every dcvd does this when it opens the store; operators who
// run migrations by hand (before rolling out a new version to several
// instances) use this.
func newMigrateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Bring the state store ([store]) to this dcvd's schema version",
		Long: `migrate opens the configured state store and applies the schema migrations it
lacks, in one transaction (PostgreSQL: under an advisory lock, so instances
starting meanwhile wait). Every dcvd does the same when it starts; run it by
hand to migrate before rolling a new version out to several instances.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := app.LoadConfig(g.configPath)
			if err != nil {
				return err
			}
			st, err := app.OpenStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			m, ok := st.(store.Migrator)
			if !ok {
				return fmt.Errorf("migrate: %s has no versioned schema", cfg.StateDescription())
			}
			v, err := m.SchemaVersion(cmd.Context())
			if err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: schema version %d (current)\n", cfg.StateDescription(), v)
			return nil
		},
	}
}

// newStoreCmd is `dcvd store copy`.
func newStoreCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "store", Short: "State store tools"}
	var from, to, sqlitePath string
	cp := &cobra.Command{
		Use:   "copy --from sqlite --to postgres",
		Short: "Copy the whole state from one store to another (stop every dcvd first)",
		Long: `store copy moves an installation between stores: every challenge as it is (IDs,
states, times), the embedded DNS server's records and the audit trail. The
SQLite side is daemon.state_dir/dcvd.db (or --sqlite PATH); the PostgreSQL side
is [store]'s dsn, dsn_file or dsn_credential. The destination must be empty.
To move to PostgreSQL: stop every dcvd, set [store] type = "postgres" and its
dsn (the SQLite file stays where it is), run this, start the instances.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := app.LoadConfig(g.configPath)
			if err != nil {
				return err
			}
			if sqlitePath == "" {
				sqlitePath = cfg.StatePath()
			}
			open := func(kind string) (store.Store, string, error) {
				switch kind {
				case config.StoreSQLite:
					st, err := sqlite.Open(ctx, sqlitePath)
					return st, "sqlite " + sqlitePath, err
				case config.StorePostgres:
					if !cfg.Store.DSNRef().Set() {
						return nil, "", &config.Error{File: cfg.Path, Msg: "[store]: store copy to or from postgres needs dsn, dsn_file or dsn_credential"}
					}
					dsn, err := cfg.Store.DSNRef().Read()
					if err != nil {
						return nil, "", &config.Error{File: cfg.Path, Msg: "[store]: " + err.Error()}
					}
					st, err := postgres.Open(ctx, dsn)
					return st, "postgres", err
				}
				return nil, "", &exitError{Code: exitConfig, Err: fmt.Errorf("store copy: %q: want sqlite or postgres", kind)}
			}
			if from == to {
				return &exitError{Code: exitConfig, Err: fmt.Errorf("store copy: --from and --to are both %q", from)}
			}
			src, srcName, err := open(from)
			if err != nil {
				return err
			}
			defer src.Close()
			dst, dstName, err := open(to)
			if err != nil {
				return err
			}
			defer dst.Close()
			var backends []string
			for _, d := range cfg.DNS {
				backends = append(backends, d.Name)
			}
			res, err := store.Copy(ctx, src, dst, backends)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "copied %s -> %s: %d challenges, %d records, %d audit entries\n",
				srcName, dstName, res.Challenges, res.Records, res.Audit)
			return nil
		},
	}
	cp.Flags().StringVar(&from, "from", config.StoreSQLite, "source store: sqlite or postgres")
	cp.Flags().StringVar(&to, "to", config.StorePostgres, "destination store: sqlite or postgres")
	cp.Flags().StringVar(&sqlitePath, "sqlite", "", "SQLite file (default daemon.state_dir/dcvd.db)")
	cmd.AddCommand(cp)
	return cmd
}
