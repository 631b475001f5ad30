package scheduler

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvd/dcvd/providers"
	sim "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store"
)

// lostSubmit fails its first n Submits before they reach the CA, the way a
// connection reset leaves a client not knowing whether the CA acted.
type lostSubmit struct {
	providers.Provider
	n atomic.Int32
}

func (p *lostSubmit) Submit(ctx context.Context, order string, chs []providers.Challenge) ([]providers.Outcome, error) {
	if p.n.Add(-1) >= 0 {
		return nil, errors.New("PUT check-dcv: connection reset by peer (injected before the request left)")
	}
	return p.Provider.Submit(ctx, order, chs)
}

// A check in doubt that the CA never received: confirm reads the order's
// validation (not validated), counts the attempt as spent, and the next
// attempt, after the backoff, is the order's one check-dcv. No check is
// sent twice, and the row's history says what happened.
func TestCheckInDoubtNotValidated(t *testing.T) {
	e := newFaultEnv(t, sim.Options{NoLimits: true})
	ids := faultOrders(e)
	p := &lostSubmit{Provider: e.provider(t, "dns-txt")}
	p.n.Store(1)
	eng, st := e.engine(t, testLogger(t), p)
	eng.cfg.SubmitBatch = 1 // the lost check is one order's
	var mu sync.Mutex
	history := map[int64][]string{}
	second := 0 // checks of attempt 2
	eng.cfg.OnChange = func(c store.Challenge) {
		mu.Lock()
		defer mu.Unlock()
		if c.State == store.Triggering && strings.Contains(c.Reason, "(attempt 2)") {
			second++
		}
		h := history[c.ID]
		if len(h) == 0 || h[len(h)-1] != string(c.State) {
			history[c.ID] = append(h, string(c.State))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := eng.RunOnce(ctx)
	if err != nil || sum.ExitCode() != 0 {
		t.Fatalf("run: %s, %v; failed %+v pending %+v", sum, err, sum.Failed, sum.Pending)
	}
	wantIssued(t, e.sim, ids)
	if n := e.sim.Requests("good-key", "PUT /order/certificate/{id}/check-dcv"); n != len(ids) {
		t.Errorf("%d check-dcv for %d orders", n, len(ids))
	}
	for _, d := range e.sim.DuplicateDCVChecks() {
		t.Errorf("duplicate check-dcv of order %d: %s", d.Order, d.Duplicate)
	}
	spent := 0
	for id, h := range history {
		if got := strings.Join(h, " "); strings.Contains(got, "triggering visible triggering validated") {
			spent++
		} else if !strings.Contains(got, "visible triggering validated") {
			t.Errorf("row %d went %s", id, got)
		}
	}
	if spent == 0 || second != spent {
		t.Errorf("%d rows went back to visible after their check in doubt, %d checks of attempt 2: %v", spent, second, history)
	}
	rows, _ := st.List(ctx, store.Filter{})
	for _, c := range rows {
		if c.State != store.Cleaned {
			t.Errorf("row %d %s: %s (%s)", c.ID, c.Name, c.State, c.Reason)
		}
	}
}
