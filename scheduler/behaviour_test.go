package scheduler

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dcvd/dcvd/providers"
	sim "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store"
)

// notVisibleFirst wraps a real provider: its first n submits of every order
// answer NotVisible (as DigiCert does while its resolvers still cache the
// absence), then it passes through. It records when each submit came.
type notVisibleFirst struct {
	providers.Provider
	n     int
	mu    sync.Mutex
	calls map[string][]time.Time
}

func (p *notVisibleFirst) Submit(ctx context.Context, order string, chs []providers.Challenge) ([]providers.Outcome, error) {
	p.mu.Lock()
	p.calls[order] = append(p.calls[order], time.Now())
	k := len(p.calls[order])
	p.mu.Unlock()
	if k <= p.n {
		out := make([]providers.Outcome, len(chs))
		for i := range out {
			out[i] = providers.Outcome{Status: providers.NotVisible, Reason: "invalid_dns_txt"}
		}
		return out, nil
	}
	return p.Provider.Submit(ctx, order, chs)
}

// The CA's "not visible yet" keeps the record and retries the submit with
// growing, jittered delays; then the order validates and the record goes.
func TestNotVisibleRetriesWithBackoff(t *testing.T) {
	e := newEnv(t, zoneNames(2), sim.Options{NoLimits: true})
	ids := addOrders(e.sim, e.Zones, "dns-txt-token")
	p := &notVisibleFirst{Provider: e.provider(t, "dns-txt"), n: 3, calls: map[string][]time.Time{}}
	eng, st := e.engine(t, testLogger(t), p)
	eng.cfg.RetryMin, eng.cfg.RetryMax = 40*time.Millisecond, time.Second

	// Watch the rows while they are told "not visible": the record must be
	// in the zone and the row must carry the CA's reason.
	var sawRetry bool
	eng.cfg.OnChange = func(c store.Challenge) {
		if c.State == store.Visible && c.Attempts > 0 {
			sawRetry = true
			if c.DNS != store.DNSPresent || !contains(c.Reason, "not visible") || !c.NextAt.After(c.Updated) {
				t.Errorf("row during not-visible retry: dns=%s reason=%q next=%s", c.DNS, c.Reason, c.NextAt)
			}
		}
	}
	sum, err := eng.RunOnce(context.Background())
	if err != nil || sum.ExitCode() != 0 {
		t.Fatalf("summary %s, %v; pending %+v", sum, err, sum.Pending)
	}
	if !sawRetry {
		t.Fatal("no not-visible retry was recorded")
	}
	wantIssued(t, e.sim, ids)
	for order, ts := range p.calls {
		if len(ts) != p.n+1 {
			t.Fatalf("order %s submitted %d times, want %d", order, len(ts), p.n+1)
		}
		// Attempt k waits at least half of RetryMin·2^(k-1) (jitter floor).
		for k := 1; k < len(ts); k++ {
			floor := (40 * time.Millisecond << (k - 1)) / 2
			if gap := ts[k].Sub(ts[k-1]); gap < floor {
				t.Errorf("order %s: submit %d came %s after the previous, want ≥ %s", order, k+1, gap, floor)
			}
		}
	}
	if left := e.dcvRecords(t); len(left) != 0 {
		t.Fatalf("records left: %v", left)
	}
	rows, _ := st.List(context.Background(), store.Filter{})
	for _, c := range rows {
		if c.State != store.Cleaned || c.Attempts != 0 || c.Reason != "" {
			t.Errorf("row %d: %s attempts=%d reason=%q", c.ID, c.State, c.Attempts, c.Reason)
		}
	}
}

// A CA that keeps answering "not visible" makes the row fail after
// MaxAttempts, with the CA's words as the reason, and the record is removed.
func TestNotVisibleGivesUpAfterMaxAttempts(t *testing.T) {
	e := newEnv(t, zoneNames(1), sim.Options{NoLimits: true})
	addOrders(e.sim, e.Zones, "dns-txt-token")
	p := &notVisibleFirst{Provider: e.provider(t, "dns-txt"), n: 1000, calls: map[string][]time.Time{}}
	eng, _ := e.engine(t, testLogger(t), p)
	eng.cfg.MaxAttempts = 3
	sum, err := eng.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Failed) != 1 || sum.ExitCode() != 1 {
		t.Fatalf("summary %s; failed %+v", sum, sum.Failed)
	}
	if f := sum.Failed[0]; !contains(f.Reason, "invalid_dns_txt") || f.DNS != store.DNSRemoved {
		t.Fatalf("failed row: reason %q dns %s", f.Reason, f.DNS)
	}
	for _, ts := range p.calls {
		if len(ts) != 3 {
			t.Fatalf("%d submits, want 3", len(ts))
		}
	}
	if left := e.dcvRecords(t); len(left) != 0 {
		t.Fatalf("records left: %v", left)
	}
}

func TestSummaryExitCodes(t *testing.T) {
	row := func(st store.State, dns store.DNSState, attempts int) store.Challenge {
		return store.Challenge{State: st, DNS: dns, Attempts: attempts}
	}
	cases := []struct {
		rows []store.Challenge
		errs []string
		want int
	}{
		{nil, nil, 0},
		{[]store.Challenge{row(store.Cleaned, store.DNSRemoved, 0)}, nil, 0},
		{[]store.Challenge{row(store.Cleaned, store.DNSRemoved, 0), row(store.Submitted, store.DNSPresent, 2)}, nil, 3},
		{[]store.Challenge{row(store.Visible, store.DNSPresent, 1)}, nil, 3},
		{[]store.Challenge{row(store.Published, store.DNSPresent, 1)}, nil, 1},
		{[]store.Challenge{row(store.Failed, store.DNSNone, 0)}, nil, 1},
		{[]store.Challenge{row(store.Validated, store.DNSRemoving, 1)}, nil, 1},
		{nil, []string{"digicert: discover: 401"}, 1},
	}
	for i, c := range cases {
		s := summarize(c.rows, c.errs)
		if got := s.ExitCode(); got != c.want {
			t.Errorf("case %d (%s): exit %d, want %d", i, s, got, c.want)
		}
	}
}
