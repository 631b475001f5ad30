package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrations are applied in order; migrations[i] brings the schema from
// version i to i+1, the same versions as store/sqlite's. Never edit a
// released entry: append a new one.
var migrations = []string{
	// 1: challenges and the embedded server's records.
	`CREATE TABLE challenges (
		id          BIGSERIAL PRIMARY KEY,
		version     BIGINT  NOT NULL DEFAULT 1,
		account     TEXT    NOT NULL,
		order_id    TEXT    NOT NULL,
		name        TEXT    NOT NULL,
		key         TEXT    NOT NULL,
		rec_fqdn    TEXT    NOT NULL,
		rec_type    TEXT    NOT NULL,
		rec_value   TEXT    NOT NULL,
		rec_ttl     BIGINT  NOT NULL DEFAULT 0,
		rec_keyauth TEXT    NOT NULL DEFAULT '',
		rec_key     TEXT    NOT NULL,
		expires     BIGINT  NOT NULL DEFAULT 0,
		ref         TEXT    NOT NULL DEFAULT '',
		backend     TEXT    NOT NULL DEFAULT '',
		zone        TEXT    NOT NULL DEFAULT '',
		state       TEXT    NOT NULL,
		dns         TEXT    NOT NULL DEFAULT '',
		serial      BIGINT  NOT NULL DEFAULT 0,
		attempts    INTEGER NOT NULL DEFAULT 0,
		next_at     BIGINT  NOT NULL DEFAULT 0,
		reason      TEXT    NOT NULL DEFAULT '',
		created     BIGINT  NOT NULL,
		updated     BIGINT  NOT NULL
	);
	CREATE UNIQUE INDEX challenges_account_key ON challenges(account, key);
	CREATE INDEX challenges_work ON challenges(state, next_at);
	CREATE INDEX challenges_dns ON challenges(dns) WHERE dns IN ('adding','present','removing');
	CREATE INDEX challenges_rec_key ON challenges(rec_key);
	CREATE TABLE records (
		backend TEXT   NOT NULL,
		key     TEXT   NOT NULL,
		fqdn    TEXT   NOT NULL,
		type    TEXT   NOT NULL,
		value   TEXT   NOT NULL,
		ttl     BIGINT NOT NULL,
		keyauth TEXT   NOT NULL DEFAULT '',
		created BIGINT NOT NULL,
		PRIMARY KEY (backend, key)
	);`,
	// 2: leases (store.Store.Claim): who works on a row, until when. Locks
	// are advisory locks here; the table keeps the schema the same as
	// SQLite's.
	`ALTER TABLE challenges ADD COLUMN owner TEXT NOT NULL DEFAULT '';
	ALTER TABLE challenges ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
	CREATE INDEX challenges_owner ON challenges(owner) WHERE owner <> '';
	CREATE TABLE locks (
		name  TEXT   PRIMARY KEY,
		owner TEXT   NOT NULL,
		until BIGINT NOT NULL
	);`,
	// 3: the audit trail (store/audit.go).
	`CREATE TABLE audit (
		id        BIGSERIAL PRIMARY KEY,
		at        BIGINT NOT NULL,
		kind      TEXT   NOT NULL,
		actor     TEXT   NOT NULL DEFAULT '',
		challenge BIGINT NOT NULL DEFAULT 0,
		account   TEXT   NOT NULL DEFAULT '',
		order_id  TEXT   NOT NULL DEFAULT '',
		name      TEXT   NOT NULL DEFAULT '',
		type      TEXT   NOT NULL DEFAULT '',
		value     TEXT   NOT NULL DEFAULT '',
		backend   TEXT   NOT NULL DEFAULT '',
		zone      TEXT   NOT NULL DEFAULT '',
		serial    BIGINT NOT NULL DEFAULT 0,
		result    TEXT   NOT NULL DEFAULT '',
		detail    TEXT   NOT NULL DEFAULT '',
		took      BIGINT NOT NULL DEFAULT 0,
		evidence  TEXT   NOT NULL DEFAULT ''
	);
	CREATE INDEX audit_at ON audit(at);
	CREATE INDEX audit_name ON audit(lower(name));
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
		validated BIGINT NOT NULL DEFAULT 0,
		expires   BIGINT NOT NULL DEFAULT 0,
		reason    TEXT    NOT NULL DEFAULT '',
		refreshed BIGINT NOT NULL,
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
		checked BIGINT NOT NULL DEFAULT 0,
		created BIGINT NOT NULL,
		PRIMARY KEY (domain, value)
	);`,
	// 5: CA calls per credential, shared by every instance (ratelimit.go).
	`CREATE TABLE rate_calls (
		key TEXT   NOT NULL,
		at  BIGINT NOT NULL
	);
	CREATE INDEX rate_calls_key_at ON rate_calls(key, at);`,
	// 6: the certificate names a challenge's record validates, whose CAA
	// the engine checks (store.Challenge.CAANames, space-separated; "*."
	// names are checked against issuewild). Rows from before read empty:
	// their Name alone is checked.
	`ALTER TABLE challenges ADD COLUMN caa_names TEXT NOT NULL DEFAULT '';`,
	// 7: Work reads the due rows in order from an index of only the rows
	// the pipeline still acts on, and stops at its limit.
	`CREATE INDEX challenges_due ON challenges(next_at, id)
		WHERE state IN ('discovered','published','visible','triggering','submitted','validated')
		OR dns IN ('adding','present','removing');`,
	// 8: a rate-limit admission in one round trip (ratelimit.go): under
	// the credential's advisory lock, drop calls older than the longest
	// window, and either record the call (0) or say how long until every
	// window has room (ns). Windows and caps are parallel arrays.
	`CREATE FUNCTION dcvd_rate_admit(k text, lk bigint, windows bigint[], caps int[], keep bigint)
	RETURNS bigint LANGUAGE plpgsql AS $$
	DECLARE
		now_ns bigint;
		wait_ns bigint := 0;
		at_ns bigint;
	BEGIN
		PERFORM pg_advisory_xact_lock(lk);
		now_ns := (extract(epoch from clock_timestamp()) * 1000000000)::bigint;
		DELETE FROM rate_calls WHERE key = k AND at <= now_ns - keep;
		FOR i IN 1 .. coalesce(array_length(windows, 1), 0) LOOP
			-- The caps[i]-th most recent call in the window: when it
			-- leaves the window, there is room.
			SELECT at INTO at_ns FROM rate_calls WHERE key = k AND at > now_ns - windows[i]
				ORDER BY at DESC OFFSET caps[i] - 1 LIMIT 1;
			IF FOUND THEN
				wait_ns := greatest(wait_ns, at_ns + windows[i] - now_ns + 1000000);
			END IF;
		END LOOP;
		IF wait_ns = 0 THEN
			INSERT INTO rate_calls (key, at) VALUES (k, now_ns);
		END IF;
		RETURN wait_ns;
	END $$;`,
	// 9: completed runs of lock-guarded work (store.Store.Finish): a
	// process that waited for an account's discovery lock learns whether
	// its holder finished the discovery or died.
	`CREATE TABLE finished (
		name  TEXT   PRIMARY KEY,
		count BIGINT NOT NULL
	);`,
	// 10: rate-limit admission of up to want calls in one round trip
	// (ratelimit.go): under the credential's advisory lock, drop calls
	// older than the longest window, admit as many as every window has
	// room for, recording them hold after now (they are made within hold,
	// so each is counted at least as long as the CA counts it), and return
	// {admitted, 0}; or, with no room, {0, ns until the fullest window has
	// room}. Windows and caps are parallel arrays. It replaces migration
	// 8's one-call admission, which is dropped.
	`CREATE FUNCTION dcvd_rate_admit_n(k text, lk bigint, windows bigint[], caps int[], keep bigint, want int, hold bigint)
	RETURNS bigint[] LANGUAGE plpgsql AS $$
	DECLARE
		now_ns bigint;
		wait_ns bigint := 0;
		at_ns bigint;
		room int := want;
		used int;
	BEGIN
		PERFORM pg_advisory_xact_lock(lk);
		now_ns := (extract(epoch from clock_timestamp()) * 1000000000)::bigint;
		DELETE FROM rate_calls WHERE key = k AND at <= now_ns - keep;
		FOR i IN 1 .. coalesce(array_length(windows, 1), 0) LOOP
			SELECT count(*) INTO used FROM rate_calls WHERE key = k AND at > now_ns - windows[i];
			room := least(room, caps[i] - used);
		END LOOP;
		IF room > 0 THEN
			INSERT INTO rate_calls (key, at) SELECT k, now_ns + hold FROM generate_series(1, room);
			RETURN ARRAY[room, 0];
		END IF;
		FOR i IN 1 .. coalesce(array_length(windows, 1), 0) LOOP
			-- The caps[i]-th most recent call in the window: when it
			-- leaves the window, there is room.
			SELECT at INTO at_ns FROM rate_calls WHERE key = k AND at > now_ns - windows[i]
				ORDER BY at DESC OFFSET caps[i] - 1 LIMIT 1;
			IF FOUND THEN
				wait_ns := greatest(wait_ns, at_ns + windows[i] - now_ns + 1000000);
			END IF;
		END LOOP;
		RETURN ARRAY[0, greatest(wait_ns, 1000000)];
	END $$;
	DROP FUNCTION dcvd_rate_admit(text, bigint, bigint[], int[], bigint);`,
	// 11: process leases (store.Store.Beat): while an owner's beat is
	// live, the rows it holds stay its own without a write per row.
	`CREATE TABLE beats (
		owner TEXT   PRIMARY KEY,
		until BIGINT NOT NULL
	);`,
	// 12: challenges_dns is dropped: no query reads it since Holders
	// looks rows up by record key, and every save that moves a row into
	// adding, present or removing added an entry to it (dead ones by the
	// hundred thousand in a large run, which a planner could still choose).
	`DROP INDEX challenges_dns;`,
	// 13: SQLite's audit_name gets the collation its filter uses; here
	// audit_name is on lower(name) since migration 3: nothing to do (kept
	// so schema versions mean the same in both stores).
	`SELECT 1;`,
}

// migrateLock is the advisory lock key migrations run under ("dcvd" in
// ASCII, then 1).
const migrateLock = 0x6463766400000001

// migrate brings the schema to len(migrations) in one transaction, under a
// transaction advisory lock so instances starting together do not race.
func (s *Store) migrate(ctx context.Context) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLock)); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_version: %w", err)
		}
		var v int
		err := tx.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
				return fmt.Errorf("init schema_version: %w", err)
			}
		case err != nil:
			return fmt.Errorf("read schema_version: %w", err)
		}
		if v > len(migrations) {
			return fmt.Errorf("schema version %d is newer than this dcvd knows (%d): upgrade dcvd", v, len(migrations))
		}
		for i := v; i < len(migrations); i++ {
			if _, err := tx.Exec(ctx, migrations[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
		}
		if v < len(migrations) {
			if _, err := tx.Exec(ctx, `UPDATE schema_version SET version = $1`, len(migrations)); err != nil {
				return fmt.Errorf("write schema_version: %w", err)
			}
		}
		return nil
	})
}

// Migrations is how many schema versions this build knows.
func (s *Store) Migrations() int { return len(migrations) }

// SchemaVersion returns the schema version of the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v)
	return v, err
}
