package scheduler

import (
	"testing"
	"time"

	"github.com/dcvd/dcvd/store"
)

// TestHoldScalesWithPeers: a DNS step's rows are held back up to holdFor
// for a larger batch, and (n+1) times as long while n other processes work
// on the same accounts (each then sees about 1/(n+1) of the rows).
func TestHoldScalesWithPeers(t *testing.T) {
	for _, peers := range []int{0, 1, 3} {
		d := &driver{held: map[int64]time.Time{}, ready: map[int64]*store.Challenge{}, peers: peers}
		d.running = 1 // another step runs: holding is worth it
		rows := []*store.Challenge{{ID: 1}, {ID: 2}}
		t0 := time.Now()
		limit := holdFor * time.Duration(1+peers)
		if !d.hold(rows, t0) {
			t.Fatalf("peers %d: rows not held at first", peers)
		}
		if !d.hold(rows, t0.Add(limit-time.Millisecond)) {
			t.Fatalf("peers %d: rows let go before %s", peers, limit)
		}
		if d.hold(rows, t0.Add(limit)) {
			t.Fatalf("peers %d: rows still held after %s", peers, limit)
		}
		if len(d.held) != 0 {
			t.Fatalf("peers %d: %d rows left marked held", peers, len(d.held))
		}
	}
}
