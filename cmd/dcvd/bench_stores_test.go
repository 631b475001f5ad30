package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/testenv"
	sandbox "github.com/dcvd/dcvd/sandbox/digicert"
)

// BenchmarkStoresProcesses: N challenges (DCVD_BENCH_N, default 10000) over
// Z zones (DCVD_BENCH_ZONES, default 1000) on one BIND, as N/10 DigiCert
// simulator orders of ten names in ten zones, validated by real `dcvd run`
// processes: one on SQLite, one on PostgreSQL, and two at once sharing one
// PostgreSQL database (DCVD_BENCH_MODES picks among sqlite, postgres,
// postgres-x2). Each process is timed and its peak RSS read from its own
// VmHWM while it runs (watchPeakRSS); CPU is user+system of the process
// (wait4's rusage). Every order must end issued and no value may be left
// in any zone. The simulator runs in this process
// (its CPU is not the instances'). DCVD_BENCH_LOG=dir keeps each
// instance's log there, at log_level debug (every step, every row's transitions).
//
//	scripts/bench-stores.sh   (DCVD_BENCH_N=100000 for the large run)
func BenchmarkStoresProcesses(b *testing.B) {
	n, zc := benchEnvInt("DCVD_BENCH_N", 10000), benchEnvInt("DCVD_BENCH_ZONES", 1000)
	modes := []string{"sqlite", "postgres", "postgres-x2"}
	if m := os.Getenv("DCVD_BENCH_MODES"); m != "" {
		modes = strings.Split(m, ",")
	}
	zones := make([]string, zc)
	bz := make([]testenv.BINDZone, zc)
	for i := range zones {
		zones[i] = fmt.Sprintf("z%04d.test", i)
		bz[i] = testenv.BINDZone{Name: zones[i]}
	}
	// The resolver dcvd checks CAA with is this BIND: with the parent zone
	// it answers the whole CAA climb (name, zone, test.) as a resolver
	// would, instead of refusing the last step on every name. Its zone
	// files and journals are on tmpfs: BIND fsyncs a journal per UPDATE,
	// which on this VM's disk bounded it to ~200 updates a second, and the
	// figures are meant to be dcvd's.
	w := startWorldBIND(b, zones, testenv.BINDOptions{Zones: append(bz, testenv.BINDZone{Name: "test"}), InMemory: true}, false)
	var pg *testenv.Postgres
	for _, mode := range modes {
		k := 1
		if mode == "postgres-x2" {
			k = 2
		}
		if mode != "sqlite" && pg == nil {
			pg = testenv.StartPostgres(b)
		}
		b.Run(fmt.Sprintf("%s/challenges=%d/zones=%d", mode, n, zc), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				// Each mode meets a CA holding only its own orders and
				// domains: the inventory every discovery reads grows with
				// the simulator's domains, and an earlier mode's would be
				// read again.
				w.freshSim(b, false)
				prefix := fmt.Sprintf("%s-%d", strings.ReplaceAll(mode, "-", ""), i)
				for o := 0; o < n/10; o++ {
					spec := sandbox.OrderSpec{}
					for j := 0; j < 10; j++ {
						name := fmt.Sprintf("%s-o%d.%s", prefix, o, zones[(o*10+j)%zc])
						if j == 0 {
							spec.CommonName = name
						} else {
							spec.DNSNames = append(spec.DNSNames, name)
						}
					}
					w.sim.AddOrder(spec)
				}
				w.dir = b.TempDir()
				extra := ""
				if mode != "sqlite" {
					extra = fmt.Sprintf("\n[store]\ntype = \"postgres\"\ndsn = %q\n", pg.NewDatabase(b))
				}
				cfg := w.config(b, "test-key", extra)
				// The daemon's default workers, not the test worlds' 8.
				text := strings.Replace(readFile(b, cfg), "workers = 8\n", "", 1)
				if os.Getenv("DCVD_BENCH_LOG") != "" {
					text = strings.Replace(text, `log_level = "warn"`, `log_level = "debug"`, 1)
				}
				if err := writeFile(cfg, text); err != nil {
					b.Fatal(err)
				}
				procs := make([]*exec.Cmd, k)
				errs := make([]bytes.Buffer, k)
				ends := make([]time.Time, k)
				b.StartTimer()
				start := time.Now()
				for j := range procs {
					procs[j] = exec.Command(dcvdBin, "run", "--config", cfg, "--timeout", "60m")
					procs[j].Stderr = &errs[j]
					procs[j].Stdout = &errs[j]
					if err := procs[j].Start(); err != nil {
						b.Fatal(err)
					}
				}
				done := make(chan int, k)
				peaks := make([]<-chan int64, k)
				for j := range procs {
					exited := make(chan struct{})
					peaks[j] = watchPeakRSS(procs[j].Process.Pid, exited)
					go func() { procs[j].Wait(); ends[j] = time.Now(); close(exited); done <- j }()
				}
				for range procs {
					<-done
				}
				wall := time.Since(start)
				b.StopTimer()
				for j, p := range procs {
					if dir := os.Getenv("DCVD_BENCH_LOG"); dir != "" {
						// Keep each instance's log (the timeline of a run).
						os.WriteFile(fmt.Sprintf("%s/%s-%d.log", dir, prefix, j+1), errs[j].Bytes(), 0o644)
					}
					ru := p.ProcessState.SysUsage().(*syscall.Rusage)
					cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
					peak := <-peaks[j]
					b.Logf("instance %d: exit %d, wall %.1f s, cpu %.1f s, peak RSS %.1f MB (wait4's ru_maxrss %.1f MB)",
						j+1, p.ProcessState.ExitCode(), ends[j].Sub(start).Seconds(), cpu.Seconds(),
						float64(peak)/(1<<20), float64(ru.Maxrss)/1024)
					b.ReportMetric(float64(peak)/(1<<20), fmt.Sprintf("peak-RSS-MB-%d", j+1))
					b.ReportMetric(cpu.Seconds(), fmt.Sprintf("cpu-s-%d", j+1))
					if p.ProcessState.ExitCode() != 0 {
						b.Fatalf("instance %d exit %d:\n%s", j+1, p.ProcessState.ExitCode(), tail(errs[j].String(), 4000))
					}
				}
				issued, total := 0, 0
				for _, id := range w.sim.Orders() {
					o, _ := w.sim.Order(id)
					total++
					if o.Status == "issued" {
						issued++
					}
				}
				if issued != n/10 || total != n/10 {
					b.Fatalf("issued %d of %d orders (want %d)", issued, total, n/10)
				}
				if l := w.leftovers(b); len(l) > 0 {
					b.Fatalf("%d records left in zones, first: %s", len(l), l[0])
				}
				// What the run cost the CA: an order whose rows two
				// instances split is checked once per part.
				checks := w.sim.Requests("test-key", "PUT /order/certificate/{id}/check-dcv")
				b.Logf("CA requests: %d in all, %d check-dcv for %d orders", w.sim.Requests("test-key", ""), checks, n/10)
				b.ReportMetric(float64(checks)/float64(n/10), "check-dcv/order")
				b.ReportMetric(wall.Seconds(), "s/run")
				b.ReportMetric(float64(n)/wall.Seconds(), "challenges/s")
				b.StartTimer()
			}
		})
	}
}

// watchPeakRSS follows a running process's own peak resident set size
// (testenv.PeakRSS, in bytes) until exited closes, then sends the largest
// value read. Read every 20 ms, the peak can miss growth in the process's
// last 20 ms.
func watchPeakRSS(pid int, exited <-chan struct{}) <-chan int64 {
	out := make(chan int64, 1)
	id := strconv.Itoa(pid)
	go func() {
		var peak int64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, testenv.PeakRSS(id))
			select {
			case <-exited:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

func benchEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
