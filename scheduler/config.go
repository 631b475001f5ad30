package scheduler

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/persist"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/verify"
)

// DefaultSchedule is the discovery schedule of an account without one:
// every five minutes.
const DefaultSchedule = "*/5 * * * *"

// Account is one CA account the engine discovers and submits for.
type Account struct {
	Provider providers.Provider
	// Schedule is a standard 5-field cron spec (or a descriptor such as
	// "@every 1m"); "" means DefaultSchedule.
	Schedule string
	// Labels are the owner labels the CA documents beneath a validated
	// name (providers.Spec.Labels; nil: providers.DefaultLabels). A
	// challenge whose record lies anywhere else is refused.
	Labels []string
	// IssuerDomains (providers.Spec.IssuerDomains): when set, a visible
	// row's name is checked against its CAA records before the CA is
	// asked; a CAA that forbids the CA fails the row (record removed).
	IssuerDomains []string
}

// Config configures an Engine. Store, Router and Checker are required.
type Config struct {
	Store    store.Store
	Router   *dnspublish.Router
	Checker  *verify.Checker
	Accounts []Account

	// Workers bounds the steps running at once (default 2×GOMAXPROCS, at
	// least 4).
	Workers int
	// BackendRate is the maximum of write calls (Add/Remove) per second per
	// DNS backend; 0 is unlimited.
	BackendRate float64

	// MaxAttempts is how many times a publish, verify or submit step may fail
	// before the row fails (default 20; with the default backoff that is
	// about an hour). Removal is retried forever.
	MaxAttempts int
	// RetryMin and RetryMax bound the exponential backoff after an error
	// (defaults 1s and 5m); the actual delay is jittered in [d/2, d].
	RetryMin, RetryMax time.Duration
	// PollMin and PollMax bound the backoff between polls of a challenge the
	// CA has not decided on yet (defaults 1s and 5m).
	PollMin, PollMax time.Duration
	// Linger is how far ahead RunOnce waits: it returns once no row can move
	// within Linger (default 10s). Rows waiting longer stay in the store for
	// the next run or the daemon.
	Linger time.Duration
	// VerifyBatch is the most rows checked by one WaitAll (default 1000);
	// SubmitBatch the most orders one worker submits in a row before saving
	// (default 64).
	VerifyBatch, SubmitBatch int
	// WorkLimit is the most rows read from the store at once (default 50000).
	WorkLimit int
	// ClaimWindow is the most rows this process holds leases on at once
	// (default 20000): enough to fill every step's batches (a step over
	// 1,000 zones writes each zone once, so its rows per zone are what
	// makes an update worth its round trips), few enough that
	// renewing them stays cheap, the rows in flight fit in memory whatever
	// the table's size, and other instances find unclaimed work.
	ClaimWindow int
	// Fetch is how often the engine re-reads the store for new or backed-off
	// rows while busy (default 1s).
	Fetch time.Duration

	// Owner names this process in the store's leases and locks (default:
	// host:pid:random). Lease is how long a claimed row stays with it
	// without a renewal (default DefaultLease): after a crash, its rows are
	// taken over by another process within one Lease.
	Owner string
	Lease time.Duration

	// Logger receives one line per state change (default: discard).
	Logger *slog.Logger
	// OnChange, if set, is called after every saved state change (for a live
	// progress line), one call at a time. It must not block.
	OnChange func(store.Challenge)
	// Persist are the persistent DCV records to keep (persist.go);
	// PersistEvery is how often the daemon checks them (default 5m).
	Persist      []persist.Entry
	PersistEvery time.Duration

	// Observer, if set, is told about every side effect and state change
	// (audit trail, metrics; see observe.go).
	Observer Observer
}

func (c *Config) defaults() error {
	if c.Store == nil {
		return errors.New("scheduler: no store")
	}
	if c.Router == nil {
		return errors.New("scheduler: no DNS router")
	}
	if c.Checker == nil {
		return errors.New("scheduler: no propagation checker")
	}
	if c.Workers <= 0 {
		c.Workers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 20
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	setDur(&c.RetryMin, time.Second)
	setDur(&c.RetryMax, 5*time.Minute)
	setDur(&c.PollMin, time.Second)
	setDur(&c.PollMax, 5*time.Minute)
	setDur(&c.Linger, 10*time.Second)
	setDur(&c.Fetch, time.Second)
	setDur(&c.PersistEvery, 5*time.Minute)
	setDur(&c.Lease, DefaultLease)
	if c.Owner == "" {
		c.Owner = newOwner()
	}
	if c.VerifyBatch <= 0 {
		c.VerifyBatch = 1000
	}
	if c.SubmitBatch <= 0 {
		c.SubmitBatch = 64
	}
	if c.WorkLimit <= 0 {
		c.WorkLimit = 50000
	}
	if c.ClaimWindow <= 0 {
		c.ClaimWindow = 20000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	seen := map[string]bool{}
	for i, a := range c.Accounts {
		if a.Provider == nil {
			return fmt.Errorf("scheduler: account %d has no provider", i)
		}
		name := a.Provider.Name()
		if seen[name] {
			return fmt.Errorf("scheduler: account %q configured twice", name)
		}
		seen[name] = true
		if a.Schedule == "" {
			c.Accounts[i].Schedule = DefaultSchedule
		}
		if _, err := cron.ParseStandard(c.Accounts[i].Schedule); err != nil {
			return fmt.Errorf("scheduler: account %q: schedule %q: %w", name, c.Accounts[i].Schedule, err)
		}
	}
	return nil
}
