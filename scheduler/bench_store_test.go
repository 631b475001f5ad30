package scheduler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/testenv"
	"github.com/dcvd/dcvd/providers/digicert"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/postgres"
	"github.com/dcvd/dcvd/verify"
)

// BenchmarkPipelineStores drives N challenges over Z zones on a local BIND
// through the whole pipeline (as BenchmarkPipeline) with one instance on
// SQLite, one on PostgreSQL, and two instances sharing PostgreSQL (two
// engines with their own store handles in this process: RSS is their sum).
// N and Z come from DCVD_BENCH_N (default 10000) and DCVD_BENCH_ZONES
// (default 1000).
//
//	DCVD_BENCH_N=100000 go test ./scheduler -run '^$' -bench BenchmarkPipelineStores -benchtime 1x -timeout 60m
func BenchmarkPipelineStores(b *testing.B) {
	n, zcount := envInt("DCVD_BENCH_N", 10000), envInt("DCVD_BENCH_ZONES", 1000)
	zones := zoneNames(zcount)
	var bz []testenv.BINDZone
	for _, z := range zones {
		bz = append(bz, testenv.BINDZone{Name: z})
	}
	bind := testenv.StartBIND(b, testenv.BINDOptions{Zones: bz})
	pg := testenv.StartPostgres(b)
	spec := envSpec{BindAddr: bind.Addr, KeyName: bind.Key.Name, KeySecret: bind.Key.Secret, Zones: zones}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, mode := range []string{"sqlite", "postgres", "postgres-x2"} {
		b.Run(fmt.Sprintf("%s/challenges=%d/zones=%d", mode, n, zcount), func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s := spec
				s.DB = filepath.Join(b.TempDir(), "state.db")
				p := newBenchProvider(fmt.Sprintf("%s-%d", mode, i), n, zones, bind.Addr)
				var engines []*Engine
				var st store.Store
				var mu sync.Mutex
				steps := map[string][3]float64{} // calls, rows, busy seconds
				// Every mode runs the engine a daemon runs: default
				// Workers, batches and Lease (the crash tests' 2 s lease
				// would renew every row three times a second).
				build := func(sst store.Store, router *dnspublish.Router, chk *verify.Checker) {
					e, err := New(Config{Store: sst, Router: router, Checker: chk, Logger: quiet,
						Accounts: []Account{{Provider: p, Labels: digicert.Spec().Labels}},
						RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
						PollMin: 20 * time.Millisecond, PollMax: 200 * time.Millisecond, Linger: 2 * time.Second,
						Workers: envInt("DCVD_BENCH_WORKERS", 0)})
					if err != nil {
						b.Fatal(err)
					}
					e.trace = func(what string, rows int, took time.Duration) {
						what, _, _ = strings.Cut(what, " ")
						mu.Lock()
						v := steps[what]
						steps[what] = [3]float64{v[0] + 1, v[1] + float64(rows), v[2] + took.Seconds()}
						mu.Unlock()
					}
					engines, st = append(engines, e), sst
				}
				switch mode {
				case "sqlite":
					build(s.parts(b))
				default:
					dsn := pg.NewDatabase(b)
					k := 1
					if mode == "postgres-x2" {
						k = 2
					}
					for j := 0; j < k; j++ {
						pst, err := postgres.Open(context.Background(), dsn)
						if err != nil {
							b.Fatal(err)
						}
						b.Cleanup(func() { pst.Close() })
						_, router, chk := s.parts(b)
						build(pst, router, chk)
					}
				}
				resetPeakRSS()
				stopHeap := heapAtPeak(os.Getenv("DCVD_BENCH_HEAP"))
				b.StartTimer()
				start := time.Now()
				var wg sync.WaitGroup
				errs := make([]error, len(engines))
				for j, e := range engines {
					wg.Add(1)
					go func() { defer wg.Done(); _, errs[j] = e.RunOnce(context.Background()) }()
				}
				wg.Wait()
				total += time.Since(start)
				b.StopTimer()
				stopHeap()
				for k, v := range steps {
					b.Logf("step %-8s calls %6.0f rows %7.0f busy %7.2fs", k, v[0], v[1], v[2])
				}
				counts, err := st.Counts(context.Background())
				if err != nil || counts[store.Cleaned] != n {
					b.Fatalf("run: %v, %v, %v", counts, err, errs)
				}
				b.StartTimer()
			}
			b.ReportMetric(total.Seconds()/float64(b.N), "s/run")
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "challenges/s")
			b.ReportMetric(peakRSS()/(1<<20), "peak-RSS-MB")
		})
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// resetPeakRSS starts a new VmHWM for this process (Linux: writing 5 to
// clear_refs), so each mode reports its own peak, not an earlier mode's.
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// heapAtPeak writes a heap profile to path (when set) each time the live
// heap grows past its previous high, every 500 ms: the profile left is the
// one of the peak. The returned func stops it.
func heapAtPeak(path string) func() {
	if path == "" {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var high uint64
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > high {
				high = ms.HeapAlloc
				if f, err := os.Create(path); err == nil {
					pprof.WriteHeapProfile(f)
					f.Close()
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
