package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/digicert"
	sim "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store"
)

// The fault-injection suite (issue 8): a process killed (-9) at every
// pipeline step, a slow DNS server, a CA that times out after acting, and a
// full disk. After each, one more pass ends with every order validated, no
// record left, and the values someone else keeps in the same RRsets (the
// zone's SPF and another TXT at the apex) untouched.
//
// Two processes sharing one state directory (daemon + run + hooks) are the
// store leases' part (store/ and their tests); faultChild takes a second
// spec the same way when that suite adds its own kills.

const faultEnv = "DCVD_SCHEDULER_FAULT_SPEC"

// faultSpec is what a fault child runs: the environment, and where to die.
type faultSpec struct {
	Env   envSpec
	Point string // fault point to kill the process at ("" = none)
	FSize int64  // >0: the process may not grow any file past this many bytes
}

// theirs is a value someone else keeps at the apex of every zone, next to
// the SPF record newEnv puts there.
const theirs = "someone-elses-verification=abc123"

func newFaultEnv(t *testing.T, o sim.Options) *env {
	zones := zoneNames(2)
	extra := map[string][]string{}
	for _, z := range zones {
		extra[z] = []string{`@ IN TXT "` + theirs + `"`}
	}
	return newEnvWith(t, zones, extra, o)
}

// faultOrders adds one apex+wildcard TXT order per zone (its value joins
// the apex RRset holding SPF and theirs) and one subdomain order.
func faultOrders(e *env) []int {
	var ids []int
	for _, z := range e.Zones {
		ids = append(ids, e.sim.AddOrder(sim.OrderSpec{CommonName: z, DNSNames: []string{"*." + z}, Method: "dns-txt-token"}))
		ids = append(ids, e.sim.AddOrder(sim.OrderSpec{CommonName: "www." + z, Method: "dns-txt-token"}))
	}
	return ids
}

// pendingOnSubmit passes a submit through to the CA (which acts) but
// reports it pending, so that every order also goes through a poll.
type pendingOnSubmit struct{ providers.Provider }

func (p pendingOnSubmit) Submit(ctx context.Context, order string, chs []providers.Challenge) ([]providers.Outcome, error) {
	if _, err := p.Provider.Submit(ctx, order, chs); err != nil {
		return nil, err
	}
	return make([]providers.Outcome, len(chs)), nil // Pending
}

// TestFaultChild is the process the fault tests kill; without faultEnv it
// does nothing.
func TestFaultChild(t *testing.T) {
	raw := os.Getenv(faultEnv)
	if raw == "" {
		t.Skip("helper process of the fault-injection tests")
	}
	var spec faultSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	eng, _ := spec.Env.engine(t, testLogger(t), pendingOnSubmit{spec.Env.provider(t, "dns-txt")})
	eng.cfg.Workers = 1
	if spec.Point != "" {
		eng.fault = func(p string) {
			if p == spec.Point {
				fmt.Fprintln(os.Stderr, "child: killed at", p)
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}
	if spec.FSize > 0 {
		signal.Ignore(syscall.SIGXFSZ) // writes fail with EFBIG instead
		lim := syscall.Rlimit{Cur: uint64(spec.FSize), Max: uint64(spec.FSize)}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sum, err := eng.RunOnce(ctx)
	fmt.Fprintln(os.Stderr, "child: done", sum.String(), err)
}

// runFaultChild runs TestFaultChild with spec and returns its output and
// whether it was killed.
func runFaultChild(t *testing.T, spec faultSpec) (string, bool) {
	t.Helper()
	raw, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0], "-test.run=^TestFaultChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), faultEnv+"="+string(raw))
	out, err := cmd.CombinedOutput()
	killed := false
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			killed = true
		}
	}
	return string(out), killed
}

// finalPass runs one more pass in this process and checks the outcome:
// every order issued, every row cleaned, no record of dcvd's left, and the
// other values at the apexes untouched.
func (e *env) finalPass(t *testing.T, ids []int, when string) {
	t.Helper()
	eng, st := e.engine(t, testLogger(t), e.provider(t, "dns-txt"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := eng.RunOnce(ctx)
	if err != nil || sum.ExitCode() != 0 {
		t.Fatalf("%s: final pass %s, %v; failed %+v pending %+v", when, sum, err, sum.Failed, sum.Pending)
	}
	wantIssued(t, e.sim, ids)
	rows, _ := st.List(ctx, store.Filter{})
	for _, c := range rows {
		if c.State != store.Cleaned || c.DNS.Owned() {
			t.Errorf("%s: row %d %s: %s dns=%s reason=%q", when, c.ID, c.Name, c.State, c.DNS, c.Reason)
		}
	}
	e.onlyTheirs(t, when)
}

// onlyTheirs: the zones hold nothing but their own data and theirs.
func (e *env) onlyTheirs(t *testing.T, when string) {
	t.Helper()
	var mine []string
	for _, line := range e.dcvRecords(t) {
		if !strings.Contains(line, `"`+theirs+`"`) {
			mine = append(mine, line)
		}
	}
	if len(mine) != 0 {
		t.Fatalf("%s: records left: %v", when, mine)
	}
	e.spfIntact(t)
	for _, z := range e.Zones {
		if !txtServed(t, e.BindAddr, z, theirs) {
			t.Fatalf("%s: %s lost someone else's TXT %q", when, z, theirs)
		}
	}
}

// kill -9 at every fault point, one fresh environment each.
func TestFaultKillAtEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	for _, point := range faultPoints {
		t.Run(strings.ReplaceAll(point, ":", "_"), func(t *testing.T) {
			e := newFaultEnv(t, sim.Options{NoLimits: true})
			ids := faultOrders(e)
			out, killed := runFaultChild(t, faultSpec{Env: e.envSpec, Point: point})
			if !killed {
				t.Fatalf("the child was not killed at %s:\n%s", point, out)
			}
			if point == faultSubmitted {
				// The kill left the check in doubt: its rows say so.
				st, _, _ := e.parts(t)
				rows, err := st.List(context.Background(), store.Filter{States: []store.State{store.Triggering}})
				st.Close()
				if err != nil || len(rows) == 0 {
					t.Fatalf("after a kill right after a check-dcv, no row is %s (%v)", store.Triggering, err)
				}
			}
			e.finalPass(t, ids, "after kill at "+point)
			// One check per order: the check the kill left in doubt is
			// confirmed by reading the order's validation, not sent again.
			if n := e.sim.Requests("good-key", "PUT /order/certificate/{id}/check-dcv"); n != len(ids) {
				t.Errorf("%d check-dcv requests for %d orders", n, len(ids))
			}
			for _, d := range e.sim.DuplicateDCVChecks() {
				t.Errorf("duplicate check-dcv of order %d: %s", d.Order, d.Duplicate)
			}
		})
	}
}

// A file-size limit (a full disk for SQLite) on the first pass: it fails
// to save, nothing is lost or leaked, and the next pass finishes.
func TestFaultFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	e := newFaultEnv(t, sim.Options{NoLimits: true})
	ids := faultOrders(e)
	// Create the state file first, then let the child grow nothing: no
	// file past the state file's size, and the write-ahead log (which
	// starts empty) past 48 KiB: room for discovery's insert, not for the
	// pipeline's saves that follow.
	st, _, _ := e.parts(t)
	st.Close()
	fi, err := os.Stat(e.DB)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, killed := runFaultChild(t, faultSpec{Env: e.envSpec, FSize: min(fi.Size(), 48<<10)})
	if killed || !strings.Contains(out, "child: done") {
		t.Fatalf("the child did not end on its own:\n%s", out)
	}
	// It ends with the store's error instead of spinning until its deadline.
	if took := time.Since(start); took > 15*time.Second || !strings.Contains(out, "store: sqlite: ") {
		t.Fatalf("the child took %s and ended with:\n%s", took, lastLines(out, 5))
	}
	e.onlyTheirsOrOwned(t)
	e.finalPass(t, ids, "after a full disk")
}

// onlyTheirsOrOwned: every record of dcvd's in the zones is one the store
// says it may hold (nothing leaked while writes failed).
func (e *env) onlyTheirsOrOwned(t *testing.T) {
	t.Helper()
	st, _, _ := e.parts(t)
	defer st.Close()
	rows, err := st.List(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	owned := map[string]bool{}
	for _, c := range rows {
		if c.DNS.Owned() {
			owned[c.Record.Key()] = true
		}
	}
	for _, line := range e.dcvRecords(t) {
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatal(err)
		}
		txt, ok := rr.(*dns.TXT)
		if !ok || strings.Join(txt.Txt, "") == theirs {
			continue
		}
		if key := dns.CanonicalName(rr.Header().Name) + " TXT " + strings.Join(txt.Txt, ""); !owned[key] {
			t.Fatalf("leaked record %s: no row holds it", line)
		}
	}
}

// slowDNS forwards UDP queries to a server, holding the first `slow`
// answers back for delay (longer than the checker's query timeout).
type slowDNS struct {
	pc    net.PacketConn
	to    string
	delay time.Duration
	slow  atomic.Int64
}

func startSlowDNS(t *testing.T, to string, delay time.Duration, slow int64) *slowDNS {
	// UDP and TCP on one port: a free UDP port's TCP twin may be taken by
	// another test process, so try a few.
	var (
		pc  net.PacketConn
		tl  net.Listener
		err error
	)
	for try := 0; try < 20; try++ {
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		// TCP (the checker's retry after a UDP timeout) is passed straight on.
		if tl, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	s := &slowDNS{pc: pc, to: to, delay: delay}
	s.slow.Store(slow)
	t.Cleanup(func() { pc.Close() })
	t.Cleanup(func() { tl.Close() })
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, err := net.Dial("tcp", to)
				if err != nil {
					return
				}
				defer b.Close()
				go io.Copy(b, c)
				io.Copy(c, b)
			}()
		}
	}()
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := append([]byte(nil), buf[:n]...)
			go func() {
				if s.slow.Add(-1) >= 0 {
					time.Sleep(s.delay)
				}
				c, err := net.Dial("udp", s.to)
				if err != nil {
					return
				}
				defer c.Close()
				c.Write(q)
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				r := make([]byte, 65535)
				if n, err := c.Read(r); err == nil {
					pc.WriteTo(r[:n], from)
				}
			}()
		}
	}()
	return s
}

// A DNS server that answers slower than the checker waits: verification
// retries, and the pass still ends with everything validated and clean.
func TestFaultSlowDNS(t *testing.T) {
	e := newFaultEnv(t, sim.Options{NoLimits: true})
	ids := faultOrders(e)
	slow := startSlowDNS(t, e.BindAddr, 1500*time.Millisecond, 2)
	spec := e.envSpec
	spec.VerifyAddr = slow.pc.LocalAddr().String()
	eng, _ := spec.engine(t, testLogger(t), e.provider(t, "dns-txt"))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// One pass may leave rows backing off; the next finishes them.
	for pass := 0; pass < 3; pass++ {
		sum, err := eng.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("pass %d: %s (slow answers left %d)", pass, sum, slow.slow.Load())
		if sum.ExitCode() == 0 {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if slow.slow.Load() > 0 {
		t.Fatalf("the slow server was never asked")
	}
	e.finalPass(t, ids, "after a slow DNS server")
}

// A CA that acts on check-dcv but answers after the client gave up: the
// order is validated at the CA, dcvd sees an error, the check is in doubt,
// and the next step reads the order's validation instead of asking again
// (neither the client's retries nor the scheduler repeat it), finds it
// validated and cleans up.
func TestFaultCATimesOutAfterActing(t *testing.T) {
	e := newFaultEnv(t, sim.Options{NoLimits: true})
	ids := faultOrders(e)
	var mu sync.Mutex
	stalled := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/check-dcv") {
			mu.Lock()
			stall := stalled < 2
			stalled++
			mu.Unlock()
			if stall {
				rec := httptest.NewRecorder()
				e.sim.ServeHTTP(rec, r) // the CA acts
				select {                // ... and answers too late
				case <-time.After(2 * time.Second):
				case <-r.Context().Done():
				}
				return
			}
		}
		e.sim.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	p, err := digicert.Open(context.Background(), providers.Base{Name: "digicert", Method: "dns-txt"},
		&digicert.Options{BaseURL: srv.URL + sim.Prefix, APIKey: "good-key", Timeout: "300ms", BackoffMin: "1ms", BackoffMax: "5ms",
			RateLimits: []digicert.LimitOption{{N: 1000000, Window: "1s"}}})
	if err != nil {
		t.Fatal(err)
	}
	eng, _ := e.engine(t, testLogger(t), p)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := eng.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if stalled < 2 {
		t.Fatalf("only %d check-dcv requests reached the stalling CA", stalled)
	}
	e.finalPass(t, ids, "after a CA that timed out after acting")
	for _, d := range e.sim.DuplicateDCVChecks() {
		t.Errorf("duplicate check-dcv of order %d (its check %d): %s", d.Order, d.Seq, d.Duplicate)
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// cutAfterFirst is a streaming provider whose discovery is cut off (as by a
// kill or a deadline) right after its first batch was handed over.
type cutAfterFirst struct {
	providers.Provider
	cancel context.CancelFunc
}

func (p cutAfterFirst) DiscoverEach(ctx context.Context, found func([]providers.Challenge) error) error {
	first := true
	return p.Provider.(providers.Streamer).DiscoverEach(ctx, func(chs []providers.Challenge) error {
		err := found(chs)
		if first {
			first = false
			p.cancel()
		}
		return err
	})
}

// Discovery is stored an order at a time: a discovery cut off halfway keeps
// the orders it had found (the next pass finds the rest).
func TestDiscoveryStoredPerOrder(t *testing.T) {
	e := newFaultEnv(t, sim.Options{NoLimits: true})
	ids := faultOrders(e)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eng, st := e.engine(t, testLogger(t), cutAfterFirst{e.provider(t, "dns-txt"), cancel})
	if err := eng.Discover(ctx); err == nil {
		t.Fatal("discovery was not cut off")
	}
	rows, err := st.List(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	orders := map[string]bool{}
	for _, c := range rows {
		orders[c.Order] = true
	}
	if len(orders) != 1 {
		t.Fatalf("after a discovery cut off after its first order, %d orders are stored (%d rows), want 1", len(orders), len(rows))
	}
	e.finalPass(t, ids, "after a discovery cut off")
}
