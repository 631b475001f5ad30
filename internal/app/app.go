// Package app turns a configuration file into the running parts of dcvd:
// the store, the DNS publishers and their router, the propagation checker,
// the CA providers and the pipeline engine. Every command (daemon, run,
// hooks, status) starts here, so they all read the same config the same way.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/internal/observe"
	"github.com/dcvd/dcvd/internal/ratelimit"
	"github.com/dcvd/dcvd/internal/registry"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/scheduler"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/postgres"
	"github.com/dcvd/dcvd/verify"
)

// App is an opened configuration.
type App struct {
	Config     *config.Config
	Store      store.Store
	Router     *dnspublish.Router
	Publishers []dnspublish.Publisher
	Checker    *verify.Checker
	Providers  []providers.Provider
	Engine     *scheduler.Engine
	Logger     *slog.Logger
	// Metrics holds the Prometheus collectors (/metrics); the engine's
	// observer and every apiclient exchange feed them.
	Metrics *observe.Metrics
	// Recorder writes the audit trail (the engine's observer); callers that
	// check propagation themselves (hooks) report their evidence to it.
	Recorder *observe.Recorder
	// Actor is who this process writes the audit trail as.
	Actor string
}

// Options adjusts Open.
type Options struct {
	// LogOutput receives the logs (default os.Stderr).
	LogOutput io.Writer
	// OnChange is passed to the engine (live progress on a terminal).
	OnChange func(store.Challenge)
	// MinLogLevel raises the config's log_level to at least this level
	// ("warn" for hooks and the live progress line, whose callers show
	// their own output); "debug" in the config is always kept.
	MinLogLevel string
	// Actor names this process in the audit trail: "daemon", "run"
	// (default) or "hook".
	Actor string
}

// LoadConfig reads the config at path ("" → $DCVD_CONFIG → the default)
// with the binary's registry of backends and CAs.
func LoadConfig(path string) (*config.Config, error) {
	return config.Load(config.Resolve(path), registry.Registry())
}

// Open loads the config and builds every part. Nothing talks to a DNS
// server or a CA yet.
func Open(ctx context.Context, path string, opts Options) (*App, error) {
	cfg, err := LoadConfig(path)
	if err != nil {
		return nil, err
	}
	return New(ctx, cfg, opts)
}

// New builds the parts from a loaded config.
func New(ctx context.Context, cfg *config.Config, opts Options) (_ *App, err error) {
	out := opts.LogOutput
	if out == nil {
		out = os.Stderr
	}
	a := &App{Config: cfg, Logger: NewLogger(out, cfg.Daemon.LogFormat, effectiveLevel(cfg.Daemon.LogLevel, opts.MinLogLevel))}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := os.MkdirAll(cfg.Daemon.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state_dir: %w", err)
	}
	st, err := OpenStore(ctx, cfg) // store.go
	if err != nil {
		return nil, err
	}
	a.Store = st

	for _, d := range cfg.DNS {
		p, err := d.Spec.Open(ctx, PublisherBase(d, a.Logger, st), d.Options)
		if err != nil {
			return nil, &config.Error{File: cfg.Path, Line: d.Line, Msg: fmt.Sprintf("[[dns]] %q: %v", d.Name, err)}
		}
		a.Publishers = append(a.Publishers, p)
	}
	if a.Router, err = dnspublish.NewRouter(a.Publishers...); err != nil {
		return nil, &config.Error{File: cfg.Path, Msg: err.Error()}
	}
	if a.Checker, err = verify.New(VerifyOptions(cfg, a.Logger)); err != nil {
		return nil, &config.Error{File: cfg.Path, Msg: "[propagation]: " + err.Error()}
	}
	var accounts []scheduler.Account
	for _, ca := range cfg.CAs {
		base := ProviderBase(ca, a.Logger)
		base.StateDir = cfg.Daemon.StateDir
		if pg, ok := st.(*postgres.Store); ok {
			// Several instances share the database: they share each
			// credential's rate limits too.
			base.Shared = func(key string, limits []providers.RateLimit) apiclient.Waiter {
				return pg.Limiter(key, limits, ratelimit.DefaultMargin)
			}
		}
		p, err := ca.Spec.Open(ctx, base, ca.Options)
		if err != nil {
			return nil, &config.Error{File: cfg.Path, Line: ca.Line, Msg: fmt.Sprintf("[[ca]] %q: %v", ca.Name, err)}
		}
		a.Providers = append(a.Providers, p)
		accounts = append(accounts, scheduler.Account{Provider: p, Schedule: ca.Schedule, Labels: ca.Spec.Labels,
			IssuerDomains: ca.Spec.IssuerDomains})
	}
	a.Actor = opts.Actor
	if a.Actor == "" {
		a.Actor = "run"
	}
	a.Metrics = observe.NewMetrics(st, apiclient.Version())
	if c := scheduler.InventoryCollector(st); c != nil {
		a.Metrics.Registry.MustRegister(c) // domain validation expiry gauges
	}
	apiclient.SetDefaultObserver(a.Metrics.Exchange)
	a.Recorder = observe.NewRecorder(st, a.Actor, a.Metrics, a.Logger)
	a.Engine, err = scheduler.New(scheduler.Config{
		Store:    st,
		Router:   a.Router,
		Checker:  a.Checker,
		Accounts: accounts,
		Workers:  cfg.Daemon.Workers,
		Lease:    cfg.Store.Lease.D(),
		Logger:   a.Logger,
		OnChange: opts.OnChange,
		Observer: a.Recorder,
		// [[persist]] records (scheduler/persist.go)
		Persist:      cfg.Persist,
		PersistEvery: cfg.Daemon.PersistCheck.D(),
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// PublisherBase is what a [[dns]] backend gets besides its own options.
func PublisherBase(d config.DNS, logger *slog.Logger, state dnspublish.RecordStore) dnspublish.Base {
	return dnspublish.Base{Name: d.Name, Zones: d.Zones, Logger: logger.With("dns", d.Name), State: state}
}

// ProviderBase is what a [[ca]] provider gets besides its own options.
func ProviderBase(ca config.CA, logger *slog.Logger) providers.Base {
	return providers.Base{Name: ca.Name, BaseURL: ca.BaseURL, Method: ca.Method, Domains: ca.Domains, Logger: logger.With("ca", ca.Name)}
}

// VerifyOptions maps [propagation] to verify.Options.
func VerifyOptions(cfg *config.Config, logger *slog.Logger) verify.Options {
	p := cfg.Propagation
	o := verify.Options{
		Mode:         p.Mode,
		Wait:         p.Wait.D(),
		Require:      p.Require,
		Quorum:       p.Quorum,
		Timeout:      p.Timeout.D(),
		PollMin:      p.PollMin.D(),
		PollMax:      p.PollMax.D(),
		QueryTimeout: p.QueryTimeout.D(),
		Resolvers:    p.Resolvers,
		Recursive:    p.Recursive,
		Logger:       logger,

		SkipDNSSEC:        p.DNSSEC != nil && !*p.DNSSEC,
		OptionalIPv6:      p.RequireIPv6 != nil && !*p.RequireIPv6,
		PerspectiveQuorum: p.PerspectiveQuorum,
	}
	for _, ps := range p.Perspective {
		o.Perspectives = append(o.Perspectives, verify.Perspective{Name: ps.Name, Addr: ps.Address, URL: ps.URL})
	}
	if len(p.Override) > 0 {
		o.Overrides = map[string][]string{}
		for _, ov := range p.Override {
			o.Overrides[ov.Zone] = ov.Servers
		}
	}
	return o
}

// Servers returns the publishers that serve DNS themselves (the embedded
// backend); the daemon, `dcvd run` and the demo start them.
func (a *App) Servers() []dnspublish.Server {
	var out []dnspublish.Server
	for _, p := range a.Publishers {
		if s, ok := p.(dnspublish.Server); ok {
			out = append(out, s)
		}
	}
	return out
}

// Close releases everything Open acquired.
func (a *App) Close() error {
	var errs []error
	for _, p := range a.Publishers {
		if c, ok := p.(dnspublish.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	if a.Store != nil {
		errs = append(errs, a.Store.Close())
	}
	return errors.Join(errs...)
}

// effectiveLevel is the configured level raised to min, except that an
// explicit "debug" always wins (someone is investigating).
func effectiveLevel(configured, min string) string {
	if min == "" || configured == "debug" {
		return configured
	}
	var c, m slog.Level
	c.UnmarshalText([]byte(strings.ToUpper(configured)))
	m.UnmarshalText([]byte(strings.ToUpper(min)))
	if m > c {
		return min
	}
	return configured
}

// NewLogger builds the slog logger the config asks for.
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	lv.UnmarshalText([]byte(strings.ToUpper(level)))
	o := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}
