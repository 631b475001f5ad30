package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	sandbox "github.com/dcvd/dcvd/sandbox/digicert"
)

// TestDemo runs `dcvd demo` as a user would on a fresh checkout.
func TestDemo(t *testing.T) {
	start := time.Now()
	r := runDcvd(t, deadlineCtx(t, 60*time.Second), nil, "demo")
	took := time.Since(start)
	if r.code != 0 {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"example.com", "example.org", "shop.example.net", "mail.webnic.example", "example.info", "mail.example.biz", "challenges validated and their records removed"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "CNAME") {
		t.Errorf("demo did not validate by CNAME:\n%s", r.stdout)
	}
	t.Logf("demo took %s", took)
}

// seedOrders adds n orders spread over zones: every third one is an apex +
// wildcard pair, the rest a single host name.
func seedOrders(sim *sandbox.Server, zones []string, n int) {
	for i := 0; i < n; i++ {
		z := zones[i%len(zones)]
		switch {
		case i%3 == 0:
			sim.AddOrder(sandbox.OrderSpec{CommonName: fmt.Sprintf("a%d.%s", i, z), DNSNames: []string{fmt.Sprintf("*.a%d.%s", i, z)}})
		default:
			sim.AddOrder(sandbox.OrderSpec{CommonName: fmt.Sprintf("h%d.%s", i, z)})
		}
	}
}

func zoneNames(n int) []string {
	var zs []string
	for i := 0; i < n; i++ {
		zs = append(zs, fmt.Sprintf("zone%02d.test", i))
	}
	return zs
}

// TestRun200Orders: 200 simulator orders across 20 zones on real BIND; one
// `dcvd run` validates them all, leaves nothing in any zone (AXFR) and
// `dcvd status` shows every challenge done.
func TestRun200Orders(t *testing.T) {
	zones := zoneNames(20)
	w := newWorld(t, zones, nil)
	seedOrders(w.sim, zones, 200)
	cfg := w.config(t, "test-key", "")
	ctx := deadlineCtx(t, 3*time.Minute)

	r := runDcvd(t, ctx, nil, "run", "--config", cfg, "--timeout", "2m")
	if r.code != 0 {
		t.Fatalf("run exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if issued, total := w.allIssued(t); issued != total || total != 200 {
		t.Fatalf("issued %d of %d orders", issued, total)
	}
	if l := w.leftovers(t); len(l) > 0 {
		t.Fatalf("records left in zones:\n%s", strings.Join(l, "\n"))
	}
	st := runDcvd(t, ctx, nil, "status", "--config", cfg, "--all", "--json")
	var rows []statusRow
	if err := json.Unmarshal([]byte(st.stdout), &rows); err != nil {
		t.Fatalf("status --json: %v\n%s", err, st.stdout)
	}
	if len(rows) != 200 {
		t.Fatalf("status shows %d challenges, want 200", len(rows))
	}
	for _, row := range rows {
		if row.State != "cleaned" || row.DNS != "removed" {
			t.Fatalf("challenge %s ended %s/%s: %s", row.Name, row.State, row.DNS, row.Reason)
		}
	}
}

// TestKill9 kills `dcvd run` with SIGKILL at random moments, then runs it to
// the end: every order completes and no record is left or duplicated.
func TestKill9(t *testing.T) {
	zones := zoneNames(5)
	w := newWorld(t, zones, nil)
	seedOrders(w.sim, zones, 60)
	cfg := w.config(t, "test-key", "")
	ctx := deadlineCtx(t, 4*time.Minute)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for i := 0; i < 6; i++ {
		cmd := exec.CommandContext(ctx, dcvdBin, "run", "--config", cfg, "--timeout", "1m")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(rng.IntN(1500)) * time.Millisecond
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
		if err := w.noDuplicates(t); err != nil {
			t.Fatal(err)
		}
	}
	r := runDcvd(t, ctx, nil, "run", "--config", cfg, "--timeout", "2m")
	if r.code != 0 {
		t.Fatalf("final run exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if issued, total := w.allIssued(t); issued != total {
		t.Fatalf("issued %d of %d orders", issued, total)
	}
	if l := w.leftovers(t); len(l) > 0 {
		t.Fatalf("records left after kill -9 and rerun:\n%s", strings.Join(l, "\n"))
	}
}

// noDuplicates checks that no owner name holds the same value twice and no
// owner holds more than one dcvd value (one order = one random value).
func (w *world) noDuplicates(t *testing.T) error {
	seen := map[string]int{}
	for _, rr := range w.leftovers(t) {
		seen[rr]++
		if seen[rr] > 1 {
			return fmt.Errorf("duplicate record %s", rr)
		}
	}
	return nil
}

// TestBadInput: each bad input gives one line naming the cause, the
// documented exit code, and loses nothing.
func TestBadInput(t *testing.T) {
	w := newWorld(t, []string{"bad.test"}, nil)
	w.sim.AddOrder(sandbox.OrderSpec{CommonName: "www.bad.test"})
	ctx := deadlineCtx(t, 2*time.Minute)
	write := func(name, text string) string {
		p := w.dir + "/" + name
		if err := writeFile(p, text); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := w.config(t, "test-key", "")
	goodText := readFile(t, good)

	cases := []struct {
		name   string
		config string
		want   string
		code   int
	}{
		{"malformed TOML", write("malformed.toml", "[daemon\n"), "malformed.toml:", 2},
		{"unknown key", write("unknown.toml", goodText+"bogus_key = 1\n"), `unknown key "dns.bogus_key"`, 2},
		{"missing secret file", write("nosecret.toml", strings.Replace(goodText, "tsig.secret", "missing.secret", 1)), "missing.secret", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runDcvd(t, ctx, nil, "run", "--config", c.config, "--timeout", "10s")
			checkOneLine(t, r, c.code, c.want)
		})
	}
}

func checkOneLine(t *testing.T, r result, code int, want string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Errorf("stderr is not one line containing %q:\n%s", want, r.stderr)
	}
}

var _ = context.Background

// TestRuntimeErrors: DNS and CA failures during `dcvd run` each end with
// exit 1, one summary line naming the cause (server and rcode, or request
// and DigiCert's error), and nothing lost: the order stays pending for the
// next run and no record is left behind.
func TestRuntimeErrors(t *testing.T) {
	type setup func(t *testing.T, w *world) string
	withKey := func(key string) setup {
		return func(t *testing.T, w *world) string { return w.config(t, key, "") }
	}
	fault := func(method, path string, f sandbox.Fault) setup {
		return func(t *testing.T, w *world) string {
			w.sim.Inject(method, path, f, 1000)
			return w.config(t, "test-key", "")
		}
	}
	cases := []struct {
		name    string
		noWrite bool
		setup   setup
		want    []string
	}{
		{"DNS server unreachable", false, func(t *testing.T, w *world) string {
			cfg := w.config(t, "test-key", "")
			text := strings.Replace(readFile(t, cfg), "server = \""+w.bind.Addr+"\"", "server = \"127.0.0.1:9\"", 1)
			writeFile(cfg, text)
			return cfg
		}, []string{"127.0.0.1:9", "unreachable"}},
		{"TSIG mismatch", false, func(t *testing.T, w *world) string {
			cfg := w.config(t, "test-key", "")
			writeFile(w.dir+"/tsig.secret", "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCB3cm9uZyBzZWM=\n")
			return cfg
		}, []string{w0addr, "BADSIG"}},
		{"REFUSED", true, withKey("test-key"), []string{w0addr, "REFUSED"}},
		{"DigiCert 401", false, withKey("wrong-key"), []string{"GET /order/certificate", "401"}},
		{"DigiCert 403", false, withKey("view-key"), []string{"403", "access_denied"}},
		{"DigiCert 404", false, fault("GET", "/order/certificate/{id}/validation", sandbox.FaultNotFound), []string{"404", "not_found|order"}},
		{"DigiCert 429", false, fault("", "*", sandbox.FaultRateLimit), []string{"429", "request_limit_exceeded"}},
		{"DigiCert 500", false, fault("", "*", sandbox.FaultServerError), []string{"500", "internal_error"}},
		{"DigiCert malformed JSON", false, fault("GET", "/order/certificate", sandbox.FaultMalformedJSON), []string{"GET /order/certificate", "JSON"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorldOpts(t, []string{"err.test"}, c.noWrite)
			id := w.sim.AddOrder(sandbox.OrderSpec{CommonName: "www.err.test"})
			cfg := c.setup(t, w)
			r := runDcvd(t, deadlineCtx(t, time.Minute), nil, "run", "--config", cfg, "--timeout", "20s")
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			found := false
			for _, line := range strings.Split(r.stdout, "\n") {
				ok := true
				for _, want := range c.want {
					want = strings.ReplaceAll(want, w0addr, w.bind.Addr)
					ok = ok && strings.Contains(line, want)
				}
				found = found || ok
			}
			if !found {
				t.Fatalf("no summary line names %q\nstdout:\n%s\nstderr:\n%s", c.want, r.stdout, r.stderr)
			}
			if o, _ := w.sim.Order(id); o.Status != "pending" {
				t.Fatalf("order %d is %s, want still pending", id, o.Status)
			}
			if l := w.leftovers(t); len(l) > 0 {
				t.Fatalf("records left: %v", l)
			}
		})
	}
}

// w0addr in an expected string stands for the world's BIND address.
const w0addr = "<bind>"

// TestDelegationCNAME: the customer's zone is not configured in dcvd; a
// one-time `_dnsauth.www.cust.test CNAME www.cust.test.dcv.test.` delegates
// the DCV record into dcv.test, which dcvd writes. dcvd publishes at the
// CNAME target, DigiCert (the simulator) follows the CNAME, the order is
// issued and nothing is left.
func TestDelegationCNAME(t *testing.T) {
	w := newWorld(t, []string{"cust.test", "dcv.test"}, map[string][]string{
		"cust.test": {"_dnsauth.www IN CNAME www.cust.test.dcv.test."},
	})
	id := w.sim.AddOrder(sandbox.OrderSpec{CommonName: "www.cust.test"})
	cfg := w.config(t, "test-key", "")
	text := readFile(t, cfg)
	text = strings.Replace(text, `zones = ["cust.test", "dcv.test"]`, `zones = ["dcv.test"]`, 1)
	text = strings.Replace(text, "schedule = \"@every 1h\"\n", "schedule = \"@every 1h\"\ntxt_name = \"dnsauth\"\n", 1)
	writeFile(cfg, text)

	r := runDcvd(t, deadlineCtx(t, time.Minute), nil, "run", "--config", cfg, "--timeout", "30s")
	if r.code != 0 {
		t.Fatalf("run exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if o, _ := w.sim.Order(id); o.Status != "issued" {
		t.Fatalf("order %s, want issued", o.Status)
	}
	st := runDcvd(t, deadlineCtx(t, time.Minute), nil, "status", "--config", cfg, "--all", "--json")
	var rows []statusRow
	json.Unmarshal([]byte(st.stdout), &rows)
	if len(rows) != 1 || rows[0].Record != "www.cust.test.dcv.test." || rows[0].Zone != "dcv.test." {
		t.Fatalf("record not published at the CNAME target: %+v", rows)
	}
	if l := w.leftovers(t); len(l) > 0 {
		t.Fatalf("records left: %v", l)
	}
}

// TestHookQuietOnSuccess: certbot reports any stderr of a hook as error
// output, so a successful hook prints nothing there even at log_level info;
// a usage error exits 2 with one line.
func TestHookQuietOnSuccess(t *testing.T) {
	w := newWorld(t, []string{"hook.test"}, nil)
	cfg := w.config(t, "test-key", "")
	writeFile(cfg, strings.Replace(readFile(t, cfg), `log_level = "warn"`, `log_level = "info"`, 1))
	ctx := deadlineCtx(t, time.Minute)
	for _, args := range [][]string{
		{"hook", "add", "_acme-challenge.hook.test", "quiet-value-1"},
		{"hook", "remove", "_acme-challenge.hook.test", "quiet-value-1"},
	} {
		r := runDcvd(t, ctx, nil, append([]string{"--config", cfg}, args...)...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	r := runDcvd(t, ctx, nil, "--config", cfg, "hook", "add", "_acme-challenge.elsewhere.example", "v")
	checkOneLine(t, r, 2, "elsewhere.example")
}

// TestHookDelegationCNAME: certbot hands dcvd the customer's domain; its
// `_acme-challenge` name is a one-time CNAME into dcv.test, the only zone
// dcvd writes. The hook publishes at the target, waits, and removes it.
func TestHookDelegationCNAME(t *testing.T) {
	w := newWorld(t, []string{"cust.test", "dcv.test"}, map[string][]string{
		"cust.test": {"_acme-challenge.shop IN CNAME shop.cust.test.dcv.test."},
	})
	cfg := w.config(t, "test-key", "")
	writeFile(cfg, strings.Replace(readFile(t, cfg), `zones = ["cust.test", "dcv.test"]`, `zones = ["dcv.test"]`, 1))
	ctx := deadlineCtx(t, time.Minute)
	env := []string{"CERTBOT_DOMAIN=shop.cust.test", "CERTBOT_VALIDATION=delegated-value", "CERTBOT_REMAINING_CHALLENGES=0", "CERTBOT_ALL_DOMAINS=shop.cust.test"}
	r := runDcvd(t, ctx, env, "--config", cfg, "hook", "certbot-auth")
	if r.code != 0 {
		t.Fatalf("certbot-auth exit %d: %s", r.code, r.stderr)
	}
	txt := func() []string {
		rrs, err := w.bind.AXFR(ctx, "dcv.test")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, rr := range rrs {
			if strings.HasPrefix(rr.Header().Name, "shop.cust.test.dcv.test.") && strings.Contains(rr.String(), "TXT") {
				out = append(out, rr.String())
			}
		}
		return out
	}
	if got := txt(); len(got) != 1 || !strings.Contains(got[0], "delegated-value") {
		t.Fatalf("record at the CNAME target: %v", got)
	}
	r = runDcvd(t, ctx, env, "--config", cfg, "hook", "certbot-cleanup")
	if r.code != 0 {
		t.Fatalf("certbot-cleanup exit %d: %s", r.code, r.stderr)
	}
	if got := txt(); len(got) != 0 {
		t.Fatalf("left after cleanup: %v", got)
	}
}
