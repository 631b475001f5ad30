package store

import (
	"context"
	"time"

	"github.com/dcvd/dcvd/providers"
)

// Domain is one row of an account's domain inventory: what the CA said
// about one of its domains at the last refresh.
type Domain struct {
	Account string
	providers.Domain
	// Refreshed is when the inventory holding this row was read from the CA.
	Refreshed time.Time
}

// PersistRecord is a persistent DCV record (BR 3.2.2.4.22,
// `_validation-persist.<domain>` TXT) that dcvd published, remembered so
// that only dcvd's own value is ever removed.
type PersistRecord struct {
	Domain  string // the [[persist]] domain
	FQDN    string // the record's owner, canonical with a trailing dot
	Value   string // the TXT value dcvd published
	Backend string // the backend that holds it
	Zone    string
	// State is the last check's verdict ("present", "repaired", "missing",
	// "error: ..."); Checked when it was made.
	State   string
	Checked time.Time
	Created time.Time
}

// DomainStore is implemented by stores that keep the domain inventory and
// the persistent DCV records (store/sqlite, store/postgres). It is a
// separate interface so that stores without it still work: the scheduler
// then skips the inventory.
type DomainStore interface {
	// ReplaceDomains makes rows the whole inventory of account in one
	// transaction (rows of other accounts are left alone).
	ReplaceDomains(ctx context.Context, account string, rows []Domain) error
	// Domains returns the inventory of account ("" for every account),
	// soonest expiry first (never-validated domains, which have no expiry,
	// come first: they are the most urgent), then by name.
	Domains(ctx context.Context, account string) ([]Domain, error)

	// PutPersist stores (or replaces, by Domain and Value) a persistent
	// record dcvd published.
	PutPersist(ctx context.Context, r PersistRecord) error
	// DeletePersist forgets the record of domain with value.
	DeletePersist(ctx context.Context, domain, value string) error
	// PersistRecords lists every persistent record dcvd published, by domain.
	PersistRecords(ctx context.Context) ([]PersistRecord, error)
}
