package webnic_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/internal/testenv"
	"github.com/dcvd/dcvd/sandbox/simkit"
	sim "github.com/dcvd/dcvd/sandbox/webnic"
)

// The end-to-end tests run the dcvd binary, as a user does, against real
// BIND (a primary and a secondary fed by NOTIFY + IXFR) and the simulator,
// which checks DNS at the secondary only: dcvd must have waited for it.

var (
	buildOnce sync.Once
	dcvdBin   string
	buildErr  error
)

// binary builds cmd/dcvd once per test process.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dcvd-webnic-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		dcvdBin = filepath.Join(dir, "dcvd")
		out, err := exec.Command("go", "build", "-o", dcvdBin, "github.com/dcvd/dcvd/cmd/dcvd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return dcvdBin
}

// world: BIND primary + secondary for zones, the simulator, a config.
type world struct {
	primary, secondary *testenv.BIND
	sim                *sim.Server
	zones              []string
	cfg                string
}

func newWorld(t *testing.T, zones []string) *world {
	t.Helper()
	secPort := testenv.FreePort(t, "127.0.0.1")
	var bz []testenv.BINDZone
	for _, z := range zones {
		bz = append(bz, testenv.BINDZone{Name: z, Notify: []string{fmt.Sprintf("127.0.0.1 port %d", secPort)}})
	}
	w := &world{zones: zones}
	w.primary = testenv.StartBIND(t, testenv.BINDOptions{Zones: bz, ExtraOptions: "notify-delay 0;"})
	var sec strings.Builder
	dir := t.TempDir()
	for _, z := range zones {
		fmt.Fprintf(&sec, "zone %q { type secondary; primaries { 127.0.0.1 port %d; }; file %q; };\n", z, w.primary.Port, filepath.Join(dir, z+".sec"))
	}
	w.secondary = testenv.StartBIND(t, testenv.BINDOptions{Port: secPort, ExtraConfig: sec.String()})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, z := range zones {
		if err := testenv.WaitSOA(ctx, w.secondary.Addr, z); err != nil {
			t.Fatalf("secondary did not load %s: %v", z, err)
		}
	}
	w.sim = sim.New(sim.Options{DNSServers: []string{w.secondary.Addr}})
	srv := httptest.NewServer(w.sim)
	t.Cleanup(srv.Close)

	cdir := t.TempDir()
	secret := filepath.Join(cdir, "tsig.secret")
	pw := filepath.Join(cdir, "webnic.password")
	os.WriteFile(secret, []byte(w.primary.Key.Secret+"\n"), 0o600)
	os.WriteFile(pw, []byte(sim.DefaultPassword+"\n"), 0o600)
	var zs []string
	for _, z := range zones {
		zs = append(zs, fmt.Sprintf("%q", z))
	}
	cfg := fmt.Sprintf(`[daemon]
state_dir = %q
log_level = "warn"
workers = 8

[propagation]
resolvers = [%q]
poll_min = "10ms"
poll_max = "200ms"
timeout = "20s"
[[propagation.override]]
zone = "."
servers = [%q, %q]

[[ca]]
type = "webnic"
name = "wn"
base_url = %q
username = %q
password_file = %q
schedule = "@every 1h"
poll_min = "100ms"
poll_max = "1s"
retry_min = "20ms"
retry_max = "500ms"
rate_limits = [{ n = 100000, window = "1s" }]

[[dns]]
type = "rfc2136"
name = "bind"
zones = [%s]
server = %q
tsig_key = %q
tsig_secret_file = %q
timeout = "2s"
`, filepath.Join(cdir, "state"), w.primary.Addr, w.primary.Addr, w.secondary.Addr, srv.URL, sim.DefaultUser, pw,
		strings.Join(zs, ", "), w.primary.Addr, strings.TrimSuffix(w.primary.Key.Name, "."), secret)
	w.cfg = filepath.Join(cdir, "config.toml")
	if err := os.WriteFile(w.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

type result struct {
	code           int
	stdout, stderr string
}

func (w *world) dcvd(t *testing.T, ctx context.Context, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(ctx, binary(t), append(args, "--config", w.cfg)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("dcvd %v: %v", args, err)
	}
	return r
}

// seed adds n pending orders over the zones — every 5th with a CNAME
// challenge (20 %), every 10th starting on email (10 %), every 4th with a
// wildcard SAN and every 6th with a www SAN — plus one finished order per
// zone, each on email so that any write would show. It returns the ids of
// the pending and of the finished orders.
func (w *world) seed(n int) (pending, finished []int) {
	for i := 0; i < n; i++ {
		z := w.zones[i%len(w.zones)]
		o := sim.OrderSpec{CommonName: fmt.Sprintf("h%d.%s", i, z)}
		if i%5 == 0 {
			o.RecordType = "CNAME"
		}
		if i%10 == 3 {
			o.AuthType = "email"
		}
		if i%4 == 1 {
			o.SANs = append(o.SANs, "*."+o.CommonName)
		}
		if i%6 == 2 {
			o.SANs = append(o.SANs, "www."+o.CommonName)
		}
		if i%7 == 4 {
			o.OrderStatus = "IN_PROCESS"
		}
		pending = append(pending, w.sim.AddOrder(o))
	}
	states := []string{"COMPLETED", "CANCELLED", "REJECTED", "EXPIRED", "REFUNDED"}
	for i, z := range w.zones {
		finished = append(finished, w.sim.AddOrder(sim.OrderSpec{CommonName: "done." + z, AuthType: "email", OrderStatus: states[i%len(states)]}))
	}
	return pending, finished
}

// synced waits until the secondary serves every zone at the primary's
// serial (dcvd waits for secondaries after adding a record, not after
// removing one).
func (w *world) synced(t *testing.T) {
	t.Helper()
	serial := func(addr, zone string) uint32 {
		m := new(dns.Msg).SetQuestion(dns.Fqdn(zone), dns.TypeSOA)
		in, err := dns.Exchange(m, addr)
		if err != nil || len(in.Answer) == 0 {
			return 0
		}
		if soa, ok := in.Answer[0].(*dns.SOA); ok {
			return soa.Serial
		}
		return 0
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, z := range w.zones {
		for serial(w.secondary.Addr, z) != serial(w.primary.Addr, z) {
			if time.Now().After(deadline) {
				t.Fatalf("secondary still behind on %s", z)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// leftovers lists every Sectigo challenge record on either server (AXFR),
// once the secondary caught up.
func (w *world) leftovers(t *testing.T) []string {
	t.Helper()
	w.synced(t)
	var out []string
	for _, b := range []*testenv.BIND{w.primary, w.secondary} {
		for _, z := range w.zones {
			rrs, err := b.AXFR(context.Background(), z)
			if err != nil {
				t.Fatalf("AXFR %s from %s: %v", z, b.Addr, err)
			}
			for _, rr := range rrs {
				switch r := rr.(type) {
				case *dns.TXT:
					if strings.HasSuffix(strings.Join(r.Txt, ""), ".sectigo.com") {
						out = append(out, b.Addr+" "+rr.String())
					}
				case *dns.CNAME:
					if strings.HasSuffix(strings.ToLower(r.Target), ".sectigo.com.") {
						out = append(out, b.Addr+" "+rr.String())
					}
				}
			}
		}
	}
	return out
}

// check: every pending order issued, no finished order touched, no record
// left on either server.
func (w *world) check(t *testing.T, pending, finished []int) {
	t.Helper()
	for _, id := range pending {
		if o, _ := w.sim.Order(id); o.OrderStatus != "COMPLETED" || o.CertStatus != "ACTIVE" {
			t.Errorf("order %d (%s) ended %s/%s", id, o.CommonName, o.OrderStatus, o.CertStatus)
		}
	}
	for _, id := range finished {
		if o, _ := w.sim.Order(id); o.Writes != 0 || o.AuthType != "email" {
			t.Errorf("finished order %d touched: %+v", id, o)
		}
	}
	if fw := w.sim.FinishedWrites(); len(fw) != 0 {
		t.Errorf("writes attempted on finished orders: %v", fw)
	}
	if l := w.leftovers(t); len(l) > 0 {
		t.Errorf("records left:\n%s", strings.Join(l, "\n"))
	}
}

func zoneNames(n int) []string {
	var zs []string
	for i := 0; i < n; i++ {
		zs = append(zs, fmt.Sprintf("wzone%02d.test", i))
	}
	return zs
}

// TestRun60Orders: one `dcvd run` issues 60 WebNIC orders over 10 zones on
// BIND primary + secondary.
func TestRun60Orders(t *testing.T) {
	w := newWorld(t, zoneNames(10))
	pending, finished := w.seed(60)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	binary(t) // built before the clock starts
	start := time.Now()
	r := w.dcvd(t, ctx, "run", "--timeout", "2m")
	if r.code != 0 {
		t.Fatalf("run exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("dcvd run: %d orders in %s, %d WebNIC calls\n%s", len(pending), time.Since(start).Round(time.Millisecond), w.sim.Requests(""), r.stdout)
	w.check(t, pending, finished)
	st := w.dcvd(t, ctx, "status", "--all", "--json")
	var rows []struct {
		Name, State, DNS, Reason string
	}
	if err := json.Unmarshal([]byte(st.stdout), &rows); err != nil {
		t.Fatalf("status --json: %v\n%s", err, st.stdout)
	}
	for _, row := range rows {
		if row.State != "cleaned" || row.DNS != "removed" {
			t.Errorf("challenge %s ended %s/%s: %s", row.Name, row.State, row.DNS, row.Reason)
		}
	}
}

// TestKill9: `dcvd run` killed with SIGKILL at random moments, then run to
// the end: the same result, and no record ever duplicated.
func TestKill9(t *testing.T) {
	w := newWorld(t, zoneNames(10))
	pending, finished := w.seed(60)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	for i := 0; i < 5; i++ {
		cmd := exec.CommandContext(ctx, binary(t), "run", "--timeout", "1m", "--config", w.cfg)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(50+rng.IntN(1200)) * time.Millisecond
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-time.After(delay):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			t.Logf("iteration %d: killed after %s", i, delay)
		case err := <-done:
			t.Logf("iteration %d: finished before the kill (%v)", i, err)
		}
		seen := map[string]bool{}
		for _, rr := range w.leftovers(t) {
			if seen[rr] {
				t.Fatalf("duplicate record %s", rr)
			}
			seen[rr] = true
		}
	}
	r := w.dcvd(t, ctx, "run", "--timeout", "2m")
	if r.code != 0 {
		t.Fatalf("final run exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	w.check(t, pending, finished)
}

// TestHostileChallenge: an order whose challenge names a host outside the
// order's names, and one listing a name it does not cover, are refused by
// the engine with a reason in `dcvd status`; nothing is written for them,
// and the honest challenges beside them are validated.
func TestHostileChallenge(t *testing.T) {
	w := newWorld(t, zoneNames(2))
	z0, z1 := w.zones[0], w.zones[1]
	honest := w.sim.AddOrder(sim.OrderSpec{CommonName: "ok." + z0})
	outside := w.sim.AddOrder(sim.OrderSpec{CommonName: "a." + z0, Host: "_0123456789ABCDEF0123456789ABCDEF.victim." + z1})
	foreign := w.sim.AddOrder(sim.OrderSpec{CommonName: "b." + z0, SANs: []string{"c." + z0}, Foreign: "victim." + z1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := w.dcvd(t, ctx, "run", "--timeout", "1m")
	if r.code != 1 {
		t.Fatalf("run exit %d, want 1 (refused challenges)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if o, _ := w.sim.Order(honest); o.OrderStatus != "COMPLETED" {
		t.Errorf("honest order: %+v", o)
	}
	// The order whose own challenge points elsewhere cannot complete; the
	// one with a foreign extra name completes on its real names only.
	if o, _ := w.sim.Order(outside); o.OrderStatus == "COMPLETED" {
		t.Errorf("order with an outside host issued: %+v", o)
	}
	if o, _ := w.sim.Order(foreign); o.OrderStatus != "COMPLETED" {
		t.Errorf("order with a foreign name: its own names were not validated: %+v", o)
	}
	st := w.dcvd(t, ctx, "status", "--all")
	for _, want := range []string{"refused", "victim." + z1} {
		if !strings.Contains(st.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, st.stdout)
		}
	}
	for _, b := range []*testenv.BIND{w.primary, w.secondary} {
		rrs, err := b.AXFR(context.Background(), z1)
		if err != nil {
			t.Fatal(err)
		}
		for _, rr := range rrs {
			if strings.Contains(strings.ToLower(rr.Header().Name), "victim") {
				t.Errorf("written outside the order: %s", rr)
			}
		}
	}
	if l := w.leftovers(t); len(l) > 0 {
		t.Errorf("records left:\n%s", strings.Join(l, "\n"))
	}
}

// TestRunBadInput: each credential problem and a CA fault during `dcvd run`
// gives one line naming the cause and the documented exit code, and loses
// nothing (the next good run issues every order).
func TestRunBadInput(t *testing.T) {
	w := newWorld(t, zoneNames(2))
	pending, finished := w.seed(6)
	good := w.cfg
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	variant := func(old, new string) {
		t.Helper()
		b, err := os.ReadFile(good)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), old) {
			t.Fatalf("config lacks %q", old)
		}
		w.cfg = filepath.Join(t.TempDir(), "config.toml")
		os.WriteFile(w.cfg, []byte(strings.Replace(string(b), old, new, 1)), 0o600)
	}
	for _, c := range []struct {
		name, old, new string
		code           int
		want           []string
	}{
		{"wrong username", fmt.Sprintf("username = %q", sim.DefaultUser), `username = "api-nobody"`, 1,
			[]string{"username rejected", "500 RES5001", "Invalid username"}},
		{"wrong password", "password_file", "password = \"not-it\"\n#", 1,
			[]string{"password rejected", "RES4012"}},
		{"missing password file", "password_file = \"", "password_file = \"/nonexistent", 2,
			[]string{"config.toml", "password_file"}},
		{"unknown environment", "[[ca]]\n", "[[ca]]\nenvironment = \"staging\"\n", 2,
			[]string{"config.toml", `environment "staging"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			variant(c.old, c.new)
			r := w.dcvd(t, ctx, "run", "--timeout", "30s")
			if r.code != c.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, c.code, r.stdout, r.stderr)
			}
			out := r.stdout + r.stderr
			for _, want := range c.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\nstdout:\n%s\nstderr:\n%s", want, r.stdout, r.stderr)
				}
			}
			t.Logf("exit %d: %s", r.code, strings.TrimSpace(out))
			if strings.Contains(out, "not-it") {
				t.Errorf("password echoed:\n%s", out)
			}
		})
	}

	// IP not allow-listed: the simulator now only allows another address.
	t.Run("IP not allow-listed", func(t *testing.T) {
		w.cfg = good
		blocked := sim.New(sim.Options{AllowedIPs: []string{"127.0.0.99"}})
		blocked.AddOrder(sim.OrderSpec{CommonName: "x." + w.zones[0]})
		srv := httptest.NewServer(blocked)
		defer srv.Close()
		b, _ := os.ReadFile(good)
		re := strings.SplitN(strings.SplitN(string(b), "base_url = \"", 2)[1], "\"", 2)[0]
		variant(re, srv.URL)
		r := w.dcvd(t, ctx, "run", "--timeout", "30s")
		if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "IP address is not on the API credential's allow-list") || !strings.Contains(r.stdout+r.stderr, "403 RES0004") {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})

	// A CA fault in the middle of the run (5xx on every status check, a
	// truncated switch reply): the run says which call failed and exits with
	// a code; the next run, despite an expired token and a 429, finishes
	// the job.
	t.Run("faults then a good run", func(t *testing.T) {
		w.cfg = good
		w.sim.Inject("PUT", "/ssl/v2/orders/{id}/auth", simkit.Truncated, 1)
		w.sim.Inject("GET", "/ssl/v2/orders/{id}/dcv-status", simkit.ServerError, 1000)
		r := w.dcvd(t, ctx, "run", "--timeout", "3s")
		if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "500 DOM5000") {
			t.Errorf("run with a failing CA: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		w.sim.ClearFaults()
		// The good run meets an expired token and a 429 on its way.
		w.sim.Inject("GET", "/ssl/v2/orders/{id}/dcv-status", sim.FaultTokenExpired, 1)
		w.sim.Inject("POST", "/ssl/v2/orders/search", simkit.RateLimit, 1)
		tokens := w.sim.Requests(sim.RouteToken)
		r = w.dcvd(t, ctx, "run", "--timeout", "1m")
		if r.code != 0 {
			t.Fatalf("good run: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		w.check(t, pending, finished)
		if n := w.sim.Requests(sim.RouteToken) - tokens; n != 2 {
			t.Errorf("%d tokens minted by the good run, want 2 (one more after the expiry)", n)
		}
	})
}
