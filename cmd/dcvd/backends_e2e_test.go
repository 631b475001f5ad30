package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/dnspublish/publishertest"
	"github.com/dcvd/dcvd/internal/testenv"
	sandbox "github.com/dcvd/dcvd/sandbox/digicert"
	mdrsim "github.com/dcvd/dcvd/sandbox/mijndomeinreseller"
)

// backendsWorld is a DigiCert simulator whose orders live in two zones: one
// on a real pdns_server (powerdns backend), one at the mijndomeinreseller
// simulator (its own DNS server). The CA simulator checks both servers.
type backendsWorld struct {
	pdns   *testenv.PDNS
	mdr    *mdrsim.Server
	mdrURL string
	mdrDNS string
	ca     *sandbox.Server
	caURL  string
	dir    string
}

func startBackendsWorld(t *testing.T) *backendsWorld {
	t.Helper()
	w := &backendsWorld{dir: t.TempDir()}
	w.pdns = testenv.StartPDNS(t, testenv.PDNSOptions{Zones: []testenv.PDNSZone{
		{Name: "pdns.test", Records: publishertest.ZoneFileLines("pdns.test")},
	}})
	w.mdr = mdrsim.New(mdrsim.Options{Keys: []string{"mdr-key"}})
	w.mdr.AddDomain("mdr.test")
	for _, r := range publishertest.Foreign("mdr.test") {
		name := strings.TrimSuffix(strings.TrimSuffix(r.FQDN, "mdr.test."), ".")
		if name == "" {
			name = "@"
		}
		w.mdr.AddRecords("mdr.test", mdrsim.Record{Name: name, Type: string(r.Type), Content: r.Value})
	}
	mdrHTTP := httptest.NewServer(w.mdr)
	t.Cleanup(mdrHTTP.Close)
	w.mdrURL = mdrHTTP.URL
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d, err := w.mdr.StartDNS(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.mdrDNS = d.Addr()
	w.ca = sandbox.New(sandbox.Options{Keys: []string{"test-key"}, DNSServers: []string{w.pdns.Addr, w.mdrDNS}, NoLimits: true})
	caHTTP := httptest.NewServer(w.ca)
	t.Cleanup(caHTTP.Close)
	w.caURL = caHTTP.URL + sandbox.Prefix
	return w
}

func (w *backendsWorld) config(t *testing.T, pdnsKey, mdrKey string) string {
	t.Helper()
	pk, mk := filepath.Join(w.dir, "pdns.key"), filepath.Join(w.dir, "mdr.key")
	os.WriteFile(pk, []byte(pdnsKey+"\n"), 0o600)
	os.WriteFile(mk, []byte(mdrKey+"\n"), 0o600)
	cfg := fmt.Sprintf(`[daemon]
state_dir = %q
log_level = "warn"
workers = 4

[propagation]
resolvers = [%q]
poll_min = "10ms"
poll_max = "200ms"
timeout = "20s"
[[propagation.override]]
zone = "pdns.test"
servers = [%q]
[[propagation.override]]
zone = "mdr.test"
servers = [%q]

[[ca]]
type = "digicert"
name = "dc"
base_url = %q
api_key = "test-key"
schedule = "@every 1h"
backoff_min = "20ms"
backoff_max = "500ms"
backoff_retries = 2
rate_limits = [{n = 100000, window = "1s"}]

[[dns]]
type = "powerdns"
name = "pdns"
zones = ["pdns.test"]
api_url = %q
api_key_file = %q

[[dns]]
type = "mijndomeinreseller"
name = "mdr"
zones = ["mdr.test"]
base_url = %q
api_key_file = %q
rate_limit = "100/1s"
`, filepath.Join(w.dir, "state"), w.pdns.Addr, w.pdns.Addr, w.mdrDNS, w.caURL, w.pdns.APIURL, pk, w.mdrURL, mk)
	path := filepath.Join(w.dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// served returns the TXT values at name on server.
func servedTXT(t *testing.T, server, name string) []string {
	t.Helper()
	v, err := publishertest.Served(context.Background(), server, name, dns.TypeTXT)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRunPowerDNSAndMijndomeinreseller: DigiCert simulator orders in a zone
// on a real pdns_server and in a domain at the mijndomeinreseller simulator
// (apex + wildcard next to SPF, a host name) are validated by one `dcvd
// run`; afterwards no record of dcvd's is left and the foreign records are
// as they were.
func TestRunPowerDNSAndMijndomeinreseller(t *testing.T) {
	w := startBackendsWorld(t)
	for _, z := range []string{"pdns.test", "mdr.test"} {
		w.ca.AddOrder(sandbox.OrderSpec{CommonName: z, DNSNames: []string{"*." + z}})
		w.ca.AddOrder(sandbox.OrderSpec{CommonName: "www." + z})
	}
	cfg := w.config(t, w.pdns.APIKey, "mdr-key")
	ctx := deadlineCtx(t, 2*time.Minute)
	r := runDcvd(t, ctx, nil, "run", "--config", cfg, "--timeout", "90s")
	if r.code != 0 {
		t.Fatalf("run exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	values := map[string]bool{}
	for _, id := range w.ca.Orders() {
		o, _ := w.ca.Order(id)
		if o.Status != "issued" {
			t.Errorf("order %d (%s) is %s", id, o.CommonName, o.Status)
		}
		values[o.RandomValue] = true
	}
	// Nothing of dcvd's left: the PowerDNS zone by AXFR, the
	// mijndomeinreseller zone through its API state.
	rrs, err := testenv.AXFR(ctx, w.pdns.Addr, "pdns.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, rr := range rrs {
		if txt, ok := rr.(*dns.TXT); ok && values[dnspublish.TXTValue(txt)] {
			t.Errorf("left in pdns.test: %v", rr)
		}
	}
	for _, rec := range w.mdr.Records("mdr.test") {
		if values[rec.Content] {
			t.Errorf("left in mdr.test: %+v", rec)
		}
	}
	for _, srv := range []struct{ addr, zone string }{{w.pdns.Addr, "pdns.test."}, {w.mdrDNS, "mdr.test."}} {
		if got := servedTXT(t, srv.addr, srv.zone); strings.Join(got, "|") != publishertest.SPF {
			t.Errorf("%s apex TXT after the run: %q", srv.zone, got)
		}
		if got := servedTXT(t, srv.addr, "busy."+srv.zone); strings.Join(got, "|") != publishertest.ForeignTXT {
			t.Errorf("busy.%s after the run: %q", srv.zone, got)
		}
	}
	if n := w.mdr.Calls("PUT /v2/domains/{domain}/dnszone/records"); n != 0 {
		t.Errorf("the mijndomeinreseller zone was replaced (PUT) %d times", n)
	}
}

// TestConfigCheckOnline: --online checks each API backend's key and zones
// with a read; a wrong key is one line naming the backend and the API's
// answer, exit 1.
func TestConfigCheckOnline(t *testing.T) {
	w := startBackendsWorld(t)
	ctx := deadlineCtx(t, time.Minute)
	r := runDcvd(t, ctx, nil, "config", "check", "--online", "--config", w.config(t, w.pdns.APIKey, "mdr-key"))
	if r.code != 0 || !strings.Contains(r.stdout, "pdns: ok") || !strings.Contains(r.stdout, "mdr: ok") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runDcvd(t, ctx, nil, "config", "check", "--online", "--config", w.config(t, "wrong-pdns-key", "wrong-mdr-key"))
	if r.code != 1 {
		t.Fatalf("wrong keys: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{`pdns: FAILED: powerdns "pdns": GET /api/v1/servers/localhost/zones: 401`, `mdr: FAILED: mijndomeinreseller "mdr": GET /v2/domains/mdr.test/dnszone/records: 401 AU-TH01`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "wrong-pdns-key") || strings.Contains(r.stdout+r.stderr, "wrong-mdr-key") {
		t.Error("a key is shown")
	}
}
