package scheduler

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/testenv"
	sim "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/postgres"
)

const (
	clusterEnv = "DCVD_SCHEDULER_CLUSTER_SPEC"
	// clusterKillEnv names a file; once it exists, the child kills itself
	// (-9) right after its next check-dcv, before the outcome is saved: a
	// check in doubt for certain.
	clusterKillEnv = "DCVD_SCHEDULER_CLUSTER_KILLFILE"
	// inDoubt starts the log line of a check in doubt being confirmed.
	inDoubt = "a check's outcome was lost"
)

// clusterSpec is what a cluster daemon child needs.
type clusterSpec struct {
	envSpec
	DSN    string
	AddLog string // every Add is appended here: "pid unixnano value"
	Lease  time.Duration
}

// addLogger is a real backend that notes every value it is asked to add, by
// process, before the write.
type addLogger struct {
	dnspublish.Publisher
	f *os.File
}

func (a addLogger) Add(ctx context.Context, zone string, recs []dnspublish.Record) (dnspublish.Result, error) {
	a.log("S", recs)
	res, err := a.Publisher.Add(ctx, zone, recs)
	a.log("E", recs)
	return res, err
}

// log appends one line per record: "S|E pid unixnano value" (start or end of
// an Add), in one write (O_APPEND: never interleaved with the other
// daemon's).
func (a addLogger) log(what string, recs []dnspublish.Record) {
	var b strings.Builder
	now := time.Now().UnixNano()
	for _, r := range recs {
		fmt.Fprintf(&b, "%s %d %d %s\n", what, os.Getpid(), now, r.Value)
	}
	a.f.WriteString(b.String())
}

// TestClusterDaemonChild is one dcvd daemon of TestClusterKill: Run on the
// shared PostgreSQL until killed.
func TestClusterDaemonChild(t *testing.T) {
	raw := os.Getenv(clusterEnv)
	if raw == "" {
		t.Skip("helper process of TestClusterKill")
	}
	var spec clusterSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := postgres.Open(ctx, spec.DSN)
	if err != nil {
		t.Fatal(err)
	}
	_, router, chk := spec.parts(t)
	f, err := os.OpenFile(spec.AddLog, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	// Warnings go to the daemon's log file: the parent counts the checks
	// in doubt that were confirmed.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	eng, err := New(Config{Store: st, Router: router, Checker: chk, Logger: logger,
		Accounts: []Account{{Provider: spec.provider(t, "dns-txt"), Schedule: "@every 1s"}},
		RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond,
		PollMin: 50 * time.Millisecond, PollMax: 500 * time.Millisecond,
		Fetch: 200 * time.Millisecond, Lease: spec.Lease})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range eng.backends {
		b.pub = addLogger{Publisher: b.pub, f: f}
	}
	if kf := os.Getenv(clusterKillEnv); kf != "" {
		eng.fault = func(p string) {
			if p != faultSubmitted {
				return
			}
			if _, err := os.Stat(kf); err == nil {
				fmt.Fprintln(os.Stderr, "child: killed at", p)
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}
	fmt.Fprintln(os.Stderr, "child: running", eng.Owner())
	eng.Run(ctx)
}

func total(n map[store.State]int) int {
	t := 0
	for _, v := range n {
		t += v
	}
	return t
}

// Issue 15: two daemons on one PostgreSQL, orders over 20 zones on BIND,
// kill -9 of one daemon at random moments (five times, restarting it; the
// second kill lands right after a check-dcv, before its outcome is saved):
// every order validated, no record left, no value published by two daemons
// at once, no check-dcv sent twice for one attempt (the simulator counts:
// checks in doubt are confirmed by reading the order's validation, never
// sent again blindly), and no row held by a killed daemon for longer than
// one lease.
func TestClusterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test runs child processes")
	}
	orders := 500 // about 20 s on 2 busy cores
	if s := os.Getenv("DCVD_CLUSTER_ORDERS"); s != "" {
		orders, _ = strconv.Atoi(s)
	}
	pg := testenv.StartPostgres(t)
	e := newEnv(t, zoneNames(20), sim.Options{NoLimits: true})
	const lease = 2 * time.Second
	spec := clusterSpec{envSpec: e.envSpec, DSN: pg.NewDatabase(t), AddLog: filepath.Join(t.TempDir(), "adds.log"), Lease: lease}
	st, err := postgres.Open(context.Background(), spec.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	raw, _ := json.Marshal(spec)

	var ids []int
	for i := 0; i < orders; i++ {
		z := e.Zones[i%len(e.Zones)]
		ids = append(ids, e.sim.AddOrder(sim.OrderSpec{CommonName: fmt.Sprintf("o%d.%s", i, z),
			DNSNames: []string{fmt.Sprintf("*.o%d.%s", i, z)}}))
	}

	logDir := t.TempDir()
	killFile := func(slot, gen int) string { return filepath.Join(logDir, fmt.Sprintf("kill%d-%d", slot, gen)) }
	exited := map[*exec.Cmd]chan struct{}{}
	start := func(slot, gen int) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestClusterDaemonChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), clusterEnv+"="+string(raw), clusterKillEnv+"="+killFile(slot, gen))
		logf, _ := os.Create(filepath.Join(logDir, fmt.Sprintf("daemon%d-%d.log", slot, gen)))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		exited[cmd] = done
		go func() { cmd.Wait(); logf.Close(); close(done) }()
		return cmd
	}
	daemons := []*exec.Cmd{start(0, 0), start(1, 0)}
	defer func() {
		for _, d := range daemons {
			d.Process.Kill()
		}
	}()
	killedAt := map[int]time.Time{} // pid -> kill time
	began := time.Now()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var worstTakeover time.Duration
	gens := [2]int{}
	atCheck := 0 // kills that landed right after a check-dcv
	midWork := 0 // kills while rows were still in the pipeline
	for k := 0; k < 5; k++ {
		time.Sleep(time.Duration(200+rng.IntN(1000)) * time.Millisecond)
		slot := rng.IntN(2)
		pid := daemons[slot].Process.Pid
		if k == 1 {
			// The second kill waits (up to 8 s) for the daemon's next
			// check-dcv and lands before its outcome is saved.
			os.WriteFile(killFile(slot, gens[slot]), nil, 0o600)
			select {
			case <-exited[daemons[slot]]:
				atCheck++
			case <-time.After(8 * time.Second):
				t.Logf("kill 1: no check-dcv by daemon %d within 8 s; killed anyway", pid)
			}
		}
		daemons[slot].Process.Signal(syscall.SIGKILL)
		<-exited[daemons[slot]]
		at := time.Now()
		if n, _ := st.Counts(context.Background()); len(n) == 0 || n[store.Cleaned] < total(n) {
			midWork++ // nothing discovered yet, or rows not finished
		}
		killedAt[pid] = at
		gens[slot] = k + 1
		daemons[slot] = start(slot, k+1)
		// Every row the dead daemon held that is due must be taken over
		// within one lease (plus a fetch and a step's save).
		for {
			rows, err := st.List(context.Background(), store.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			stuck := 0
			for _, c := range rows {
				if strings.Contains(c.Owner, ":"+strconv.Itoa(pid)+":") && needsWork(&c) && c.NextAt.Before(at.Add(lease)) {
					stuck++
				}
			}
			if stuck == 0 {
				worstTakeover = max(worstTakeover, time.Since(at))
				break
			}
			if time.Since(at) > lease+3*time.Second {
				t.Fatalf("kill %d: %d rows still held by killed daemon %d after %s (lease %s)", k, stuck, pid, time.Since(at), lease)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		issued := 0
		for _, id := range ids {
			if o, _ := e.sim.Order(id); o.Status == "issued" {
				issued++
			}
		}
		if issued == len(ids) && len(e.dcvRecords(t)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d orders issued after 3 minutes; records left %d", issued, len(ids), len(e.dcvRecords(t)))
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(began)
	rows, _ := st.List(context.Background(), store.Filter{})
	for _, c := range rows {
		if c.State != store.Cleaned || c.DNS != store.DNSRemoved {
			t.Errorf("row %d %s: %s dns=%s reason=%q", c.ID, c.Name, c.State, c.DNS, c.Reason)
		}
	}
	e.spfIntact(t)

	// No value published twice at once: the Add calls of one value by two
	// daemons never overlap (an Add a daemon was killed in lasts until the
	// kill).
	f, err := os.Open(spec.AddLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type window struct {
		pid        int
		start, end time.Time
	}
	var (
		windows = map[string][]*window{} // value -> Add calls
		open    = map[string]*window{}   // pid|value -> running Add
		adds    int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var what, value string
		var pid int
		var ns int64
		if _, err := fmt.Sscan(sc.Text(), &what, &pid, &ns, &value); err != nil {
			t.Fatalf("add log line %q: %v", sc.Text(), err)
		}
		k := fmt.Sprint(pid, "|", value)
		if what == "S" {
			adds++
			w := &window{pid: pid, start: time.Unix(0, ns)}
			open[k] = w
			windows[value] = append(windows[value], w)
		} else if w := open[k]; w != nil {
			w.end = time.Unix(0, ns)
			delete(open, k)
		}
	}
	for _, w := range open {
		if at, ok := killedAt[w.pid]; ok {
			w.end = at
		} else {
			w.end = time.Now()
		}
	}
	repeats := 0
	for value, ws := range windows {
		for i := range ws {
			for j := i + 1; j < len(ws); j++ {
				a, b := ws[i], ws[j]
				if a.pid == b.pid {
					continue
				}
				repeats++
				if a.start.Before(b.end) && b.start.Before(a.end) {
					t.Errorf("value %s added by daemons %d and %d at once (%s–%s and %s–%s)", value, a.pid, b.pid,
						a.start.Format(time.StampMilli), a.end.Format(time.StampMilli), b.start.Format(time.StampMilli), b.end.Format(time.StampMilli))
				}
			}
		}
	}
	// check-dcv: never twice for one attempt. A second check of an order
	// is legitimate only after the first found nothing (the next attempt).
	checks := e.sim.DCVChecks()
	perOrder := map[int]int{}
	for _, c := range checks {
		perOrder[c.Order]++
	}
	for _, c := range e.sim.DuplicateDCVChecks() {
		t.Errorf("duplicate check-dcv: order %d, its check %d at %s: %s", c.Order, c.Seq, c.At.Format(time.StampMilli), c.Duplicate)
	}
	if len(perOrder) != len(ids) {
		t.Errorf("check-dcv sent for %d orders, want %d", len(perOrder), len(ids))
	}
	again := 0
	for _, n := range perOrder {
		again += n - 1
	}
	// Checks in doubt that were confirmed by reading the CA's state (the
	// daemons' logs).
	confirmed := 0
	logs, _ := filepath.Glob(filepath.Join(logDir, "daemon*.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		confirmed += strings.Count(string(b), inDoubt)
	}
	if atCheck > 0 && confirmed == 0 {
		t.Errorf("a daemon was killed right after a check-dcv, but no check in doubt was confirmed")
	}
	t.Logf("%d orders over %d zones, 2 daemons, 5 kills (%d while rows were in the pipeline, %d right after a check-dcv): all validated in %s; %d adds (%d by a second daemon, none at once); %d check-dcv, %d of them a next attempt, none a duplicate; %d checks in doubt confirmed by reading the CA's state; worst takeover after a kill %s (lease %s)",
		orders, len(e.Zones), midWork, atCheck, took.Round(time.Millisecond), adds, repeats, len(checks), again, confirmed, worstTakeover.Round(time.Millisecond), lease)
}
