// Package hook lets existing ACME clients use dcvd to publish their dns-01
// records: certbot (manual hooks), dehydrated, uacme, lego (exec and httpreq
// providers), acme.sh (hooks/acme.sh/dns_dcvd.sh) and anything that can run
// `dcvd hook add` / `dcvd hook remove`.
//
// Every hook goes through the same three steps:
//
//  1. store a row per record (account "hook") and publish it through the
//     engine, which writes the DNS intent before calling the backend, so a
//     tool that crashes never leaves a record dcvd does not know about;
//  2. wait until every authoritative server serves every value (the tools
//     themselves either do not wait or sleep blindly);
//  3. on the tool's cleanup call, remove exactly the values published (the
//     apex and the wildcard challenge share one name; each value is removed
//     on its own). Removing a value that is already gone succeeds.
//
// A hook row that is never cleaned up (the tool was killed) is removed by
// `dcvd cleanup` and by the daemon.
//
// # Exit codes
//
//	0  success (also: dehydrated verbs dcvd does not handle)
//	1  publishing or propagation failed; uacme: challenge type declined
//	2  usage or configuration error: a missing variable or argument, a
//	   name no configured backend serves, an unreadable config
//
// A failure prints exactly one line on stderr naming the cause and, for a
// propagation timeout, the state of every authoritative server.
package hook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/store"
)

// Exit codes of the hook commands.
const (
	ExitOK      = 0
	ExitFailed  = 1 // publish or propagation failure; uacme decline
	ExitUsage   = 2 // missing variable/argument, unroutable name, bad config
	hookAccount = "hook"
)

// Account is the store account of every row a hook writes.
// Rows a tool never cleaned up are removed by the daemon and `dcvd cleanup`
// once they are older than [daemon] hook_max_age.
const Account = hookAccount

// Error is a hook failure with its exit code.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// As lets a CLI that maps *config.Error to the usage exit code (2) see a
// usage Error as one, so the exit codes hold without the CLI knowing this
// package's type. ExitCode is the direct way.
func (e *Error) As(target any) bool {
	if ce, ok := target.(**config.Error); ok && e.Code == ExitUsage {
		var inner *config.Error
		if errors.As(e.Err, &inner) {
			*ce = inner
		} else {
			*ce = &config.Error{File: "usage", Msg: e.Err.Error()}
		}
		return true
	}
	return false
}

func usageErr(format string, a ...any) error {
	return &Error{Code: ExitUsage, Err: fmt.Errorf(format, a...)}
}

func failErr(err error) error {
	var he *Error
	if errors.As(err, &he) {
		return err
	}
	return &Error{Code: ExitFailed, Err: err}
}

// ExitCode maps an error returned by a hook command to the process exit
// code: nil → 0, *Error → its Code, anything else → 1.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var he *Error
	if errors.As(err, &he) {
		return he.Code
	}
	return ExitFailed
}

// engine is the part of scheduler.Engine the hooks use, so the crash-safe
// publish and removal logic exists once.
type engine interface {
	Publish(ctx context.Context, rows []*store.Challenge) error
	Unpublish(ctx context.Context, rows []*store.Challenge) error
}

// waiter waits until every row's record is visible on every authoritative
// server. The error is one line naming the first record still missing and
// the per-server state.
type waiter func(ctx context.Context, rows []*store.Challenge) error

// Runner carries out hook actions against one opened dcvd.
type Runner struct {
	store  store.Store
	router *dnspublish.Router
	engine engine
	wait   waiter
	// delegate moves a record whose name no backend serves to the end of
	// its CNAME chain when that is served (nil: no following).
	delegate func(ctx context.Context, rec dnspublish.Record) (dnspublish.Record, bool)
	log      *slog.Logger
	now      func() time.Time
}

// Item is one record a tool asks for.
type Item struct {
	// Name is the identifier being validated ("example.com"; a wildcard's
	// "*." is dropped). Empty: derived from the record name.
	Name   string
	Record dnspublish.Record
}

// acmeItem is the dns-01 record for domain with TXT value value.
func acmeItem(domain, value string) Item {
	d := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(domain), "*."), ".")
	return Item{Name: strings.ToLower(d), Record: dnspublish.Record{FQDN: "_acme-challenge." + d + ".", Type: dnspublish.TXT, Value: value}}
}

// nameOf derives the identifier from a record name.
func nameOf(fqdn string) string {
	return strings.TrimSuffix(strings.TrimPrefix(fqdn, "_acme-challenge."), ".")
}

// prepare normalizes the items and checks that a backend serves each name,
// before anything is written.
func (r *Runner) prepare(ctx context.Context, items []Item) ([]Item, error) {
	if len(items) == 0 {
		return nil, usageErr("no record given")
	}
	out := make([]Item, 0, len(items))
	for _, it := range items {
		rec, err := it.Record.Normalize()
		if err != nil {
			return nil, usageErr("%v", err)
		}
		// A backslash escape or a control byte in a name changes what it
		// means to the DNS (an escaped dot is not a label boundary): refuse
		// it rather than write somewhere unexpected.
		if i := strings.IndexFunc(rec.FQDN, func(c rune) bool { return c == '\\' || c <= ' ' || c > '~' }); i >= 0 {
			return nil, usageErr("record name %q holds %q: only letters, digits, '-', '_' and '.' are allowed", rec.FQDN, rec.FQDN[i:i+1])
		}
		if it.Name == "" {
			it.Name = nameOf(rec.FQDN)
		}
		if r.delegate != nil {
			rec, _ = r.delegate(ctx, rec)
		}
		if _, _, err := r.router.Route(rec.FQDN); err != nil {
			if errors.Is(err, dnspublish.ErrNoZone) {
				return nil, usageErr("no DNS backend serves %v", err)
			}
			return nil, usageErr("%v", err)
		}
		it.Record = rec
		if it.Name == "" {
			it.Name = nameOf(rec.FQDN)
		}
		it.Name = strings.ToLower(strings.TrimSuffix(it.Name, "."))
		out = append(out, it)
	}
	return out, nil
}

// Publish stores a row per item (account "hook", group order) and publishes
// the records. It does not wait. On error, whatever was written is removed
// again.
func (r *Runner) Publish(ctx context.Context, order string, items []Item) ([]*store.Challenge, error) {
	items, err := r.prepare(ctx, items)
	if err != nil {
		return nil, err
	}
	now := r.now()
	rows := make([]*store.Challenge, len(items))
	for i, it := range items {
		rows[i] = &store.Challenge{
			Account: hookAccount,
			Order:   order,
			Name:    it.Name,
			// The key must be unique per account; the same value may be
			// published again by a later run while an old row lingers.
			Key:     fmt.Sprintf("%s|%s|%d", order, it.Record.Key(), now.UnixNano()+int64(i)),
			Record:  it.Record,
			State:   store.Discovered,
			Created: now,
			Updated: now,
		}
	}
	// The engine inserts the rows (ID 0) and stores each add intent before
	// it calls the backend.
	if err := r.engine.Publish(ctx, rows); err != nil {
		r.discard(rows)
		return nil, failErr(fmt.Errorf("hook: publish %s: %s", describe(rows), flat(err)))
	}
	for _, row := range rows {
		if row.DNS != store.DNSPresent {
			r.discard(rows)
			reason := row.Reason
			if reason == "" {
				reason = fmt.Sprintf("backend did not confirm the write (state %s, dns %q)", row.State, row.DNS)
			}
			return nil, failErr(fmt.Errorf("hook: publish %s: %s", row.Record, reason))
		}
	}
	r.log.Debug("hook published", "records", describe(rows), "order", order)
	return rows, nil
}

// Wait blocks until every row's value is served by every authoritative
// server, then marks the rows visible.
func (r *Runner) Wait(ctx context.Context, rows []*store.Challenge) error {
	if len(rows) == 0 {
		return nil
	}
	if err := r.wait(ctx, rows); err != nil {
		return failErr(err)
	}
	for _, row := range rows {
		row.State = store.Visible
		row.Updated = r.now()
	}
	if err := r.store.Save(ctx, rows); err != nil {
		// Visibility is informational for hook rows; a concurrent change
		// (the daemon cleaning up) must not fail the tool.
		r.log.Debug("hook: mark visible", "err", err)
	}
	return nil
}

// Add publishes items and waits for them; on any failure it removes what
// it added, so a tool that will not call cleanup leaves nothing behind.
func (r *Runner) Add(ctx context.Context, order string, items []Item, wait bool) error {
	rows, err := r.Publish(ctx, order, items)
	if err != nil {
		return err
	}
	if !wait {
		return nil
	}
	if err := r.Wait(ctx, rows); err != nil {
		r.discard(rows)
		return err
	}
	return nil
}

// discard removes rows' records after a failure, with a fresh context so a
// cancelled or timed-out ctx still cleans up.
func (r *Runner) discard(rows []*store.Challenge) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.unpublish(ctx, rows); err != nil {
		r.log.Warn("hook: removing after failure", "records", describe(rows), "err", err)
	}
}

// Remove deletes exactly the given values, wherever a hook published them.
// A value no hook row holds any more succeeds without touching DNS: dcvd
// never removes a record it did not create.
func (r *Runner) Remove(ctx context.Context, items []Item) error {
	items, err := r.prepare(ctx, items)
	if err != nil {
		return err
	}
	var rows []*store.Challenge
	seen := map[int64]bool{}
	for _, it := range items {
		found, err := r.owned(ctx, it)
		if err != nil {
			return failErr(err)
		}
		for _, row := range found {
			if !seen[row.ID] {
				seen[row.ID] = true
				rows = append(rows, row)
			}
		}
	}
	if len(rows) == 0 {
		r.log.Debug("hook: nothing to remove", "records", len(items))
		return nil
	}
	if err := r.unpublish(ctx, rows); err != nil {
		return failErr(fmt.Errorf("hook: remove %s: %w", describe(rows), err))
	}
	return nil
}

// unpublish removes rows' records through the engine (remove intent first;
// a value another row still holds stays) and leaves the rows Cleaned.
func (r *Runner) unpublish(ctx context.Context, rows []*store.Challenge) error {
	var stored []*store.Challenge
	for _, row := range rows {
		if row.ID != 0 {
			stored = append(stored, row)
		}
	}
	if len(stored) == 0 {
		return nil
	}
	if err := r.engine.Unpublish(ctx, stored); err != nil {
		return errors.New(flat(err))
	}
	for _, row := range stored {
		if row.DNS.Owned() {
			return fmt.Errorf("%s still in the zone (dns %q): %s", row.Record, row.DNS, row.Reason)
		}
	}
	return nil
}

// flat joins a multi-line (errors.Join) error into one line.
func flat(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}

// owned lists the hook rows that may hold it.Record in the zone.
func (r *Runner) owned(ctx context.Context, it Item) ([]*store.Challenge, error) {
	list, err := r.store.List(ctx, store.Filter{Account: hookAccount, Name: it.Name})
	if err != nil {
		return nil, fmt.Errorf("hook: list rows for %s: %w", it.Name, err)
	}
	key := it.Record.Key()
	var out []*store.Challenge
	for i := range list {
		if list[i].Record.Key() == key && list[i].DNS.Owned() {
			out = append(out, &list[i])
		}
	}
	return out, nil
}

// pendingWindow bounds how far back pending looks for rows of the same
// certbot run, so a row a crashed earlier run left behind (and whose record
// someone may have deleted by hand) cannot make every later run wait.
const pendingWindow = time.Hour

// pending lists this order's recent hook rows that are published but not
// yet seen on every server.
func (r *Runner) pending(ctx context.Context, order string, names []string) ([]*store.Challenge, error) {
	since := r.now().Add(-pendingWindow)
	var out []*store.Challenge
	seen := map[int64]bool{}
	for _, n := range names {
		list, err := r.store.List(ctx, store.Filter{Account: hookAccount, Name: n, States: []store.State{store.Published}})
		if err != nil {
			return nil, fmt.Errorf("hook: list rows for %s: %w", n, err)
		}
		for i := range list {
			c := &list[i]
			if c.Order == order && c.DNS == store.DNSPresent && c.Created.After(since) && !seen[c.ID] {
				seen[c.ID] = true
				out = append(out, c)
			}
		}
	}
	return out, nil
}

func describe(rows []*store.Challenge) string {
	if len(rows) == 1 {
		return rows[0].Record.String()
	}
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = r.Record.String()
	}
	return fmt.Sprintf("%d records (%s)", len(rows), strings.Join(parts, ", "))
}
