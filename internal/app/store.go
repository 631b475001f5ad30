package app

import (
	"context"
	"fmt"
	"os"

	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/postgres"
	"github.com/dcvd/dcvd/store/sqlite"
)

// OpenStore opens the configured state ([store]): the SQLite file under
// daemon.state_dir (created if needed), or the PostgreSQL database of
// store.dsn. Either is brought to the newest schema. Errors never contain
// the DSN.
func OpenStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	switch cfg.Store.Type {
	case config.StorePostgres:
		dsn, err := cfg.Store.DSNRef().Read()
		if err != nil {
			return nil, &config.Error{File: cfg.Path, Msg: "[store]: " + err.Error()}
		}
		st, err := postgres.Open(ctx, dsn)
		if err != nil {
			return nil, fmt.Errorf("open state: %w", err)
		}
		return st, nil
	default:
		if err := os.MkdirAll(cfg.Daemon.StateDir, 0o700); err != nil {
			return nil, fmt.Errorf("state_dir: %w", err)
		}
		st, err := sqlite.Open(ctx, cfg.StatePath())
		if err != nil {
			return nil, fmt.Errorf("open state %s: %w", cfg.StatePath(), err)
		}
		return st, nil
	}
}

// CheckStore connects to the configured state without changing it (`dcvd
// config check --online`) and describes it: the schema version it is at and
// the one this dcvd would migrate it to.
func CheckStore(ctx context.Context, cfg *config.Config) (string, error) {
	switch cfg.Store.Type {
	case config.StorePostgres:
		dsn, err := cfg.Store.DSNRef().Read()
		if err != nil {
			return "", fmt.Errorf("[store]: %w", err)
		}
		v, err := postgres.Check(ctx, dsn)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("postgres: connected, schema version %d (this dcvd: %d)", v, postgres.Migrations()), nil
	default:
		if _, err := os.Stat(cfg.StatePath()); err != nil {
			if os.IsNotExist(err) {
				return fmt.Sprintf("sqlite %s: not created yet (the first run creates it)", cfg.StatePath()), nil
			}
			return "", fmt.Errorf("sqlite %s: %w", cfg.StatePath(), err)
		}
		return fmt.Sprintf("sqlite %s: present", cfg.StatePath()), nil
	}
}
