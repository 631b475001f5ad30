package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/internal/testenv"
	sandbox "github.com/dcvd/dcvd/sandbox/digicert"
)

// dcvdBin is the dcvd binary built once for the tests that run it as a
// separate process (exit codes, kill -9).
var dcvdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dcvd-bin-")
	if err != nil {
		panic(err)
	}
	dcvdBin = filepath.Join(dir, "dcvd")
	out, err := exec.Command("go", "build", "-o", dcvdBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one dcvd process did.
type result struct {
	code           int
	stdout, stderr string
}

func runDcvd(t testing.TB, ctx context.Context, env []string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(ctx, dcvdBin, args...)
	cmd.Env = append(os.Environ(), env...)
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

// world is a real BIND primary for some zones plus the DigiCert simulator
// checking DNS against it.
type world struct {
	bind   *testenv.BIND
	sim    *sandbox.Server
	simURL string
	zones  []string
	dir    string
}

func newWorld(t *testing.T, zones []string, records map[string][]string) *world {
	t.Helper()
	var bz []testenv.BINDZone
	for _, z := range zones {
		bz = append(bz, testenv.BINDZone{Name: z, Records: records[z]})
	}
	return startWorld(t, zones, bz)
}

// newWorldOpts is newWorld where the zones may refuse updates.
func newWorldOpts(t *testing.T, zones []string, noUpdate bool) *world {
	t.Helper()
	var bz []testenv.BINDZone
	for _, z := range zones {
		bz = append(bz, testenv.BINDZone{Name: z, NoUpdate: noUpdate})
	}
	return startWorld(t, zones, bz)
}

func startWorld(t testing.TB, zones []string, bz []testenv.BINDZone) *world {
	return startWorldLimits(t, zones, bz, false)
}

// startWorldLimits is startWorld with the simulator enforcing DigiCert's
// documented limits when limited.
func startWorldLimits(t testing.TB, zones []string, bz []testenv.BINDZone, limited bool) *world {
	return startWorldBIND(t, zones, testenv.BINDOptions{Zones: bz}, limited)
}

// startWorldBIND is startWorldLimits with named started from opts.
func startWorldBIND(t testing.TB, zones []string, opts testenv.BINDOptions, limited bool) *world {
	w := &world{bind: testenv.StartBIND(t, opts), zones: zones, dir: t.TempDir()}
	w.freshSim(t, limited)
	return w
}

// freshSim gives the world a new, empty DigiCert simulator checking DNS at
// its BIND.
func (w *world) freshSim(t testing.TB, limited bool) {
	var log *slog.Logger
	if dir := os.Getenv("DCVD_BENCH_LOG"); dir != "" {
		// The benchmark keeps the simulator's log next to the instances':
		// every request and every DNS check it made, with what it saw.
		f, err := os.OpenFile(filepath.Join(dir, "sim.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		log = slog.New(slog.NewTextHandler(f, nil))
	}
	w.sim = sandbox.New(sandbox.Options{Keys: []string{"test-key"}, ViewOnlyKeys: []string{"view-key"}, DNSServers: []string{w.bind.Addr}, NoLimits: !limited, Logger: log})
	srv := httptest.NewServer(w.sim)
	t.Cleanup(srv.Close)
	w.simURL = srv.URL + sandbox.Prefix
}

// config writes a config for the world; extra is appended.
func (w *world) config(t testing.TB, apiKey, extra string) string {
	t.Helper()
	secret := filepath.Join(w.dir, "tsig.secret")
	os.WriteFile(secret, []byte(w.bind.Key.Secret+"\n"), 0o600)
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
servers = [%q]

[[ca]]
type = "digicert"
name = "dc"
base_url = %q
api_key = %q
schedule = "@every 1h"
backoff_min = "20ms"
backoff_max = "500ms"
backoff_retries = 2
rate_limits = [{n = 100000, window = "1s"}]

[[dns]]
type = "rfc2136"
name = "bind"
zones = [%s]
server = %q
tsig_key = %q
tsig_secret_file = %q
timeout = "2s"
%s`, filepath.Join(w.dir, "state"), w.bind.Addr, w.bind.Addr, w.simURL, apiKey,
		strings.Join(zs, ", "), w.bind.Addr, strings.TrimSuffix(w.bind.Key.Name, "."), secret, extra)
	path := filepath.Join(w.dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// leftovers lists the TXT and CNAME records of every zone whose value is
// one of the simulator's random values (what dcvd published).
func (w *world) leftovers(t testing.TB) []string {
	t.Helper()
	values := map[string]bool{}
	for _, id := range w.sim.Orders() {
		o, _ := w.sim.Order(id)
		values[o.RandomValue] = true
	}
	var out []string
	for _, z := range w.zones {
		rrs, err := w.bind.AXFR(context.Background(), z)
		if err != nil {
			t.Fatal(err)
		}
		for _, rr := range rrs {
			switch r := rr.(type) {
			case *dns.TXT:
				if values[strings.Join(r.Txt, "")] {
					out = append(out, rr.String())
				}
			case *dns.CNAME:
				if strings.HasSuffix(r.Target, "dcv.digicert.com.") {
					out = append(out, rr.String())
				}
			}
		}
	}
	return out
}

func (w *world) allIssued(t testing.TB) (issued, total int) {
	for _, id := range w.sim.Orders() {
		o, _ := w.sim.Order(id)
		total++
		if o.Status == "issued" {
			issued++
		}
	}
	return
}

func deadlineCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
