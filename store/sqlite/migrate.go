package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order; migrations[i] brings the schema from
// version i to i+1. Never edit a released entry: append a new one.
var migrations = []string{
	// 1: challenges and the embedded server's records.
	`CREATE TABLE challenges (
		id          INTEGER PRIMARY KEY AUTOINCREMENT,
		version     INTEGER NOT NULL DEFAULT 1,
		account     TEXT    NOT NULL,
		order_id    TEXT    NOT NULL,
		name        TEXT    NOT NULL,
		key         TEXT    NOT NULL,
		rec_fqdn    TEXT    NOT NULL,
		rec_type    TEXT    NOT NULL,
		rec_value   TEXT    NOT NULL,
		rec_ttl     INTEGER NOT NULL DEFAULT 0,
		rec_keyauth TEXT    NOT NULL DEFAULT '',
		rec_key     TEXT    NOT NULL,
		expires     INTEGER NOT NULL DEFAULT 0,
		ref         TEXT    NOT NULL DEFAULT '',
		backend     TEXT    NOT NULL DEFAULT '',
		zone        TEXT    NOT NULL DEFAULT '',
		state       TEXT    NOT NULL,
		dns         TEXT    NOT NULL DEFAULT '',
		serial      INTEGER NOT NULL DEFAULT 0,
		attempts    INTEGER NOT NULL DEFAULT 0,
		next_at     INTEGER NOT NULL DEFAULT 0,
		reason      TEXT    NOT NULL DEFAULT '',
		created     INTEGER NOT NULL,
		updated     INTEGER NOT NULL
	);
	CREATE INDEX challenges_account_key ON challenges(account, key);
	CREATE INDEX challenges_work ON challenges(state, next_at);
	CREATE INDEX challenges_dns ON challenges(dns) WHERE dns IN ('adding','present','removing');
	CREATE INDEX challenges_rec_key ON challenges(rec_key);
	CREATE TABLE records (
		backend TEXT    NOT NULL,
		key     TEXT    NOT NULL,
		fqdn    TEXT    NOT NULL,
		type    TEXT    NOT NULL,
		value   TEXT    NOT NULL,
		ttl     INTEGER NOT NULL,
		keyauth TEXT    NOT NULL DEFAULT '',
		created INTEGER NOT NULL,
		PRIMARY KEY (backend, key)
	) WITHOUT ROWID;`,
	// 2: leases (store.Store.Claim): who works on a row, until when.
	`ALTER TABLE challenges ADD COLUMN owner TEXT NOT NULL DEFAULT '';
	ALTER TABLE challenges ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
	CREATE TABLE locks (
		name  TEXT    PRIMARY KEY,
		owner TEXT    NOT NULL,
		until INTEGER NOT NULL
	) WITHOUT ROWID;`,
	// 3: the audit trail (store/audit.go).
	`CREATE TABLE audit (
		id        INTEGER PRIMARY KEY AUTOINCREMENT,
		at        INTEGER NOT NULL,
		kind      TEXT    NOT NULL,
		actor     TEXT    NOT NULL DEFAULT '',
		challenge INTEGER NOT NULL DEFAULT 0,
		account   TEXT    NOT NULL DEFAULT '',
		order_id  TEXT    NOT NULL DEFAULT '',
		name      TEXT    NOT NULL DEFAULT '',
		type      TEXT    NOT NULL DEFAULT '',
		value     TEXT    NOT NULL DEFAULT '',
		backend   TEXT    NOT NULL DEFAULT '',
		zone      TEXT    NOT NULL DEFAULT '',
		serial    INTEGER NOT NULL DEFAULT 0,
		result    TEXT    NOT NULL DEFAULT '',
		detail    TEXT    NOT NULL DEFAULT '',
		took      INTEGER NOT NULL DEFAULT 0,
		evidence  TEXT    NOT NULL DEFAULT ''
	);
	CREATE INDEX audit_at ON audit(at);
	CREATE INDEX audit_name ON audit(name);
	CREATE INDEX audit_challenge ON audit(challenge, kind);
	CREATE INDEX audit_backend ON audit(backend, kind);`,
	// 4: the domain inventory per CA account and the persistent DCV records
	// dcvd published (store/domains.go).
	`CREATE TABLE domains (
		account   TEXT    NOT NULL,
		name      TEXT    NOT NULL,
		domain_id TEXT    NOT NULL DEFAULT '',
		status    TEXT    NOT NULL,
		method    TEXT    NOT NULL DEFAULT '',
		validated INTEGER NOT NULL DEFAULT 0,
		expires   INTEGER NOT NULL DEFAULT 0,
		reason    TEXT    NOT NULL DEFAULT '',
		refreshed INTEGER NOT NULL,
		PRIMARY KEY (account, name, domain_id)
	);
	CREATE INDEX domains_expires ON domains(expires);
	CREATE TABLE persist (
		domain  TEXT    NOT NULL,
		value   TEXT    NOT NULL,
		fqdn    TEXT    NOT NULL,
		backend TEXT    NOT NULL,
		zone    TEXT    NOT NULL DEFAULT '',
		state   TEXT    NOT NULL DEFAULT '',
		checked INTEGER NOT NULL DEFAULT 0,
		created INTEGER NOT NULL,
		PRIMARY KEY (domain, value)
	);`,
	// 5: CA calls per credential shared by instances (used by
	// store/postgres; kept here so schema versions mean the same tables).
	`CREATE TABLE rate_calls (
		key TEXT   NOT NULL,
		at  INTEGER NOT NULL
	);
	CREATE INDEX rate_calls_key_at ON rate_calls(key, at);`,
	// 6: the certificate names a challenge's record validates, whose CAA
	// the engine checks (store.Challenge.CAANames, space-separated; "*."
	// names are checked against issuewild). Rows from before read empty:
	// their Name alone is checked.
	`ALTER TABLE challenges ADD COLUMN caa_names TEXT NOT NULL DEFAULT '';`,
	// 7: Work reads the due rows in order from an index of only the rows
	// the pipeline still acts on, and stops at its limit (before, every
	// active row was collected and sorted for each read); Leases reads
	// only the leased rows.
	`CREATE INDEX challenges_due ON challenges(next_at, id)
		WHERE state IN ('discovered','published','visible','triggering','submitted','validated')
		OR dns IN ('adding','present','removing');
	CREATE INDEX challenges_owner ON challenges(owner, account) WHERE owner <> '';`,
	// 8: PostgreSQL's one-round-trip rate-limit admission; nothing here
	// (kept so schema versions mean the same in both stores).
	`SELECT 1;`,
	// 9: completed runs of lock-guarded work (store.Store.Finish): a
	// process that waited for an account's discovery lock learns whether
	// its holder finished the discovery or died.
	`CREATE TABLE finished (
		name  TEXT    PRIMARY KEY,
		count INTEGER NOT NULL
	);`,
	// 10: PostgreSQL's batched rate-limit admission; nothing here.
	`SELECT 1;`,
	// 11: process leases (store.Store.Beat): while an owner's beat is
	// live, the rows it holds stay its own without a write per row.
	`CREATE TABLE beats (
		owner TEXT    PRIMARY KEY,
		until INTEGER NOT NULL
	);`,
	// 12: challenges_dns is dropped: no query reads it since Holders
	// looks rows up by record key, and every save that moves a row into
	// adding, present or removing added an entry to it (dead ones by the
	// hundred thousand in a large run, which a planner could still choose).
	`DROP INDEX challenges_dns;`,
	// 13: audit_name compares without case, as Audit's name filter does
	// (name = ? COLLATE NOCASE). The index of migration 3 used the
	// column's binary collation, which that filter cannot use: every
	// lookup of a name's history read the whole audit trail, while every
	// append still paid for the index.
	`DROP INDEX audit_name;
	CREATE INDEX audit_name ON audit(name COLLATE NOCASE);`,
}

// migrate brings the schema to len(migrations) in one transaction.
func (s *Store) migrate(ctx context.Context) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_version: %w", err)
		}
		var v int
		err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
		switch {
		case err == sql.ErrNoRows:
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
				return fmt.Errorf("init schema_version: %w", err)
			}
		case err != nil:
			return fmt.Errorf("read schema_version: %w", err)
		}
		if v > len(migrations) {
			return fmt.Errorf("schema version %d is newer than this dcvd knows (%d): upgrade dcvd", v, len(migrations))
		}
		for i := v; i < len(migrations); i++ {
			if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
		}
		if v < len(migrations) {
			if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, len(migrations)); err != nil {
				return fmt.Errorf("write schema_version: %w", err)
			}
		}
		return nil
	})
}

// Migrations is how many schema versions this build knows.
func (s *Store) Migrations() int { return len(migrations) }

// SchemaVersion returns the schema version of the open database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	return v, err
}
