package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dcvd/dcvd/store"
)

// HookAccount is the Account of rows published by ACME client hooks. The
// pipeline never drives them (their hook does); it only removes their
// records once they are finished, and Cleanup removes abandoned ones.
const HookAccount = "hook"

// Publish writes rows' records now, for a hook. Rows with ID 0 are inserted
// first (Account defaults to HookAccount, Key to Record.Key()); rows with an
// ID must be current (read from the store). Each row's add intent is stored
// before its backend is called, one Add per (backend, zone). On return the
// rows hold their stored state: Published with DNS present, or with Attempts
// and Reason after an error. The error names every record that failed.
func (e *Engine) Publish(ctx context.Context, rows []*store.Challenge) error {
	var fresh []*store.Challenge
	for _, c := range rows {
		rec, err := c.Record.Normalize()
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		c.Record = rec
		if c.ID == 0 {
			if c.Account == "" {
				c.Account = HookAccount
			}
			if c.Name == "" {
				c.Name = strings.TrimSuffix(rec.FQDN, ".")
			}
			c.State = store.Discovered
			fresh = append(fresh, c)
		}
	}
	if len(fresh) > 0 {
		if err := e.st.Insert(ctx, fresh); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
	}
	groups := map[zoneKey][]*store.Challenge{}
	var errs []error
	rows, err := e.claimRows(ctx, rows)
	defer e.release(ctx, rowIDs(rows))
	if err != nil {
		errs = append(errs, fmt.Errorf("publish: %w", err))
	}
	var failed batch
	for _, c := range rows {
		b, zone, err := e.backendFor(c)
		if err != nil {
			failed.add(c)
			fail(c, store.Failed, err.Error())
			errs = append(errs, fmt.Errorf("publish %s: %w", c.Record, err))
			continue
		}
		k := zoneKey{b.pub.Name(), zone}
		groups[k] = append(groups[k], c)
	}
	if _, err := e.commit(ctx, &failed); err != nil {
		errs = append(errs, err)
	}
	for name, steps := range byBackend(groups) {
		for _, zones := range steps {
			if _, err := e.publish(ctx, e.backends[name], zones); err != nil {
				errs = append(errs, err)
				continue
			}
			for _, c := range zones.rows() {
				if c.DNS != store.DNSPresent && c.DNS != store.DNSForeign {
					errs = append(errs, fmt.Errorf("%s", c.Reason))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// WaitVisible waits (verify.Checker.WaitAll) until every authoritative server
// serves rows' records and marks them Visible. The error lists the records
// that are not visible and why.
func (e *Engine) WaitVisible(ctx context.Context, rows []*store.Challenge) error {
	rows, err := e.claimRows(ctx, rows) // a record verify writes again is this process's to write
	defer e.release(ctx, rowIDs(rows))
	var errs []error
	if err != nil {
		errs = append(errs, fmt.Errorf("wait: %w", err))
	}
	if _, err := e.verify(ctx, rows); err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, c := range rows {
		if c.State != store.Visible {
			errs = append(errs, fmt.Errorf("%s: %s", c.Record, c.Reason))
		}
	}
	return errors.Join(errs...)
}

// Unpublish removes rows' records, for a hook that is done with them (rows
// are re-read by ID first, so stale copies are fine). Each row's remove
// intent is stored first; a value another row still holds stays in the zone.
// Rows end Cleaned (Failed and Expired rows keep their state) with DNS
// removed. The error names every record that could not be removed.
func (e *Engine) Unpublish(ctx context.Context, rows []*store.Challenge) error {
	groups := map[zoneKey][]*store.Challenge{}
	var done batch
	var errs []error
	rows, err := e.claimRows(ctx, rows)
	defer e.release(ctx, rowIDs(rows))
	if err != nil {
		errs = append(errs, fmt.Errorf("unpublish: %w", err))
	}
	for _, c := range rows {
		if !c.DNS.Owned() {
			if !c.State.Terminal() {
				done.add(c)
				c.State = store.Cleaned
			}
			continue
		}
		b, zone, err := e.backendFor(c)
		if err != nil {
			errs = append(errs, fmt.Errorf("unpublish %s: %w", c.Record, err))
			continue
		}
		k := zoneKey{b.pub.Name(), zone}
		groups[k] = append(groups[k], c)
	}
	if _, err := e.commit(ctx, &done); err != nil {
		errs = append(errs, err)
	}
	for name, steps := range byBackend(groups) {
		for _, zones := range steps {
			if _, err := e.remove(ctx, e.backends[name], zones); err != nil {
				errs = append(errs, err)
				continue
			}
			for _, c := range zones.rows() {
				if c.DNS != store.DNSRemoved {
					errs = append(errs, fmt.Errorf("unpublish %s: %s", c.Record, c.Reason))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Cleanup removes every record a crashed run or hook left behind (`dcvd
// cleanup`): the records of finished rows, and of rows of hooks (or of CA
// accounts no longer configured) that have not moved for olderThan — those
// rows fail with the reason "abandoned". Rows of configured accounts that are
// still in the pipeline are left to it. It returns how many rows had their
// record removed.
func (e *Engine) Cleanup(ctx context.Context, olderThan time.Duration) (int, error) {
	all, err := e.st.List(ctx, store.Filter{})
	if err != nil {
		return 0, fmt.Errorf("cleanup: %w", err)
	}
	var owned []*store.Challenge
	for i := range all {
		if all[i].DNS.Owned() {
			owned = append(owned, &all[i])
		}
	}
	// Rows another process is working on are its business.
	owned, err = e.claimRows(ctx, owned)
	defer e.release(ctx, rowIDs(owned))
	if err != nil {
		e.log.Info("cleanup: some rows skipped", "err", err)
	}
	now := time.Now()
	groups := map[zoneKey][]*store.Challenge{}
	var abandon batch
	var errs []error
	for _, c := range owned {
		if !c.DNS.Owned() {
			continue
		}
		if !c.State.Terminal() {
			if _, ours := e.accounts[c.Account]; ours || now.Sub(c.Updated) < olderThan {
				continue
			}
			abandon.add(c)
			fail(c, store.Failed, fmt.Sprintf("abandoned: no progress since %s; record removed by cleanup", c.Updated.UTC().Format(time.RFC3339)))
		}
		b, zone, err := e.backendFor(c)
		if err != nil {
			errs = append(errs, fmt.Errorf("cleanup %s: %w", c.Record, err))
			continue
		}
		k := zoneKey{b.pub.Name(), zone}
		groups[k] = append(groups[k], c)
	}
	if abandon.len() > 0 {
		saved, err := e.commit(ctx, &abandon)
		if err != nil {
			return 0, fmt.Errorf("cleanup: %w", err)
		}
		ok := map[int64]bool{}
		for _, c := range saved {
			ok[c.ID] = true
		}
		tried := map[int64]bool{}
		for _, c := range abandon.rows {
			tried[c.ID] = true
		}
		for k, rs := range groups { // drop rows another process moved meanwhile
			kept := rs[:0]
			for _, c := range rs {
				if ok[c.ID] || !tried[c.ID] {
					kept = append(kept, c)
				}
			}
			groups[k] = kept
		}
	}
	for k, rs := range groups {
		if len(rs) == 0 {
			delete(groups, k)
		}
	}
	n := 0
	for name, steps := range byBackend(groups) {
		var saved []*store.Challenge
		for _, zones := range steps {
			s, err := e.remove(ctx, e.backends[name], zones)
			if err != nil {
				errs = append(errs, err)
			}
			saved = append(saved, s...)
		}
		for _, c := range saved {
			if c.DNS == store.DNSRemoved {
				n++
			} else if c.Reason != "" {
				errs = append(errs, fmt.Errorf("cleanup %s: %s", c.Record, c.Reason))
			}
		}
	}
	return n, errors.Join(errs...)
}
