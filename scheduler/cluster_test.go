package scheduler

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/testenv"
	sim "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/postgres"
)

const clusterEnv = "DCVD_SCHEDULER_CLUSTER_SPEC"

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
	eng, err := New(Config{Store: st, Router: router, Checker: chk, Logger: testLogger(t),
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
	fmt.Fprintln(os.Stderr, "child: running", eng.Owner())
	eng.Run(ctx)
}

// checkCounter counts check-dcv requests per order in front of the
// simulator.
type checkCounter struct {
	h  http.Handler
	mu sync.Mutex
	n  map[string]int
}

func (c *checkCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/check-dcv") {
		c.mu.Lock()
		c.n[r.URL.Path]++
		c.mu.Unlock()
	}
	c.h.ServeHTTP(w, r)
}

// Issue 15: two daemons on one PostgreSQL, orders over 20 zones on BIND,
// kill -9 of one daemon at random moments (five times, restarting it):
// every order validated, no record left, no value published by two daemons
// at once, check-dcv repeated only for orders a killed daemon had in flight,
// and no row held by a killed daemon for longer than one lease.
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
	counter := &checkCounter{h: e.sim, n: map[string]int{}}
	srv := httptest.NewServer(counter)
	t.Cleanup(srv.Close)
	e.SimURL = srv.URL + sim.Prefix
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
	start := func(slot, gen int) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestClusterDaemonChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), clusterEnv+"="+string(raw))
		logf, _ := os.Create(filepath.Join(logDir, fmt.Sprintf("daemon%d-%d.log", slot, gen)))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { cmd.Wait(); logf.Close() }()
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
	for k := 0; k < 5; k++ {
		time.Sleep(time.Duration(300+rng.IntN(1500)) * time.Millisecond)
		slot := rng.IntN(2)
		pid := daemons[slot].Process.Pid
		daemons[slot].Process.Signal(syscall.SIGKILL)
		at := time.Now()
		killedAt[pid] = at
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
	// check-dcv: once per order, except orders a killed daemon had in flight.
	dup := 0
	counter.mu.Lock()
	for _, n := range counter.n {
		if n > 1 {
			dup += n - 1
		}
	}
	checks := len(counter.n)
	counter.mu.Unlock()
	if checks != len(ids) {
		t.Errorf("check-dcv sent for %d orders, want %d", checks, len(ids))
	}
	if maxDup := 5 * 64; dup > maxDup { // five kills × one submit batch (SubmitBatch)
		t.Errorf("%d repeated check-dcv requests after 5 kills, want at most %d", dup, maxDup)
	}
	t.Logf("%d orders over %d zones, 2 daemons, 5 kills: all validated in %s; %d adds (%d by a second daemon, none at once); %d check-dcv repeated; worst takeover after a kill %s (lease %s)",
		orders, len(e.Zones), took.Round(time.Millisecond), adds, repeats, dup, worstTakeover.Round(time.Millisecond), lease)
}
