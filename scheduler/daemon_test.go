package scheduler

import (
	"context"
	"testing"
	"time"

	sim "github.com/dcvd/dcvd/sandbox/digicert"
)

// The daemon discovers at start and on its cron schedule, and drives new
// orders to the end without being restarted.
func TestRunDaemonDiscoversOnSchedule(t *testing.T) {
	e := newEnv(t, zoneNames(3), sim.Options{NoLimits: true})
	first := addOrders(e.sim, e.Zones[:1], "dns-txt-token")
	eng, _ := e.engine(t, testLogger(t), e.provider(t, "dns-txt"))
	eng.accounts["digicert"].Schedule = "@every 1s"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()

	waitIssued := func(ids []int, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			all := true
			for _, id := range ids {
				if o, _ := e.sim.Order(id); o.Status != "issued" {
					all = false
				}
			}
			if all && len(e.dcvRecords(t)) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("orders %v not issued and cleaned within %s; records %v", ids, within, e.dcvRecords(t))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitIssued(first, 10*time.Second) // discovery at start
	later := addOrders(e.sim, e.Zones[1:], "dns-txt-token")
	waitIssued(later, 10*time.Second) // discovery by the schedule
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
