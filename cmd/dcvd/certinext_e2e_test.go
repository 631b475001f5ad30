package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/internal/testenv"
	cnx "github.com/dcvd/dcvd/sandbox/certinext"
)

// cnxWorld is a BIND primary and a BIND secondary (NOTIFY + IXFR) for some
// zones, and the CERTInext simulator checking every record on both (two
// "perspectives": a record counts only when both serve it).
type cnxWorld struct {
	primary, secondary *testenv.BIND
	sim                *cnx.Server
	url                string
	zones              []string
	dir                string
}

// cnxTokenTTL is the simulator's access-token lifetime in these tests: the
// issue's 20 s, shortened so that tokens expire several times in a run of
// a few seconds.
const cnxTokenTTL = 1500 * time.Millisecond

func newCNXWorld(t *testing.T, zones []string, o cnx.Options) *cnxWorld {
	t.Helper()
	secPort := testenv.FreePort(t, "127.0.0.1")
	var bz []testenv.BINDZone
	var sec strings.Builder
	for _, z := range zones {
		// notify-delay 0: the secondary hears of each change at once (BIND
		// waits 5 s by default), which keeps these tests short.
		bz = append(bz, testenv.BINDZone{Name: z, Notify: []string{fmt.Sprintf("127.0.0.1 port %d", secPort)}, Options: " notify-delay 0;"})
	}
	p := testenv.StartBIND(t, testenv.BINDOptions{Zones: bz})
	for _, z := range zones {
		fmt.Fprintf(&sec, "zone %q { type secondary; primaries { 127.0.0.1 port %d; }; file %q; };\n", z, p.Port, z+".bak")
	}
	s := testenv.StartBIND(t, testenv.BINDOptions{Port: secPort, ExtraConfig: sec.String()})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for _, z := range zones {
		if err := testenv.WaitSOA(ctx, s.Addr, z); err != nil {
			t.Fatalf("secondary %s: %v", z, err)
		}
	}
	o.DNSServers = []string{p.Addr, s.Addr}
	sim := cnx.New(o)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &cnxWorld{primary: p, secondary: s, sim: sim, url: srv.URL, zones: zones, dir: t.TempDir()}
}

// config writes a dcvd config: the CERTInext account (prevalidate on, the
// given client-side limits), rfc2136 to the primary, propagation checked on
// primary and secondary.
func (w *cnxWorld) config(t *testing.T, secret, limits string) string {
	t.Helper()
	tsig := filepath.Join(w.dir, "tsig.secret")
	os.WriteFile(tsig, []byte(w.primary.Key.Secret+"\n"), 0o600)
	sec := filepath.Join(w.dir, "certinext.secret")
	os.WriteFile(sec, []byte(secret+"\n"), 0o600)
	var zs []string
	for _, z := range w.zones {
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
type = "certinext"
name = "cnx"
base_url = %q
account_number = %q
client_secret_file = %q
schedule = "@every 1h"
prevalidate = true
backoff_min = "20ms"
backoff_max = "500ms"
rate_limits = %s

[[dns]]
type = "rfc2136"
name = "bind"
zones = [%s]
server = %q
tsig_key = %q
tsig_secret_file = %q
timeout = "2s"
`, filepath.Join(w.dir, "state"), w.primary.Addr, w.primary.Addr, w.secondary.Addr, w.url, cnx.DefaultAccount, sec, limits,
		strings.Join(zs, ", "), w.primary.Addr, strings.TrimSuffix(w.primary.Key.Name, "."), tsig)
	path := filepath.Join(w.dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// seed adds orders (single name, apex + wildcard, multi-SAN across two
// zones, in turn) and pending account domains (every third on email DCV)
// spread over the zones.
func (w *cnxWorld) seed(orders, domains int) {
	n := len(w.zones)
	for i := range orders {
		z := w.zones[i%n]
		switch i % 3 {
		case 0:
			w.sim.AddOrder(cnx.OrderSpec{Domain: fmt.Sprintf("s%d.%s", i, z)})
		case 1:
			w.sim.AddOrder(cnx.OrderSpec{Domain: fmt.Sprintf("w%d.%s", i, z), AdditionalDomains: []string{fmt.Sprintf("*.w%d.%s", i, z)}})
		default:
			w.sim.AddOrder(cnx.OrderSpec{Domain: fmt.Sprintf("m%d.%s", i, z),
				AdditionalDomains: []string{fmt.Sprintf("www.m%d.%s", i, z), fmt.Sprintf("m%d.%s", i, w.zones[(i+1)%n])}})
		}
	}
	for i := range domains {
		m := "dns-txt"
		if i%3 == 2 {
			m = "email"
		}
		w.sim.AddDomain(cnx.DomainSpec{Name: fmt.Sprintf("d%d.%s", i, w.zones[i%n]), Method: m})
	}
}

// settled returns the records left once the secondary has caught up with
// the primary (NOTIFY and IXFR are asynchronous): it polls until both
// agree, for at most ten seconds.
func (w *cnxWorld) settled(t *testing.T) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l := w.leftovers(t)
		p, s := 0, 0
		for _, r := range l {
			if strings.HasPrefix(r, w.primary.Addr+" ") {
				p++
			} else {
				s++
			}
		}
		if p == s || time.Now().After(deadline) {
			return l
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leftovers lists every _emudhra-challenge TXT record left on the primary
// or the secondary.
func (w *cnxWorld) leftovers(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, b := range []*testenv.BIND{w.primary, w.secondary} {
		for _, z := range w.zones {
			rrs, err := b.AXFR(context.Background(), z)
			if err != nil {
				t.Fatal(err)
			}
			for _, rr := range rrs {
				if _, ok := rr.(*dns.TXT); ok && strings.HasPrefix(rr.Header().Name, cnx.DefaultLabel+".") {
					out = append(out, b.Addr+" "+rr.String())
				}
			}
		}
	}
	return out
}

// done checks that every order is issued and every domain verified.
func (w *cnxWorld) done(t *testing.T) {
	t.Helper()
	for _, id := range w.sim.Orders() {
		if o, _ := w.sim.Order(id); o.Status != "issued" {
			t.Errorf("order %s: %s %v", id, o.Status, o.Names)
		}
	}
	for _, d := range w.sim.Domains() {
		if d.DCVStatus != "VERIFIED" {
			t.Errorf("domain %s: %s (method %s)", d.Name, d.DCVStatus, d.Method)
		}
	}
}

func cnxZones(n int) []string {
	var zs []string
	for i := range n {
		zs = append(zs, fmt.Sprintf("cnx%d.test", i))
	}
	return zs
}

// TestCERTInextRun: 30 orders and 15 pending account domains over 10 zones
// on a BIND primary + secondary, access tokens expiring every 1.5 s, the
// simulator enforcing a rate limit and dcvd staying under it: one `dcvd run`
// issues every order, verifies every domain, and leaves nothing in any zone.
func TestCERTInextRun(t *testing.T) {
	w := newCNXWorld(t, cnxZones(10), cnx.Options{AccessTTL: cnxTokenTTL, Limits: []cnx.Limit{{N: 60, Window: time.Second}}})
	w.seed(30, 15)
	// dcvd's limit sits a little under the CA's, as an operator would set
	// it: requests admitted a second apart can arrive closer together.
	cfg := w.config(t, cnx.DefaultSecret, `[{n = 50, window = "1s"}]`)
	start := time.Now()
	r := runDcvd(t, deadlineCtx(t, 3*time.Minute), nil, "run", "--config", cfg, "--timeout", "2m")
	took := time.Since(start)
	if r.code != 0 {
		t.Fatalf("run exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	w.done(t)
	if l := w.settled(t); len(l) > 0 {
		t.Fatalf("records left:\n%s", strings.Join(l, "\n"))
	}
	minted, refreshed := w.sim.TokenStats()
	calls := w.sim.Calls("")
	t.Logf("run took %v: %d CERTInext calls, %d access tokens (%d by refresh), max %d calls in 1 s, %d refused",
		took.Round(time.Millisecond), calls, minted, refreshed, w.sim.MaxIn(cnx.DefaultAccount, time.Second), w.sim.Denied(cnx.DefaultAccount))
	if took > 2*cnxTokenTTL && minted < 2 {
		t.Errorf("%d access tokens in %v with a %v lifetime: expiry not exercised", minted, took, cnxTokenTTL)
	}
	if d := w.sim.Denied(cnx.DefaultAccount); d != 0 {
		t.Errorf("%d requests refused with 429: the client-side limiter let too many through", d)
	}
	if m := w.sim.MaxIn(cnx.DefaultAccount, time.Second); m > 60 {
		t.Errorf("%d calls in one second, limit 60", m)
	}
	if !strings.Contains(r.stdout, "65 challenges: 65 cleaned") {
		t.Errorf("run summary: want 30 orders' 50 names and 15 domains cleaned:\n%s", r.stdout)
	}
}

// TestCERTInextKill9 kills `dcvd run` with SIGKILL at set moments, then
// runs it to the end: the same outcome, nothing left, nothing doubled. The
// simulator answers in the other shapes the spec lists (challenges list with
// dnsHost, txtToken, bare-array lists).
func TestCERTInextKill9(t *testing.T) {
	w := newCNXWorld(t, cnxZones(10), cnx.Options{AccessTTL: cnxTokenTTL, Limits: []cnx.Limit{{N: 60, Window: time.Second}},
		OrderShape: cnx.OrderChallenges, DomainShape: cnx.DomainTxtTokenDNSHost, BareLists: true})
	w.seed(30, 15)
	cfg := w.config(t, cnx.DefaultSecret, `[{n = 50, window = "1s"}]`)
	ctx := deadlineCtx(t, 4*time.Minute)
	for i, delay := range []time.Duration{300 * time.Millisecond, 900 * time.Millisecond, 1700 * time.Millisecond} {
		cmd := exec.CommandContext(ctx, dcvdBin, "run", "--config", cfg, "--timeout", "1m")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
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
	r := runDcvd(t, ctx, nil, "run", "--config", cfg, "--timeout", "2m")
	if r.code != 0 {
		t.Fatalf("final run exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	w.done(t)
	if l := w.settled(t); len(l) > 0 {
		t.Fatalf("records left after kill -9 and rerun:\n%s", strings.Join(l, "\n"))
	}
}

// TestCERTInextCommands drives `dcvd certinext ...` through the binary.
func TestCERTInextCommands(t *testing.T) {
	w := newCNXWorld(t, []string{"cli.test"}, cnx.Options{})
	order := w.sim.AddOrder(cnx.OrderSpec{Domain: "www.cli.test", AdditionalDomains: []string{"*.www.cli.test"}})
	w.sim.AddDomain(cnx.DomainSpec{Name: "done.cli.test", Verified: true})
	cfg := w.config(t, cnx.DefaultSecret, `[{n = 1000, window = "1s"}]`)
	ctx := deadlineCtx(t, time.Minute)
	run := func(args ...string) result {
		return runDcvd(t, ctx, nil, append(append([]string{"certinext"}, args...), "--config", cfg)...)
	}

	r := run("domain-add", "shop.cli.test")
	if r.code != 0 || !strings.Contains(r.stdout, "domain shop.cli.test added") {
		t.Fatalf("domain-add: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	d, _ := w.sim.Domain("shop.cli.test")
	r = run("domain-add", "shop.cli.test")
	if r.code != 1 || !strings.Contains(r.stderr, "409") || !strings.Contains(r.stderr, d.ID) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("duplicate domain-add: exit %d, stderr %q", r.code, r.stderr)
	}
	r = run("domain-dcv", "shop.cli.test")
	d, _ = w.sim.Domain("shop.cli.test")
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("record: _emudhra-challenge.shop.cli.test. TXT %q", d.Token)) {
		t.Fatalf("domain-dcv: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run("domain-verify", d.ID)
	if r.code != 1 || !strings.Contains(r.stdout, "(RECORD_NOT_FOUND): expected TXT _emudhra-challenge.shop.cli.test") ||
		!strings.Contains(r.stdout, "perspective "+w.primary.Addr+": NOT_FOUND") || !strings.Contains(r.stderr, "422") {
		t.Fatalf("domain-verify before publish: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run("domain-attempts", "shop.cli.test")
	if r.code != 0 || !strings.Contains(r.stdout, "FAILED") || !strings.Contains(r.stdout, "last attempt:") {
		t.Fatalf("domain-attempts: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run("domains", "--status", "PENDING", "--json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &list); r.code != 0 || err != nil || len(list) != 1 || list[0]["domainName"] != "shop.cli.test" {
		t.Fatalf("domains --json: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	r = run("domains")
	if r.code != 0 || !strings.Contains(r.stdout, "done.cli.test") || !strings.Contains(r.stdout, "VERIFIED") {
		t.Fatalf("domains: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	old := d.Token
	r = run("domain-method", "shop.cli.test", "dns-txt")
	d, _ = w.sim.Domain("shop.cli.test")
	if r.code != 0 || d.Token == old || !strings.Contains(r.stdout, d.Token) {
		t.Fatalf("domain-method: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run("order-dcv", order)
	tok := w.sim.OrderToken(order, "www.cli.test")
	if r.code != 0 || tok == "" || !strings.Contains(r.stdout, fmt.Sprintf("_emudhra-challenge.www.cli.test. TXT %q", tok)) {
		t.Fatalf("order-dcv: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run("domain-deactivate", "shop.cli.test")
	if d, _ = w.sim.Domain(d.ID); r.code != 0 || d.Status != "INACTIVE" {
		t.Fatalf("domain-deactivate: exit %d %+v\n%s%s", r.code, d, r.stdout, r.stderr)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"domain-method", "x.cli.test", "carrier-pigeon"}, 2, `method "carrier-pigeon"`},
		{[]string{"domain-dcv"}, 2, "accepts 1 arg"},
		{[]string{"domain-dcv", "nope.cli.test"}, 1, "no account domain named nope.cli.test"},
		{[]string{"order-dcv", "999"}, 1, "GET /ssl-certificates/999: 404"},
	} {
		r := run(tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("certinext %v: exit %d, stderr %q; want exit %d and %q on one line", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
	// Wrong secret: one line naming the token endpoint and invalid_client.
	bad := w.config(t, "wrong-secret", `[{n = 1000, window = "1s"}]`)
	r = runDcvd(t, ctx, nil, "certinext", "domains", "--config", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "POST /oauth/token: 401 invalid_client") || strings.Contains(r.stderr, "wrong-secret") ||
		strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("wrong secret: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestCERTInextDiagnosticsInStatus: an account publishing at an owner the
// CA does not query (txt_label = "_emsign-validation", the CA checks
// _emudhra-challenge) keeps failing verify; `dcvd status` shows CERTInext's
// own diagnostics as the reason, and the run says it is still waiting.
func TestCERTInextDiagnosticsInStatus(t *testing.T) {
	w := newCNXWorld(t, []string{"diag.test"}, cnx.Options{DomainShape: cnx.DomainNoHost})
	w.sim.AddDomain(cnx.DomainSpec{Name: "shop.diag.test"})
	cfg := w.config(t, cnx.DefaultSecret, `[{n = 1000, window = "1s"}]`)
	text := readFile(t, cfg)
	os.WriteFile(cfg, []byte(strings.Replace(text, "prevalidate = true", "prevalidate = true\ntxt_label = \"_emsign-validation\"", 1)), 0o600)
	ctx := deadlineCtx(t, time.Minute)
	r := runDcvd(t, ctx, nil, "run", "--config", cfg, "--timeout", "3s")
	if r.code != 3 {
		t.Fatalf("run exit %d, want 3 (waiting)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	d, _ := w.sim.Domain("shop.diag.test")
	if d.Attempts < 2 {
		t.Errorf("%d verify attempts, want the 422 retried", d.Attempts)
	}
	r = runDcvd(t, ctx, nil, "status", "--config", cfg)
	want := fmt.Sprintf("(RECORD_NOT_FOUND): expected TXT _emudhra-challenge.shop.diag.test %q; 0/2 perspectives agreed", d.Token)
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("status lacks CERTInext's diagnostics %q:\nexit %d\n%s%s", want, r.code, r.stdout, r.stderr)
	}
}

// TestCERTInextWrongSecretRun: `dcvd run` with a refused client secret
// says so in one line naming the token endpoint and invalid_client.
func TestCERTInextWrongSecretRun(t *testing.T) {
	w := newCNXWorld(t, []string{"bad.test"}, cnx.Options{})
	w.sim.AddOrder(cnx.OrderSpec{Domain: "www.bad.test"})
	cfg := w.config(t, "wrong-secret", `[{n = 1000, window = "1s"}]`)
	r := runDcvd(t, deadlineCtx(t, time.Minute), nil, "run", "--config", cfg, "--timeout", "10s")
	if r.code != 1 || !strings.Contains(r.stdout, `error: cnx: discover: certinext "cnx": list orders, page 1: certinext: POST /oauth/token: 401 invalid_client: "Client authentication failed"`) ||
		strings.Contains(r.stdout+r.stderr, "wrong-secret") {
		t.Fatalf("wrong secret: exit %d, want 1 and one line naming the token endpoint\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}
