package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/store"
)

// Leases: several processes may drive one store at once (the daemon,
// `dcvd run`, hooks on one host; several daemons on one PostgreSQL). A row
// is worked on only by the process holding its lease (store.Store.Claim):
// the driver claims the rows it reads before acting on them, renews its
// process lease (store.Store.Beat), which holds every row it has claimed,
// every Lease/3, and releases rows when they leave (backing off,
// finished). A process killed
// with kill -9 holds its rows for at most one Lease; then any other takes
// them over. A claim bumps the row's Version, so a process that stalled past
// its lease cannot save its stale copy: Version is the fencing token.
//
// The one side effect a fence cannot stop is a backend write already on its
// way when the lease was lost: see reconcile.

// DefaultLease is how long a claimed row stays with its process without a
// renewal.
const DefaultLease = 30 * time.Second

// newOwner names this process in leases: host, pid and a random part (a pid
// is reused after a restart; the random part is not).
func newOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Owner is the name this engine's leases and locks carry.
func (e *Engine) Owner() string { return e.cfg.Owner }

// claim takes the leases on ids and returns the rows taken.
func (e *Engine) claim(ctx context.Context, ids []int64) ([]store.Challenge, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return e.st.Claim(ctx, ids, e.cfg.Owner, e.cfg.Lease) // its error says "<store>: claim N challenges"
}

// release gives up the leases on ids, even when ctx has ended.
func (e *Engine) release(ctx context.Context, ids []int64) {
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if err := e.st.Release(ctx, ids, e.cfg.Owner); err != nil {
		e.log.Warn("releasing leases failed; they expire on their own", "rows", len(ids), "err", err)
	}
}

// claimRows claims rows (by ID) for a one-shot caller (hooks, cleanup) and
// replaces each with its current stored copy. It returns the rows taken and
// an error naming those another process holds.
func (e *Engine) claimRows(ctx context.Context, rows []*store.Challenge) ([]*store.Challenge, error) {
	ids := make([]int64, len(rows))
	for i, c := range rows {
		ids[i] = c.ID
	}
	got, err := e.claim(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]store.Challenge, len(got))
	for _, c := range got {
		byID[c.ID] = c
	}
	// Rows held by a process that is gone are taken over at once (reap).
	var again []int64
	var errs []error
	gone := map[int64]error{}
	reaped := map[string]bool{}
	for _, c := range rows {
		if _, ok := byID[c.ID]; ok {
			continue
		}
		cur, err := e.st.Get(ctx, c.ID)
		if err != nil {
			gone[c.ID] = err
			continue
		}
		if _, tried := reaped[cur.Owner]; !tried {
			reaped[cur.Owner] = e.reap(ctx, cur.Owner)
		}
		if reaped[cur.Owner] {
			again = append(again, c.ID)
		}
	}
	if more, err := e.claim(ctx, again); err == nil {
		for _, c := range more {
			byID[c.ID] = c
		}
	}
	var taken []*store.Challenge
	var busy []string
	for _, c := range rows {
		cur, ok := byID[c.ID]
		if err := gone[c.ID]; err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Record, err))
			continue
		}
		if !ok {
			busy = append(busy, c.Record.String())
			continue
		}
		*c = cur
		taken = append(taken, c)
	}
	if len(busy) > 0 {
		errs = append(errs, fmt.Errorf("%d records are being worked on by another dcvd process (retry when it is done): %v", len(busy), busy))
	}
	return taken, errors.Join(errs...)
}

func rowIDs(rows []*store.Challenge) []int64 {
	out := make([]int64, len(rows))
	for i, c := range rows {
		out[i] = c.ID
	}
	return out
}

// reconcile handles rows whose save after a backend Add conflicted: another
// process changed them meanwhile, which happens when this process lost the
// lease while its write was on its way (a stall, a slow DNS server). If the
// other process has meanwhile given the value up (removing or removed, or
// never wrote it) and no row holds it, the value this write just put back is
// removed again: a value re-added after a removal is found and removed.
func (e *Engine) reconcile(ctx context.Context, b *backend, zone string, wrote, saved []*store.Challenge) {
	ok := make(map[int64]bool, len(saved))
	for _, c := range saved {
		ok[c.ID] = true
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	var orphans []dnspublish.Record
	seen := map[string]bool{}
	for _, c := range wrote {
		if ok[c.ID] || seen[c.Record.Key()] {
			continue
		}
		cur, err := e.st.Get(ctx, c.ID)
		if err != nil {
			e.log.Error("re-reading a row after a conflicting save failed", "id", c.ID, "err", err)
			continue
		}
		if cur.DNS == store.DNSAdding || cur.DNS == store.DNSPresent || cur.DNS == store.DNSForeign {
			continue // the other process holds the value and removes it when done (foreign: never)
		}
		held, err := e.st.Holders(ctx, []string{c.Record.Key()}, nil)
		if err != nil {
			e.log.Error("store holders failed", "err", err)
			continue
		}
		if held[c.Record.Key()] == 0 {
			seen[c.Record.Key()] = true
			orphans = append(orphans, c.Record)
		}
	}
	if len(orphans) == 0 {
		return
	}
	e.log.Warn("a late write re-added values another process had already removed; removing them again",
		"backend", b.pub.Name(), "zone", zone, "records", len(orphans))
	if err := b.limit.Wait(ctx); err != nil {
		return
	}
	if _, err := b.pub.Remove(ctx, zone, orphans); err != nil {
		e.log.Error("removing re-added values failed; `dcvd cleanup` cannot see them, remove by hand",
			"backend", b.pub.Name(), "zone", zone, "records", fmt.Sprint(orphans), "err", err)
	}
}

// Driver side: the rows the driver holds leases on.

// claimFetched claims the fetched rows the driver may work on and returns
// them, current.
func (d *driver) claimFetched(ctx context.Context, ids []int64) []store.Challenge {
	rows, err := d.e.claim(ctx, ids)
	if err != nil {
		if ctx.Err() == nil {
			d.e.log.Error("claiming work failed", "err", err)
			d.storeErr = fmt.Errorf("%w: %w", errStore, err)
		}
		return nil
	}
	for _, c := range rows {
		d.leased[c.ID] = time.Now()
	}
	return rows
}

// letGo queues the lease on id for release (the row left the driver).
func (d *driver) letGo(id int64) {
	if _, held := d.leased[id]; held {
		delete(d.leased, id)
		d.unlease = append(d.unlease, id)
	}
}

// flushRelease releases the queued leases.
func (d *driver) flushRelease(ctx context.Context) {
	if len(d.unlease) > 0 {
		d.e.release(ctx, d.unlease)
		d.unlease = nil
	}
}

// renew extends the leases the driver holds, every Lease/3: the process's
// beat (store.Store.Beat) holds every row it has claimed, so one small
// write renews them all. Only after a beat that had lapsed (a stall past
// the Lease; other processes may have taken rows over meanwhile) are the
// rows renewed one by one, which tells which were lost. A row whose lease
// was lost leaves the driver: its step, if one runs, can no longer save
// (the fence), and the row is not picked up again until it is free.
func (d *driver) renew(ctx context.Context, now time.Time) {
	if now.Sub(d.renewed) < d.e.cfg.Lease/3 {
		return
	}
	d.renewed = now
	d.reapDead(ctx)
	live, err := d.e.beat(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.e.log.Error("renewing this process's lease failed", "rows", len(d.leased), "err", err)
		}
		return
	}
	if live || len(d.leased) == 0 {
		return
	}
	// Rows a step saved within the last Lease/3 had their own lease
	// extended by that save (SaveHeld): only the others are renewed.
	ids := make([]int64, 0, len(d.leased))
	for id, at := range d.leased {
		if now.Sub(at) >= d.e.cfg.Lease/3 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	lost, err := d.e.st.Renew(ctx, ids, d.e.cfg.Owner, d.e.cfg.Lease)
	if err != nil {
		if ctx.Err() == nil {
			d.e.log.Error("renewing leases failed", "rows", len(ids), "err", err)
		}
		return
	}
	for _, id := range ids {
		d.leased[id] = now
	}
	for _, id := range lost {
		d.e.log.Warn("lease lost: another process took the row over", "id", id)
		delete(d.leased, id)
		delete(d.ready, id)
	}
}

// reapDead takes over at once the rows of local dcvd processes that are
// gone (store.Local): their leases would otherwise hold the rows for up to
// one Lease. It runs at the loop's start and with every renewal.
func (d *driver) reapDead(ctx context.Context) {
	if l, ok := d.e.st.(store.Local); !ok || !l.Local() {
		return
	}
	leases, err := d.e.st.Leases(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.e.log.Warn("reading leases failed", "err", err)
		}
		return
	}
	tried := map[string]bool{}
	for _, l := range leases {
		if l.Owner != d.e.cfg.Owner && !tried[l.Owner] {
			tried[l.Owner] = true
			if d.e.reap(ctx, l.Owner) {
				d.fetched = time.Time{} // their rows are due now
			}
		}
	}
}

// renewIn is how long until the next renewal is due.
func (d *driver) renewIn() time.Duration {
	return max(0, d.e.cfg.Lease/3-time.Since(d.renewed))
}

// beat renews this process's lease (store.Store.Beat) and notes when it
// found it lapsed.
func (e *Engine) beat(ctx context.Context) (bool, error) {
	live, err := e.st.Beat(ctx, e.cfg.Owner, e.cfg.Lease)
	if err == nil && !live {
		e.lapsed.Store(time.Now().UnixNano())
	}
	return live, err
}

// releaseAll gives up every lease and ends the beat when the loop ends.
func (d *driver) releaseAll(ctx context.Context) {
	for id := range d.leased {
		d.unlease = append(d.unlease, id)
	}
	d.leased = map[int64]time.Time{}
	d.flushRelease(ctx)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if _, err := d.e.st.Beat(ctx, d.e.cfg.Owner, 0); err != nil {
		d.e.log.Warn("ending this process's lease failed; it ends on its own", "err", err)
	}
}

// discoveryLock is the store lock (and Finish name) of a's discovery.
func discoveryLock(a *account) string { return "discover " + a.name }

// lockDiscovery takes the store lock of a's discovery, so one instance at a
// time asks the CA (several daemons on one PostgreSQL, or a daemon and
// `dcvd run`). ok is false when the discovery is not this process's to do:
// the daemon skips a discovery another process is running (its next tick
// comes); a one-shot run waits for the lock (at most one Lease after its
// holder died) and then discovers, unless the holder completed that
// discovery meanwhile (store.Finish): its rows are in the store, and the run
// works on them. A holder that died never counted,
// so its discovery is repeated. While held, the lock is renewed every
// Lease/3; unlock releases it.
func (e *Engine) lockDiscovery(ctx context.Context, a *account) (unlock func(), ok bool, err error) {
	name := discoveryLock(a)
	var before int64
	for waited := false; ; waited = true {
		ok, err = e.st.Lock(ctx, name, e.cfg.Owner, e.cfg.Lease)
		if err == nil && ok && waited {
			n, ferr := e.st.Finished(ctx, name)
			if ferr == nil && n > before {
				e.log.Info("another dcvd process discovered this account while this run waited; its rows are worked on here", "account", a.name)
				e.releaseDiscovery(ctx, a)
				return nil, false, nil
			}
		}
		if err != nil || ok || e.daemon.Load() {
			break
		}
		if !waited {
			// Read after a refused Lock, so a completion this run
			// counts is one that ended while it waited.
			if before, err = e.st.Finished(ctx, name); err != nil {
				break
			}
			e.log.Info("another dcvd process is discovering this account; waiting for it", "account", a.name)
			e.waitingDiscovery.Add(1)
			defer e.waitingDiscovery.Add(-1)
		}
		t := time.NewTimer(min(e.cfg.Lease/10, 200*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, false, ctx.Err()
		case <-t.C:
		}
	}
	if err != nil || !ok {
		return nil, ok, err
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(e.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if held, err := e.st.Lock(ctx, name, e.cfg.Owner, e.cfg.Lease); err != nil || !held {
					e.log.Warn("discovery lock lost", "account", a.name, "err", err)
				}
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		e.releaseDiscovery(ctx, a)
	}, true, nil
}

// releaseDiscovery unlocks a's discovery lock.
func (e *Engine) releaseDiscovery(ctx context.Context, a *account) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if err := e.st.Unlock(ctx, discoveryLock(a), e.cfg.Owner); err != nil {
		e.log.Warn("releasing the discovery lock failed; it expires on its own", "account", a.name, "err", err)
	}
}

// reap ends the leases of owner when the store is shared by the processes of
// one host only (store.Local) and owner is a process of this host that no
// longer exists: its rows are taken over at once instead of after one Lease.
// It reports whether it did.
func (e *Engine) reap(ctx context.Context, owner string) bool {
	if l, ok := e.st.(store.Local); !ok || !l.Local() || !deadOwner(owner) {
		return false
	}
	if err := e.st.Expire(ctx, owner); err != nil {
		e.log.Warn("expiring a dead process's leases failed", "owner", owner, "err", err)
		return false
	}
	e.log.Info("took over the rows of a dcvd process that is gone", "owner", owner)
	return true
}

// deadOwner reports whether owner (newOwner's host:pid:random) names a
// process of this host that does not exist.
func deadOwner(owner string) bool {
	parts := strings.Split(owner, ":")
	if len(parts) != 3 {
		return false
	}
	host, _ := os.Hostname()
	pid, err := strconv.Atoi(parts[1])
	if parts[0] != host || err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// held renews the leases on rows just before a step's side effect (a DNS
// batch, a CA check) and returns the rows this engine still holds; the
// others were taken over and are left out of the batch (their new owner
// works on them). Renewing gives the batch a full Lease in which no other
// process can claim its rows; the intent save that follows checks the
// fencing token (Version), so a row claimed before the renewal is dropped
// there. Together: a batch only ever holds rows whose lease this engine
// holds, and that nobody else has claimed since this engine read them.
// since is when the rows were last known held (their intent save, the
// previous held): a beat that is live and has not lapsed since renews
// them all; after a lapse, each row is renewed, which tells which were
// taken over.
func (e *Engine) held(ctx context.Context, what string, rows []*store.Challenge, since time.Time) ([]*store.Challenge, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	live, err := e.beat(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: renew this process's lease before %s: %w", errStore, what, err)
	}
	if live && e.lapsed.Load() < since.UnixNano() {
		return rows, nil
	}
	lost, err := e.st.Renew(ctx, rowIDs(rows), e.cfg.Owner, e.cfg.Lease)
	if err != nil {
		return nil, fmt.Errorf("%w: renew leases before %s: %w", errStore, what, err)
	}
	if len(lost) == 0 {
		return rows, nil
	}
	gone := make(map[int64]bool, len(lost))
	for _, id := range lost {
		gone[id] = true
	}
	kept := make([]*store.Challenge, 0, len(rows)-len(lost))
	for _, c := range rows {
		if gone[c.ID] {
			e.log.Warn("lease lost before "+what+": left to the process that took the row over", "id", c.ID, "account", c.Account, "name", c.Name)
			continue
		}
		kept = append(kept, c)
	}
	return kept, nil
}
