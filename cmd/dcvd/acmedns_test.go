package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/internal/testenv"
)

// TestAcmeDNSWithLegoCLI: the real lego CLI — upstream lego at the version
// tools/legocli pins (v4.34.0), unmodified, since Debian's lego 4.9.1 is
// built with acmedns disabled (its changelog's "nodns" list) — obtains an
// apex + wildcard certificate from Pebble with `--dns acme-dns` through
// `dcvd daemon`'s acme-dns API: the first run registers and stops asking
// for the one-time CNAME, the test creates it in BIND, the second run
// issues. The values are published through the rfc2136 backend into BIND
// (the zone of [daemon.acmedns] lies in example.com), the audit trail shows
// them as acmedns writes, the password is stored only as a bcrypt hash and
// appears nowhere, and once `keep` has passed no TXT is left in the zone.
//
// The binary comes from testenv.LegoCLI: $DCVD_LEGO_CLI (.ci/run builds it
// before the test run) or a build cached per go.sum in the user cache dir,
// which only the first run on a machine pays.
func TestAcmeDNSWithLegoCLI(t *testing.T) {
	lego := testenv.LegoCLI(t) // first: a first-time build must not eat the deadline below
	w := startAcmeDNS(t)
	w.checkRefusals(t)

	storage := filepath.Join(w.dir, "lego-acmedns.json")
	legoPath := filepath.Join(w.dir, "lego")
	names := []string{w.zone, "*." + w.zone}
	runLego := func() result {
		t.Helper()
		args := []string{"--server", w.pebble.DirURL, "--path", legoPath, "--accept-tos", "--email", "test@" + w.zone,
			"--key-type", "ec256", "--dns", "acme-dns", "--dns.resolvers", w.bind.Addr,
			// lego follows the CNAME at BIND (on its high port); its own
			// check on the authoritative servers would ask port 53, and
			// dcvd's /update has already proven the value on every one.
			"--dns.propagation-disable-ans"}
		for _, n := range names {
			args = append(args, "-d", n)
		}
		cmd := exec.CommandContext(w.ctx, lego, append(args, "run")...)
		cmd.Env = []string{
			"PATH=" + os.Getenv("PATH"),
			"HOME=" + w.dir,
			"ACME_DNS_API_BASE=" + w.base,
			"ACME_DNS_STORAGE_PATH=" + storage,
			"LEGO_CA_CERTIFICATES=" + w.pebble.CAFile,
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		r := result{stderr: out.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("lego: %v\n%s", err, out.String())
		}
		return r
	}

	// 1. lego registers and stops, asking for the CNAME.
	r := runLego()
	if r.code == 0 || !strings.Contains(r.stderr, "new account created for") {
		t.Fatalf("first lego run: exit %d, want lego's acme-dns CNAME request:\n%s", r.code, r.stderr)
	}
	var accounts map[string]struct {
		FullDomain string `json:"fulldomain"`
		SubDomain  string `json:"subdomain"`
		Username   string `json:"username"`
		Password   string `json:"password"`
	}
	if err := json.Unmarshal([]byte(readFile(t, storage)), &accounts); err != nil {
		t.Fatalf("lego's acme-dns storage: %v", err)
	}
	acct, ok := accounts[w.zone]
	target := strings.TrimSuffix(acct.FullDomain, ".")
	wantCNAME := fmt.Sprintf("_acme-challenge.%s. CNAME %s.", w.zone, target)
	if !ok || !strings.HasSuffix(acct.FullDomain, ".acme."+w.zone) || len(acct.Password) != 40 || !strings.Contains(r.stderr, wantCNAME) {
		t.Fatalf("lego's acme-dns account: %+v; want one for %s and lego asking for %q:\n%s", accounts, w.zone, wantCNAME, r.stderr)
	}

	// 2. The one-time CNAME, created by the zone's owner.
	w.rfc2136(t, fmt.Sprintf("_acme-challenge.%s. 300 IN CNAME %s.", w.zone, target))

	// 3. lego issues.
	if r := runLego(); r.code != 0 {
		t.Fatalf("second lego run: exit %d:\n%s", r.code, r.stderr)
	}
	pemBytes := readFile(t, filepath.Join(legoPath, "certificates", w.zone+".crt"))
	block, _ := pem.Decode([]byte(pemBytes))
	if block == nil {
		t.Fatalf("lego's certificate is not PEM:\n%s", pemBytes)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Clone(cert.DNSNames)
	slices.Sort(got)
	if !slices.Equal(got, []string{"*." + w.zone, w.zone}) {
		t.Fatalf("certificate names %v", got)
	}

	// The audit trail shows the values written and removed by acmedns. lego
	// updates once in its first run (the wildcard's authorization finds the
	// account the apex's just registered) and twice in the second, so the
	// third value displaces the oldest: a subdomain keeps two values.
	added, removed, order, auditJSON := w.acmeDNSWrites(t, acct.FullDomain)
	if len(added) != 3 || len(removed) < 1 || !removed[order[0]] {
		t.Errorf("audit: acme-dns values added %v (in order %v), removed %v; want 3 added and the oldest removed when the third came", added, order, removed)
	}

	w.waitNoTXT(t)
	w.assertSecretsHidden(t, acct.Password, auditJSON)
}

// acmeDNSWorld is `dcvd daemon` serving the acme-dns API on loopback
// ([daemon.acmedns] zone acme.example.com, keep 20s), its values published
// through the rfc2136 backend into a BIND serving example.com, and Pebble
// resolving through that BIND: what a test of an acme-dns client needs.
type acmeDNSWorld struct {
	zone   string
	bind   *testenv.BIND
	pebble *testenv.Pebble
	dir    string // the test's temporary folder (state in dir/state)
	cfg    string // the daemon's config file
	base   string // the acme-dns API: http://127.0.0.1:port
	ctx    context.Context

	daemon   *exec.Cmd
	log      strings.Builder // the daemon's stderr: read only after stop
	stopOnce sync.Once
}

// startAcmeDNS starts BIND, Pebble and the daemon and waits until the
// acme-dns API answers; the daemon is stopped when the test ends. ctx
// (3 minutes) bounds everything the test does with it.
func startAcmeDNS(t *testing.T) *acmeDNSWorld {
	t.Helper()
	const zone = "example.com"
	w := &acmeDNSWorld{zone: zone, dir: t.TempDir()}
	w.bind = testenv.StartBIND(t, testenv.BINDOptions{Zones: []testenv.BINDZone{{Name: zone}}})
	w.pebble = testenv.StartPebble(t, w.bind.Addr)
	listen, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	w.base = "http://" + listen
	w.cfg = filepath.Join(w.dir, "config.toml")
	b := w.bind
	writeFile(w.cfg, fmt.Sprintf(`[daemon]
state_dir = %q
log_level = "info"
listen = %q

[daemon.acmedns]
zone = "acme.%s"
keep = "20s"

[propagation]
resolvers = [%q]
poll_min = "10ms"
poll_max = "200ms"
timeout = "20s"
[[propagation.override]]
zone = "."
servers = [%q]

[[dns]]
type = "rfc2136"
name = "bind"
zones = [%q]
server = %q
tsig_key = %q
tsig_algorithm = "hmac-sha256"
tsig_secret = %q
`, filepath.Join(w.dir, "state"), listen, zone, b.Addr, b.Addr, zone, b.Addr, strings.TrimSuffix(b.Key.Name, "."), b.Key.Secret))

	w.ctx = deadlineCtx(t, 3*time.Minute)
	w.daemon = exec.CommandContext(w.ctx, dcvdBin, "daemon", "--config", w.cfg)
	w.daemon.Stderr = &w.log
	if err := w.daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.stop() })
	for {
		if resp, err := http.Get(w.base + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return w
			}
		}
		if w.ctx.Err() != nil {
			t.Fatalf("daemon did not serve the acme-dns API:\n%s", w.stop())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop interrupts the daemon, waits for it and returns its log.
func (w *acmeDNSWorld) stop() string {
	w.stopOnce.Do(func() {
		w.daemon.Process.Signal(os.Interrupt)
		w.daemon.Wait()
	})
	return w.log.String()
}

// post sends body to the acme-dns API.
func (w *acmeDNSWorld) post(t *testing.T, path, body string, hdr map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(w.ctx, http.MethodPost, w.base+path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// checkRefusals: a bad allowfrom and unknown credentials are refused with
// acme-dns's own error names.
func (w *acmeDNSWorld) checkRefusals(t *testing.T) {
	t.Helper()
	if code, out := w.post(t, "/register", `{"allowfrom":["10.0.0.0/33"]}`, nil); code != 400 || !strings.Contains(out, "invalid_allowfrom_cidr") {
		t.Errorf("register with a bad CIDR: %d %s", code, out)
	}
	if code, out := w.post(t, "/update", `{"subdomain":"x","txt":"`+strings.Repeat("a", 43)+`"}`, map[string]string{"X-Api-User": "nobody", "X-Api-Key": "nope"}); code != 401 || !strings.Contains(out, "forbidden") {
		t.Errorf("update with unknown credentials: %d %s", code, out)
	}
}

// acmeDNSWrites reads `dcvd audit --json` and returns the values acmedns
// added (also in order) and removed at fulldomain through the bind backend,
// and the audit output itself.
func (w *acmeDNSWorld) acmeDNSWrites(t *testing.T, fulldomain string) (added, removed map[string]bool, order []string, out string) {
	t.Helper()
	a := runDcvd(t, w.ctx, nil, "audit", "--config", w.cfg, "--json")
	var rows []auditRow
	if err := json.Unmarshal([]byte(a.stdout), &rows); err != nil {
		t.Fatalf("audit: %v\n%s", err, a.stdout)
	}
	added, removed = map[string]bool{}, map[string]bool{}
	for _, r := range rows {
		if r.Actor != "acmedns" || r.Result != "ok" || r.Backend != "bind" || !strings.EqualFold(r.Name, fulldomain) {
			continue
		}
		switch r.Kind {
		case "dns-add":
			added[r.Value] = true
			order = append(order, r.Value)
		case "dns-remove":
			removed[r.Value] = true
		}
	}
	return added, removed, order, a.stdout
}

// waitNoTXT polls the zone (AXFR) until no TXT is left, failing at the
// world's deadline.
func (w *acmeDNSWorld) waitNoTXT(t *testing.T) {
	t.Helper()
	for {
		left := w.txt(t)
		if len(left) == 0 {
			return
		}
		if w.ctx.Err() != nil {
			t.Fatalf("TXT records left in %s: %v", w.zone, left)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// assertSecretsHidden: the acme-dns password is stored only as a bcrypt
// hash, and neither it nor the TSIG secret appears in the audit (auditJSON
// and the table), `status --json` or the daemon's log.
func (w *acmeDNSWorld) assertSecretsHidden(t *testing.T, password, auditJSON string) {
	t.Helper()
	stored := readFile(t, filepath.Join(w.dir, "state", "acmedns.json"))
	if !strings.Contains(stored, "$2a$") || strings.Contains(stored, password) {
		t.Errorf("acme-dns accounts file does not hold a bcrypt hash only:\n%s", stored)
	}
	audit := runDcvd(t, w.ctx, nil, "audit", "--config", w.cfg)
	status := runDcvd(t, w.ctx, nil, "status", "--config", w.cfg, "--all", "--json")
	for what, s := range map[string]string{"audit": auditJSON + audit.stdout, "status": status.stdout, "daemon log": w.stop()} {
		if strings.Contains(s, password) || strings.Contains(s, w.bind.Key.Secret) {
			t.Errorf("%s shows a secret", what)
		}
	}
}

// rfc2136 adds rr to the zone on BIND with a TSIG-signed update.
func (w *acmeDNSWorld) rfc2136(t *testing.T, rr string) {
	t.Helper()
	r, err := dns.NewRR(rr)
	if err != nil {
		t.Fatal(err)
	}
	b := w.bind
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(w.zone))
	m.Insert([]dns.RR{r})
	m.SetTsig(b.Key.Name, b.Key.Algorithm, 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", TsigSecret: map[string]string{b.Key.Name: b.Key.Secret}}
	resp, _, err := c.Exchange(m, b.Addr)
	if err != nil || resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("update %s: %v %v", rr, err, resp)
	}
}

// txt lists the TXT records of the zone (AXFR).
func (w *acmeDNSWorld) txt(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel()
	rrs, err := w.bind.AXFR(ctx, w.zone)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rr := range rrs {
		if _, ok := rr.(*dns.TXT); ok {
			out = append(out, rr.String())
		}
	}
	return out
}
