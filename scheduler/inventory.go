package scheduler

import (
	"context"
	"time"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/store"
)

// Domain inventory (issue 13). After each discovery of an account whose
// provider keeps domain objects (providers.Inventory), the account's
// domains are read and stored (store.DomainStore) for `dcvd domains`, the
// status page and the metrics. A failure is logged and leaves the previous
// inventory in place: it never fails the discovery.

// inventoryTimeout bounds one refresh (10,000 domains are 100 pages).
const inventoryTimeout = 10 * time.Minute

// refreshInventory reads and stores one account's domain inventory and
// warns about every domain inside the account's revalidate_before window
// that dcvd cannot renew.
func (e *Engine) refreshInventory(ctx context.Context, a *account) {
	inv, ok := a.Provider.(providers.Inventory)
	ds, sok := e.st.(store.DomainStore)
	if !ok || !sok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, inventoryTimeout)
	defer cancel()
	start := time.Now()
	list, err := inv.Domains(WithAccount(ctx, a.name))
	if err != nil {
		e.log.Warn("domain inventory not refreshed", "account", a.name, "err", err)
		return
	}
	rows := make([]store.Domain, len(list))
	for i, d := range list {
		rows[i] = store.Domain{Account: a.name, Domain: d, Refreshed: start}
	}
	if err := ds.ReplaceDomains(ctx, a.name, rows); err != nil {
		e.log.Warn("domain inventory not stored", "account", a.name, "err", err)
		return
	}
	e.log.Info("domain inventory refreshed", "account", a.name, "domains", len(rows), "took", time.Since(start).Round(time.Millisecond))
	var before time.Duration
	if r, ok := a.Provider.(providers.Revalidating); ok {
		before = r.RevalidateBefore()
	}
	if before <= 0 {
		return
	}
	for _, d := range list {
		if d.Expires.IsZero() || d.Expires.Sub(start) > before {
			continue
		}
		if d.Status != providers.DomainValid {
			e.log.Warn("domain validation within revalidate_before cannot be renewed",
				"account", a.name, "domain", d.Name, "expires", d.Expires, "status", d.Status, "reason", d.Reason)
		}
	}
}
