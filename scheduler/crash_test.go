package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	sim "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store"
)

const crashEnv = "DCVD_SCHEDULER_CRASH_SPEC"

// TestCrashChild is the process the crash test kills: it runs RunOnce on the
// environment described by crashEnv. Without it, it does nothing.
func TestCrashChild(t *testing.T) {
	raw := os.Getenv(crashEnv)
	if raw == "" {
		t.Skip("helper process of TestCrashSafety")
	}
	var spec envSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	eng, _ := spec.engine(t, testLogger(t), spec.provider(t, "dns-txt"))
	// Few workers and a slow backend stretch the run so kills land in every
	// step.
	eng.cfg.Workers = 2
	eng.cfg.Lease = 300 * time.Millisecond // the next child takes a killed one's rows over soon
	for _, b := range eng.backends {
		b.limit = backendLimiter(15)
	}
	fmt.Fprintln(os.Stderr, "child: running")
	sum, err := eng.RunOnce(context.Background())
	fmt.Fprintln(os.Stderr, "child: done", sum.String(), err)
}

// kill -9 at random moments of a run, then one run in-process: every order
// validated, no record left, and at every kill no record in a zone that the
// store does not know it may hold (no leak) and no challenge stored twice.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs child processes")
	}
	e := newEnv(t, zoneNames(8), sim.Options{NoLimits: true})
	raw, _ := json.Marshal(e.envSpec)
	var ids []int
	iterations := 10
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	killedMidway := 0
	for it := 0; it < iterations; it++ {
		// Fresh orders every round so that every child has work in flight.
		for i, z := range e.Zones {
			if (i+it)%2 == 0 {
				ids = append(ids, e.sim.AddOrder(sim.OrderSpec{CommonName: fmt.Sprintf("h%d.%s", it, z),
					DNSNames: []string{fmt.Sprintf("*.h%d.%s", it, z)}}))
			} else {
				ids = append(ids, e.sim.AddOrder(sim.OrderSpec{CommonName: z, DNSNames: []string{fmt.Sprintf("n%d.%s", it, z)}}))
			}
		}
		logPath := filepath.Join(t.TempDir(), "child.log")
		logf, _ := os.Create(logPath)
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+string(raw))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(30+rng.IntN(700)) * time.Millisecond
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case <-time.After(delay):
			cmd.Process.Signal(syscall.SIGKILL)
			<-exited
		case <-exited:
		}
		logf.Close()
		out, _ := os.ReadFile(logPath)
		if !strings.Contains(string(out), "child: done") {
			killedMidway++
		}
		e.checkNoLeak(t, fmt.Sprintf("after kill %d at %s", it, delay))
	}
	t.Logf("%d of %d children killed before finishing", killedMidway, iterations)

	eng, st := e.engine(t, testLogger(t), e.provider(t, "dns-txt"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sum, err := eng.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.ExitCode() != 0 {
		t.Fatalf("final run: %s; failed %+v; pending %+v", sum, sum.Failed, sum.Pending)
	}
	wantIssued(t, e.sim, ids)
	if left := e.dcvRecords(t); len(left) != 0 {
		t.Fatalf("records left after the final run: %v", left)
	}
	e.spfIntact(t)
	rows, _ := st.List(ctx, store.Filter{})
	for _, c := range rows {
		if c.State != store.Cleaned || c.DNS != store.DNSRemoved {
			t.Errorf("row %d %s: %s dns=%s reason=%q", c.ID, c.Name, c.State, c.DNS, c.Reason)
		}
	}
}

// checkNoLeak: every record in the zones is one the store says may be there
// (DNS adding, present or removing), each value is in its RRset once, and no
// challenge is stored twice.
func (e *env) checkNoLeak(t *testing.T, when string) {
	t.Helper()
	st, _, _ := e.parts(t)
	rows, err := st.List(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	owned := map[string]bool{}
	keys := map[string]int64{}
	states := map[string]int{}
	for _, c := range rows {
		states[string(c.State)+"/"+string(c.DNS)]++
		if c.DNS.Owned() {
			owned[c.Record.Key()] = true
		}
		k := c.Account + "\x00" + c.Key
		if other, dup := keys[k]; dup {
			t.Fatalf("%s: challenge stored twice: rows %d and %d (%s)", when, other, c.ID, c.Key)
		}
		keys[k] = c.ID
	}
	t.Logf("%s: rows by state/dns: %v", when, states)
	seen := map[string]bool{}
	for _, line := range e.dcvRecords(t) {
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatal(err)
		}
		txt, ok := rr.(*dns.TXT)
		if !ok {
			t.Fatalf("%s: unexpected record %s", when, line)
		}
		key := dns.CanonicalName(rr.Header().Name) + " TXT " + strings.Join(txt.Txt, "")
		if seen[key] {
			t.Fatalf("%s: duplicate record %s", when, line)
		}
		seen[key] = true
		if !owned[key] {
			t.Fatalf("%s: leaked record %s: no row holds it", when, line)
		}
	}
	st.Close()
}
