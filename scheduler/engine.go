package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/ratelimit"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/store"
)

// Engine drives challenges through the pipeline. It is safe for concurrent
// use; RunOnce and Run should not run at the same time on one Engine (two
// processes sharing a store may, their saves never overwrite each other).
type Engine struct {
	cfg      Config
	log      *slog.Logger
	st       store.Store
	router   *dnspublish.Router
	vf       verifier
	accounts map[string]*account
	order    []*account
	backends map[string]*backend
	trace    func(step string, rows int, took time.Duration) // tests and benchmarks
	fault    func(point string)                              // fault-injection tests: called at each faultPoint
	changeMu sync.Mutex                                      // OnChange calls are serialized
	daemon   atomic.Bool                                     // Run: skip a discovery another process runs (leases.go)
	// waitingDiscovery counts one-shot discoveries waiting for another
	// process's (leases.go; tests).
	waitingDiscovery atomic.Int32
	// lapsed is when (UnixNano) a Beat last found this process's lease
	// had lapsed (leases.go).
	lapsed atomic.Int64
}

type account struct {
	Account
	name  string
	rules labelRules // documented owner labels
	mu    sync.Mutex // one discovery at a time
}

type backend struct {
	pub   dnspublish.Publisher
	limit *ratelimit.Limiter // nil: unlimited
}

// New validates cfg and builds an Engine. It does no I/O.
func New(cfg Config) (*Engine, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:      cfg,
		log:      cfg.Logger,
		st:       cfg.Store,
		router:   cfg.Router,
		accounts: map[string]*account{},
		backends: map[string]*backend{},
	}
	if cfg.Checker != nil {
		cv := checkerVerifier{c: cfg.Checker, issuers: map[string][]string{}, log: cfg.Logger}
		for _, a := range cfg.Accounts {
			cv.issuers[a.Provider.Name()] = a.IssuerDomains
		}
		e.vf = cv
	}
	for _, a := range cfg.Accounts {
		acc := &account{Account: a, name: a.Provider.Name()}
		rules, err := compileLabels(a.Labels)
		if err != nil {
			return nil, fmt.Errorf("scheduler: account %q: %w", acc.name, err)
		}
		acc.rules = rules
		e.accounts[acc.name] = acc
		e.order = append(e.order, acc)
	}
	for _, p := range cfg.Router.Publishers() {
		e.backends[p.Name()] = &backend{pub: p, limit: backendLimiter(cfg.BackendRate)}
	}
	return e, nil
}

// Discover runs one discovery pass over every account and stores the new
// challenges. It returns the joined errors of the accounts that failed; the
// others are stored regardless.
func (e *Engine) Discover(ctx context.Context) error {
	var errs []error
	for _, a := range e.order {
		if _, _, err := e.discover(ctx, a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// discover asks one account for its challenges and inserts the unknown ones.
// It returns how many were new and the challenges refused by checkChallenge
// (stored as failed rows when new).
func (e *Engine) discover(ctx context.Context, a *account) (int, []store.Challenge, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	unlock, ok, err := e.lockDiscovery(ctx, a)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: discover: lock: %w", a.name, err)
	}
	if !ok {
		if e.daemon.Load() {
			e.log.Info("discovery is running in another dcvd process; skipped", "account", a.name)
		}
		return 0, nil, nil
	}
	defer unlock()
	var (
		found, n int
		refused  []store.Challenge
	)
	// A streaming provider hands over an order (or page) at a time; they
	// are stored discoverBatch challenges per transaction (and what is
	// pending when the discovery ends, however it ends), so the pipeline
	// starts on the first batch while the rest is still being read, and a
	// discovery cut short keeps what it found.
	var pending []providers.Challenge
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		// What was found is stored even when the run is ending.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
		defer cancel()
		k, r, err := e.storeDiscovered(sctx, a, pending)
		found, n, refused = found+len(pending), n+k, append(refused, r...)
		pending = pending[:0]
		return err
	}
	keep := func(chs []providers.Challenge) error {
		pending = append(pending, chs...)
		if len(pending) < discoverBatch {
			return nil
		}
		return flush()
	}
	actx := WithAccount(ctx, a.name)
	if s, ok := a.Provider.(providers.Streamer); ok {
		err = s.DiscoverEach(actx, keep)
	} else {
		var chs []providers.Challenge
		if chs, err = a.Provider.Discover(actx); err == nil {
			err = keep(chs)
		}
	}
	if ferr := flush(); err == nil {
		err = ferr
	}
	if err != nil {
		e.log.Error("discovery failed", "account", a.name, "err", err, "stored", n)
		return n, refused, fmt.Errorf("%s: discover: %w", a.name, err)
	}
	e.log.Info("discovered", "account", a.name, "found", found, "new", n, "refused", len(refused))
	e.refreshInventory(ctx, a) // inventory.go
	// Counted only now: a process that waited for this discovery takes it
	// as its own (lockDiscovery).
	if err := e.st.Finish(ctx, discoveryLock(a)); err != nil {
		e.log.Warn("recording the completed discovery failed; a run waiting for it discovers again", "account", a.name, "err", err)
	}
	return n, refused, nil
}

// discoverBatch is how many discovered challenges are stored per
// transaction.
const discoverBatch = 1000

// storeDiscovered checks and stores one batch of an account's challenges
// (the unknown ones become rows). It returns how many were new and the
// refused ones.
func (e *Engine) storeDiscovered(ctx context.Context, a *account, chs []providers.Challenge) (int, []store.Challenge, error) {
	var refused []store.Challenge
	rows := make([]store.Challenge, 0, len(chs))
	for _, ch := range chs {
		c := rowFor(a.name, ch)
		if err := checkChallenge(ch, a.rules); err != nil && c.State == store.Discovered {
			// Stored as failed so `dcvd status` shows why; never written.
			c.State, c.Reason = store.Failed, err.Error()
			e.log.Warn("challenge refused", "account", a.name, "order", ch.Order, "name", ch.Name, "reason", err)
			refused = append(refused, c)
		}
		rows = append(rows, e.delegated(ctx, c))
	}
	if len(rows) == 0 {
		return 0, refused, nil
	}
	n, err := e.st.Discover(ctx, rows)
	e.faultAt(faultDiscovered)
	if err != nil {
		return 0, refused, fmt.Errorf("%w: store discovered challenges: %w", errStore, err)
	}
	if hook, ok := ctx.Value(storedHookKey{}).(func()); ok && n > 0 {
		hook()
	}
	return n, refused, nil
}

type storedHookKey struct{}

// withStoredHook returns ctx carrying fn, called after each batch of new
// discovered rows is stored (RunOnce wakes its pipeline with it).
func withStoredHook(ctx context.Context, fn func()) context.Context {
	return context.WithValue(ctx, storedHookKey{}, fn)
}

// EffectiveRecord moves a TXT record whose name lies outside every
// configured zone to the end of its CNAME chain when that lies inside one: a
// one-time delegation such as `_acme-challenge.example.com CNAME
// example.com.dcv.example.net` into a zone the embedded server (or an RFC
// 2136 server) answers for. ok is false, and rec unchanged, when the name is
// routable as it is or the chain leads nowhere dcvd may write; the router
// then refuses it with its usual error.
func (e *Engine) EffectiveRecord(ctx context.Context, rec dnspublish.Record) (_ dnspublish.Record, ok bool) {
	if rec.Type != dnspublish.TXT || e.cfg.Checker == nil {
		return rec, false
	}
	if _, _, err := e.router.Route(rec.FQDN); err == nil {
		return rec, false
	}
	target, err := e.cfg.Checker.Target(ctx, rec.FQDN)
	if err != nil || target == rec.FQDN {
		return rec, false
	}
	if _, _, err := e.router.Route(target); err != nil {
		return rec, false
	}
	e.log.Info("record follows its CNAME into a configured zone", "name", rec.FQDN, "target", target)
	rec.FQDN = target
	return rec, true
}

// delegated applies EffectiveRecord to a freshly discovered row. The row's
// Key stays the CA's.
func (e *Engine) delegated(ctx context.Context, c store.Challenge) store.Challenge {
	if c.State == store.Discovered {
		c.Record, _ = e.EffectiveRecord(ctx, c.Record)
	}
	return c
}

// rowFor turns a provider's challenge into a new row. A record that can never
// be published becomes a failed row, so the user sees why.
func rowFor(acct string, ch providers.Challenge) store.Challenge {
	c := store.Challenge{Account: acct, Order: ch.Order, Name: ch.Name, Expires: ch.Expires, Ref: ch.Ref, CAANames: ch.CAANames, State: store.Discovered}
	rec, err := ch.Record.Normalize()
	if err != nil {
		c.State, c.Reason = store.Failed, err.Error()
		rec = ch.Record
	}
	ch.Record = rec
	c.Record = rec
	c.Key = ch.Key()
	return c
}

// backendFor returns the backend a row's record goes to: the one stored with
// its add intent, or else the router's choice.
func (e *Engine) backendFor(c *store.Challenge) (*backend, string, error) {
	if c.Backend != "" {
		b, ok := e.backends[c.Backend]
		if !ok {
			return nil, "", fmt.Errorf("DNS backend %q that holds %s is no longer configured; remove the record by hand", c.Backend, c.Record)
		}
		return b, c.Zone, nil
	}
	pub, zone, err := e.router.Route(c.Record.FQDN)
	if err != nil {
		return nil, "", err
	}
	return e.backends[pub.Name()], zone, nil
}

// managed reports whether this engine drives the row: its account is
// configured here, or it is finished and only its record is left to remove
// (whoever created it). Live hook rows belong to their hook.
func (e *Engine) managed(c *store.Challenge) bool {
	if _, ok := e.accounts[c.Account]; ok {
		return true
	}
	return c.State.Terminal() && c.DNS.Owned()
}

// needsWork reports whether a row has a step left to run.
func needsWork(c *store.Challenge) bool {
	switch c.State {
	case store.Discovered, store.Published, store.Visible, store.Triggering, store.Submitted, store.Validated:
		return true
	}
	return c.DNS.Owned()
}
