package main

import (
	"strings"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/testenv"
)

// BenchmarkCALimits: one `dcvd run` on 200 pending DigiCert orders over 20
// zones on BIND, against the simulator enforcing DigiCert's documented
// limits (100 requests / 5 s and 1000 / 3 min per key), with the account on
// its default limits. Reported: wall time, CA calls, 429 answers, calls per
// validated order, and the floor the documented windows allow for that
// many calls ((ceil(calls/100) − 1) × 5 s). Every order must be issued and
// no record left.
//
//	scripts/bench-ca-limits.sh   (go test ./cmd/dcvd -run '^$' -bench BenchmarkCALimits -benchtime 1x)
func BenchmarkCALimits(b *testing.B) {
	zones := zoneNames(20)
	var bz []testenv.BINDZone
	for _, z := range zones {
		bz = append(bz, testenv.BINDZone{Name: z})
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		w := startWorldLimits(b, zones, bz, true)
		seedOrders(w.sim, zones, 200)
		cfg := w.config(b, "test-key", "")
		// The account on DigiCert's documented limits (the default), not
		// the test worlds' unlimited override.
		text := readFile(b, cfg)
		text = strings.Replace(text, "rate_limits = [{n = 100000, window = \"1s\"}]\n", "", 1)
		if err := writeFile(cfg, text); err != nil {
			b.Fatal(err)
		}
		ctx := deadlineCtx(b, 5*time.Minute)
		b.StartTimer()
		start := time.Now()
		r := runDcvd(b, ctx, nil, "run", "--config", cfg, "--timeout", "4m")
		took := time.Since(start)
		b.StopTimer()
		if r.code != 0 {
			b.Fatalf("run exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		issued, total := w.allIssued(b)
		if issued != 200 || total != 200 {
			b.Fatalf("issued %d of %d orders", issued, total)
		}
		if l := w.leftovers(b); len(l) > 0 {
			b.Fatalf("records left in zones:\n%s", strings.Join(l, "\n"))
		}
		calls := w.sim.Requests("test-key", "")
		floor := time.Duration((calls+99)/100-1) * 5 * time.Second
		b.ReportMetric(took.Seconds(), "s/run")
		b.ReportMetric(float64(calls), "CA-calls")
		b.ReportMetric(float64(w.sim.Rejected("test-key")), "429s")
		b.ReportMetric(float64(calls)/float64(issued), "calls/order")
		b.ReportMetric(floor.Seconds(), "floor-s")
		b.Logf("wall %s, %d CA calls (%.2f per order), %d × 429, floor %s; max %d in 5s, %d in 3min",
			took.Round(10*time.Millisecond), calls, float64(calls)/float64(issued), w.sim.Rejected("test-key"), floor,
			w.sim.MaxInWindow("test-key", 5*time.Second), w.sim.MaxInWindow("test-key", 3*time.Minute))
	}
}
