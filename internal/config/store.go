package config

import (
	"fmt"
	"path/filepath"

	"github.com/dcvd/dcvd/internal/secret"
)

// Store is the [store] table: where dcvd keeps its state.
//
//	[store]
//	type = "postgres"               # "sqlite" (default): state_dir/dcvd.db
//	dsn_file = "/etc/dcvd/pg.dsn"   # or dsn = "postgres://…", or dsn_credential
//
// The DSN may hold a password, so it is a secret: dsn_file and
// dsn_credential (systemd LoadCredential=) keep it out of the config file,
// and it is never logged or echoed.
type Store struct {
	Type          string `toml:"type"`
	DSN           string `toml:"dsn"`
	DSNFile       string `toml:"dsn_file"`
	DSNCredential string `toml:"dsn_credential"`
	// Lease is how long a claimed challenge stays with its instance without
	// a renewal: after a crash, another instance takes it over within one
	// Lease (default 30s).
	Lease Duration `toml:"lease"`
}

// Store types.
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
)

// DSNRef says where the PostgreSQL DSN comes from.
func (s Store) DSNRef() secret.Ref {
	return secret.Ref{Key: "store.dsn", Inline: s.DSN, File: s.DSNFile, Credential: s.DSNCredential}
}

func (s *Store) defaults() {
	if s.Type == "" {
		s.Type = StoreSQLite
	}
}

func (c *Config) validateStore() error {
	fail := func(format string, a ...any) error {
		return &Error{File: c.Path, Msg: fmt.Sprintf(format, a...)}
	}
	s := c.Store
	switch s.Type {
	case StoreSQLite:
		if s.DSNRef().Set() {
			return fail("[store]: dsn, dsn_file and dsn_credential are for type = \"postgres\"; SQLite lives in daemon.state_dir")
		}
	case StorePostgres:
		n := 0
		for _, v := range []string{s.DSN, s.DSNFile, s.DSNCredential} {
			if v != "" {
				n++
			}
		}
		if n != 1 {
			return fail("[store]: type = \"postgres\" needs exactly one of dsn, dsn_file, dsn_credential")
		}
	default:
		return fail("store.type %q: want \"sqlite\" or \"postgres\"", s.Type)
	}
	if s.Lease < 0 {
		return fail("store.lease must not be negative")
	}
	return nil
}

// StateDescription names where the state lives, for messages: the SQLite
// file, or "postgres" (the DSN is a secret and never shown).
func (c *Config) StateDescription() string {
	if c.Store.Type == StorePostgres {
		return "postgres (store.dsn)"
	}
	return filepath.Join(c.Daemon.StateDir, "dcvd.db")
}
