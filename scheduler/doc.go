// Package scheduler is dcvd's pipeline engine: it moves every challenge row
// of the store from discovered to cleaned, one idempotent step at a time.
//
//	discovered ──publish──▶ published ──verify──▶ visible ──submit──▶ submitted ──poll──▶ validated ──remove──▶ cleaned
//	      │                     │                    │                     │
//	      └─────────────────────┴────── failed / expired (with a reason) ──┴──remove──▶ (DNS removed)
//
// Submit stores its intent before the CA call, and a check whose outcome
// was lost (a kill, a lost lease) is confirmed, never blindly repeated:
//
//	visible ──submit──▶ triggering ──confirm──▶ validated (or submitted; or visible again: the attempt is spent)
//
// The same transitions, with each step's retry policy, are the table the
// driver reads (transitions.go); a test keeps this diagram and the table
// in step.
//
// # Crash safety
//
// Every side effect is preceded by a stored intent. Before a backend's Add
// the row is saved with DNS=adding (and the routed backend and zone); only
// after the backend confirmed it does the row become DNS=present,
// State=published. Removal is the same with removing/removed. A process
// killed at any moment therefore leaves rows that say exactly what may be in
// a zone, and the next run finishes the step: adding a value that is already
// there, or removing one that is gone, is a no-op for every backend.
//
// Asking the CA to check is not a no-op to repeat (a CA counts, and may
// refuse or rate-limit, checks of an order it already validated). Before
// each order's check its rows are saved as Triggering; the answer moves them
// on. A Triggering row that any process finds in the store afterwards (the
// one that wrote it, after a restart, or another one after taking the lease
// over) is in doubt, and its step is confirm: Provider.Poll reads the CA's
// state; validated goes on, failed fails, and anything else counts the
// check as a spent attempt: the row is Visible again and submitted after the
// usual backoff, with the next attempt number. A value
// shared by two rows (apex and wildcard of one order) is removed only when
// store.Holders says no other row still holds it.
//
// # Several processes
//
// The daemon, `dcvd run` and hooks may share one state file, and several
// daemons one PostgreSQL. A row is worked on by one process at a time: the
// engine claims rows before acting (store.Store.Claim, a lease with an
// owner and an expiry), renews the leases while the rows are in memory and
// releases them when they leave; a killed process's rows are taken over
// after one Lease. A claim bumps the row's Version, the fencing token every
// Save checks, so a process that stalled past its lease cannot overwrite the
// new owner's work; if its backend write landed late, after the new owner
// removed the value, the conflicting save makes it remove the value again.
// Discovery of an account runs under a store lock, on one process at a time
// (see leases.go).
//
// # Batching
//
// Records are written with one Add/Remove call per (backend, zone), verified
// with one verify.Checker.WaitAll per batch, submitted with one
// providers.Provider.Submit per (account, order), and every step saves its
// rows in one store transaction. Rows leaving a step go straight to the
// next one in memory; the store is re-read for new and backed-off rows.
//
// # Retries
//
// A failed step increments Attempts and sets NextAt with exponential backoff
// and jitter; after MaxAttempts the row fails with the last error as its
// reason. The CA's "not visible yet" keeps the record and retries the submit
// with backoff; a pending verdict is polled with backoff until the value
// expires. Removal never gives up: dcvd does not leave junk in zones.
//
// # Scheduling
//
// Run starts a robfig/cron/v3 schedule per account (default every five
// minutes, plus once at start) and drives rows continuously with a bounded
// worker pool. A CA's documented request limits are kept by its client
// (providers.Limiter, per HTTP request, as the CA counts them); each DNS
// backend can be limited to BackendRate writes per second. RunOnce is the one-shot
// mode behind `dcvd run`: discover, drive everything as far as it goes, and
// return a Summary.
package scheduler
