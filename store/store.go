// Package store keeps dcvd's state: one row per challenge, moving through the
// pipeline, plus the records the embedded DNS server answers with.
//
// The interface is deliberately narrow so that a PostgreSQL implementation
// (several dcvd instances sharing one state) can follow the SQLite one.
// Rows carry a Version; Save is a compare-and-swap on it, so two processes
// (the daemon and a hook) never overwrite each other's progress.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
)

// State is where a challenge is in the pipeline.
type State string

const (
	Discovered State = "discovered" // known; nothing written yet
	Published  State = "published"  // the backend accepted the record
	Visible    State = "visible"    // every authoritative server serves it
	Submitted  State = "submitted"  // the CA was asked to check
	Validated  State = "validated"  // the CA accepted it; cleanup pending
	Cleaned    State = "cleaned"    // validated and the record is gone (terminal)
	Failed     State = "failed"     // given up; Reason says why (terminal once DNS is clean)
	Expired    State = "expired"    // the CA's value expired first (terminal once DNS is clean)

	// Triggering (between visible and submitted): the intent to ask the CA
	// to check is stored and the request may be on its way; its outcome is
	// not saved yet. A row found in this state by another process, or after
	// a restart, is in doubt: the CA's state is read (Provider.Poll) before
	// anything is sent again.
	Triggering State = "triggering"
)

// Terminal reports whether the pipeline is finished with s (cleanup aside).
func (s State) Terminal() bool {
	return s == Cleaned || s == Failed || s == Expired || s == Validated
}

// DNSState tracks what dcvd may have in a zone for a challenge. It is written
// before each side effect ("adding", "removing") so that after a crash the
// next run knows exactly what to finish: re-adding is idempotent, and so is
// removing.
type DNSState string

const (
	DNSNone     DNSState = ""         // nothing was ever written
	DNSAdding   DNSState = "adding"   // intent stored; the write may or may not have happened
	DNSPresent  DNSState = "present"  // the backend confirmed the write
	DNSRemoving DNSState = "removing" // intent to remove stored
	DNSRemoved  DNSState = "removed"  // the backend confirmed the removal
	// DNSForeign: the value was already in the zone, put there by someone
	// else; dcvd did not add it and never removes it.
	DNSForeign DNSState = "foreign"
)

// Owned reports whether the zone may hold this challenge's record.
func (d DNSState) Owned() bool { return d == DNSAdding || d == DNSPresent || d == DNSRemoving }

// Challenge is one row.
type Challenge struct {
	ID      int64
	Version int64 // incremented by every Save

	Account string // [[ca]] name, or "hook" for records published by hooks
	Order   string
	Name    string
	Key     string // providers.Challenge.Key(), unique per Account
	Record  dnspublish.Record
	Expires time.Time // zero: unknown
	Ref     string
	// CAANames: the certificate names the record validates, whose CAA the
	// engine checks ("*."-prefixed for a wildcard: issuewild); see
	// providers.Challenge.CAANames. Fixed at insert, like Name; empty (rows
	// stored before schema 6 too): Name alone.
	CAANames []string

	Backend string // routed backend name, fixed when the add intent is stored
	Zone    string // routed zone

	State  State
	DNS    DNSState
	Serial uint32 // SOA serial returned by the backend's add, 0 unknown

	Attempts int       // failed tries of the current step
	NextAt   time.Time // do not work on the row before this (backoff)
	Reason   string    // last error, or the terminal reason

	Created time.Time
	Updated time.Time

	// Owner and LeaseUntil are the row's lease (see Store.Claim): the
	// instance working on it and until when (the row's own lease: the
	// owner's Beat may hold it longer). Read-only: only Claim, Renew, Release
	// and SaveHeld write them; Save leaves them alone.
	Owner      string
	LeaseUntil time.Time
}

// LeasedBy reports whether another owner than me holds a live lease on the
// row at now by the row's own lease (its owner's Beat, which may hold it
// longer, is not in the row). Such a row is being worked on elsewhere:
// leave it alone.
func (c *Challenge) LeasedBy(me string, now time.Time) bool {
	return c.Owner != "" && c.Owner != me && c.LeaseUntil.After(now)
}

// BeatMargin is how much of a beat must be left for Beat to count it live:
// a beat renewed in its last moments may have looked ended to a concurrent
// claim (the fence keeps such a claim safe; the margin makes it rare).
func BeatMargin(lease time.Duration) time.Duration { return min(lease/10, time.Second) }

// BeatKeep is how long a beat that ended is kept before Beat deletes it
// (an owner that died without ending its beat).
const BeatKeep = time.Hour

// Lease is one owner's live leases on one account's rows (Store.Leases).
type Lease struct {
	Owner, Account string
	Rows           int
	Until          time.Time // when the first of them ends
}

// Filter selects rows for List. Zero fields match everything.
type Filter struct {
	Account string
	States  []State
	Name    string
	Limit   int
}

// ErrConflict is returned by Save when another process changed a row since
// it was read (its Version moved). Re-read and decide again.
var ErrConflict = errors.New("store: row changed concurrently")

// Local is implemented by stores that only processes of one host share
// (SQLite). Their owners' liveness can be checked by pid: a lease held by a
// process of this host that no longer exists is expired at once instead of
// after its Lease.
type Local interface{ Local() bool }

// Migrator is implemented by stores with a versioned schema (`dcvd
// migrate`). Open brings the schema up to date; SchemaVersion reports the
// version in use and Migrations how many this build knows.
type Migrator interface {
	SchemaVersion(ctx context.Context) (int, error)
	Migrations() int
}

// ErrNotFound is returned (wrapped) by Get for an unknown ID.
var ErrNotFound = errors.New("store: no such challenge")

// Store is the persistence interface the pipeline, the CLI and the hooks use.
type Store interface {
	// Discover inserts the challenges an account discovery returned that are
	// not known yet (by Account+Key) in state Discovered, and returns how
	// many were new. Known rows are left alone.
	Discover(ctx context.Context, rows []Challenge) (int, error)
	// Insert adds rows unconditionally (hooks), filling ID, Version, Created.
	Insert(ctx context.Context, rows []*Challenge) error
	// Work returns rows the pipeline must act on at now that no process
	// holds a live lease on (no owner, or the lease has ended and its
	// owner's Beat is not live, by the store's clock): non-terminal rows
	// whose NextAt has passed, plus terminal rows whose DNS is still Owned. Oldest NextAt first, at most
	// limit (0: all). Rows a process is working on are its own business:
	// a fetch reads only what it may claim.
	Work(ctx context.Context, now time.Time, limit int) ([]Challenge, error)
	// Leases tells who is working on what: for each owner and account, how
	// many rows carry a live lease (their own, or their owner's live Beat)
	// and when the first of those leases ends (a row's lease or the beat,
	// whichever ends later). A one-shot run waits for them; a dead local owner's rows are taken
	// over (Expire).
	Leases(ctx context.Context) ([]Lease, error)
	// List returns rows matching f, newest first.
	List(ctx context.Context, f Filter) ([]Challenge, error)
	// Get returns one row by ID.
	Get(ctx context.Context, id int64) (Challenge, error)
	// Save writes rows in one transaction, each only if its Version is still
	// the one read (else ErrConflict and nothing is written), and bumps
	// Version and Updated on the passed rows. Account, Order, Name, CAANames,
	// Key and Record are fixed at insert; Save need not write them.
	Save(ctx context.Context, rows []*Challenge) error
	// SaveHeld is Save for rows owner holds the lease on: the same writes,
	// and each row's lease is extended to lease from now (the store's
	// clock), as Renew would. The Version check proves the lease is still
	// owner's (another owner's claim bumps Version), so a step's save
	// renews its rows' leases without a transaction of its own. Rows owner
	// does not hold (released meanwhile) are saved without a lease.
	SaveHeld(ctx context.Context, rows []*Challenge, owner string, lease time.Duration) error
	// Holders counts, for each record key (dnspublish.Record.Key), the rows
	// other than except whose DNS is DNSAdding or DNSPresent. A value shared
	// by two challenges is removed only when the last one is done with it.
	// A row in DNSRemoving has already given the value up: two rows removing
	// a shared value at the same time must both remove it (idempotent), not
	// each leave it to the other.
	Holders(ctx context.Context, keys []string, except []int64) (map[string]int, error)
	// Counts returns how many rows are in each state (metrics, STATUS=).
	Counts(ctx context.Context) (map[State]int, error)

	// Claim takes the lease on the rows ids for owner for lease (measured
	// by the store's clock), and returns the rows it took, current. A row is
	// taken when it has no owner, its lease expired and its owner's Beat is
	// not live, or owner already holds it; rows leased by another live owner are skipped (not an error).
	// A claim bumps Version: Version is the fencing token, so a former owner
	// that stalled past its lease can no longer Save the copy it holds, and
	// learns (ErrConflict) that its work was taken over.
	Claim(ctx context.Context, ids []int64, owner string, lease time.Duration) ([]Challenge, error)
	// Renew extends owner's lease on ids by lease from now, without
	// touching Version, and returns the ids owner no longer holds (taken
	// over, or gone): their work must stop.
	Renew(ctx context.Context, ids []int64, owner string, lease time.Duration) (lost []int64, err error)
	// Beat renews owner's process lease, its heartbeat: while it is live,
	// every row owner holds stays owner's whatever the row's own lease
	// says (Claim, Work and Leases treat the row as leased), so a process
	// holding thousands of rows renews them all with one small write
	// instead of rewriting each row. Beat extends the beat to lease from
	// now (the store's clock) and reports whether it was still live before
	// (with a little margin): false on the first beat, and after a stall
	// past the beat's end, when other owners may have taken rows over
	// meanwhile and the caller renews its rows one by one (Renew) to learn
	// which it lost. lease <= 0 ends the beat (rows keep only their own
	// leases). Beats long dead are deleted.
	Beat(ctx context.Context, owner string, lease time.Duration) (live bool, err error)
	// Release gives up owner's lease on ids (rows held by others are left
	// alone). Version is not touched.
	Release(ctx context.Context, ids []int64, owner string) error
	// Expire ends at once every lease owner holds and its beat (its
	// process is known to be dead: see Local), bumping the Version of its
	// rows. Stores whose
	// locks can outlive their holder drop its locks too.
	Expire(ctx context.Context, owner string) error
	// Lock takes the named lock for owner (or keeps it, when owner holds it
	// already) and reports whether owner holds it now; it does not wait.
	// One account's discovery runs under such a lock, on one instance at a
	// time. lease bounds how long a lock outlives a holder that died without
	// Unlock where the store cannot tell (SQLite); a PostgreSQL lock lives
	// exactly as long as its holder's connection.
	Lock(ctx context.Context, name, owner string, lease time.Duration) (bool, error)
	// Unlock releases owner's lock name (another owner's is left alone).
	Unlock(ctx context.Context, name, owner string) error
	// Finish counts one more completed run of the work lock name guards
	// (an account's discovery), and Finished reads that count (0 when it
	// never completed). A lock is freed both by its holder's Unlock and by
	// its death; a process that waited for the lock tells the two apart by
	// the count: unchanged, the work was not done and is its to do.
	Finish(ctx context.Context, name string) error
	Finished(ctx context.Context, name string) (int64, error)

	dnspublish.RecordStore
	Auditor // store/audit.go

	Close() error
}
