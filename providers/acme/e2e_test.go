package acme_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/internal/testenv"
	"github.com/dcvd/dcvd/scheduler"
	"github.com/dcvd/dcvd/store"
)

// The ACME tests run the whole pipeline (app.Open + Engine.RunOnce, what
// `dcvd run` runs) against Pebble requiring external account binding and
// BIND 9 serving the zone, once through dcvd's rfc2136 backend and once
// through lego's own RFC 2136 provider.

const zone = "example.com"

const childEnv = "DCVD_ACME_TEST_CHILD"

// TestMain lets the kill -9 test re-run this binary as a child that runs the
// pipeline once for the config named in DCVD_ACME_TEST_CHILD.
func TestMain(m *testing.M) {
	if cfg := os.Getenv(childEnv); cfg != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		a, err := app.Open(ctx, cfg, app.Options{LogOutput: os.Stderr})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		_, err = a.Engine.RunOnce(ctx)
		a.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type world struct {
	t      testing.TB
	bind   *testenv.BIND
	pebble *testenv.Pebble
	dir    string
	kid    string
	hmac   string
}

func newWorld(t testing.TB, blocklist ...string) *world {
	t.Helper()
	b := testenv.StartBIND(t, testenv.BINDOptions{Zones: []testenv.BINDZone{{Name: zone}}})
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(rand.IntN(256))
	}
	w := &world{t: t, bind: b, dir: t.TempDir(), kid: "kid-1", hmac: base64.RawURLEncoding.EncodeToString(key)}
	w.pebble = testenv.StartPebble(t, b.Addr, testenv.PebbleOptions{EAB: map[string]string{w.kid: w.hmac}, Blocklist: blocklist})
	return w
}

// cert is one [[ca.certificate]] of a test config.
type cert struct {
	names       []string
	renewBefore string
}

// config writes a config for the given certificates published through
// backend "rfc2136" (dcvd's) or "lego" (lego's dnsupdate provider).
func (w *world) config(backend, hmac string, certs ...cert) string {
	w.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `[daemon]
state_dir = %q
log_level = "warn"

[propagation]
timeout = "60s"
resolvers = [%q]

[[propagation.override]]
zone = %q
servers = [%q]

[[ca]]
type = "acme"
name = "pebble"
directory = %q
ca_bundle = %q
email = "pki@example.com"
eab_kid = %q
eab_hmac = %q
schedule = "@every 1h"
`, filepath.Join(w.dir, "state"), w.bind.Addr, zone, w.bind.Addr, w.pebble.DirURL, w.pebble.CAFile, w.kid, hmac)
	for _, c := range certs {
		q := make([]string, len(c.names))
		for i, n := range c.names {
			q[i] = fmt.Sprintf("%q", n)
		}
		rb := ""
		if c.renewBefore != "" {
			rb = fmt.Sprintf("renew_before = %q\n", c.renewBefore)
		}
		fmt.Fprintf(&b, `
[[ca.certificate]]
names = [%s]
key_type = "ec256"
dir = %q
deploy_hook = "echo \"$DCVD_CERT_NAMES\" >> %s"
%s`, strings.Join(q, ", "), w.certDir(c.names[0]), filepath.Join(w.dir, "deployed.log"), rb)
	}
	tsigName := strings.TrimSuffix(w.bind.Key.Name, ".")
	switch backend {
	case "rfc2136":
		fmt.Fprintf(&b, `
[[dns]]
type = "rfc2136"
name = "bind"
zones = [%q]
server = %q
tsig_key = %q
tsig_algorithm = "hmac-sha256"
tsig_secret = %q
`, zone, w.bind.Addr, tsigName, w.bind.Key.Secret)
	case "lego":
		fmt.Fprintf(&b, `
[[dns]]
type = "lego"
name = "bind-via-lego"
provider = "rfc2136"
zones = [%q]
env = { DNSUPDATE_NAMESERVER = %q, DNSUPDATE_TSIG_KEY = %q, DNSUPDATE_TSIG_SECRET = %q, DNSUPDATE_TSIG_ALGORITHM = "hmac-sha256." }
`, zone, w.bind.Addr, tsigName+".", w.bind.Key.Secret)
	default:
		b.WriteString(backend)
	}
	path := filepath.Join(w.dir, fmt.Sprintf("config-%d.toml", time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return path
}

func (w *world) certDir(first string) string {
	return filepath.Join(w.dir, "certs", strings.ReplaceAll(first, "*", "_"))
}

// run runs the pipeline once in this process and returns its summary.
func (w *world) run(cfg string) (scheduler.Summary, error) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := app.Open(ctx, cfg, app.Options{LogOutput: testWriter{w.t}})
	if err != nil {
		return scheduler.Summary{}, err
	}
	defer a.Close()
	sum, err := a.Engine.RunOnce(ctx)
	if err == nil && len(sum.Errors) > 0 {
		err = errors.New(strings.Join(sum.Errors, "; "))
	}
	return sum, err
}

// rows returns the state's challenge rows.
func (w *world) rows(cfg string) []store.Challenge {
	w.t.Helper()
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, app.Options{LogOutput: testWriter{w.t}})
	if err != nil {
		w.t.Fatal(err)
	}
	defer a.Close()
	rows, err := a.Store.List(ctx, store.Filter{})
	if err != nil {
		w.t.Fatal(err)
	}
	return rows
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// issued reads the certificate written for names and checks the files: the
// names, key.pem 0600 and matching the certificate, fullchain = cert +
// chain. It returns the leaf.
func (w *world) issued(names ...string) *x509.Certificate {
	w.t.Helper()
	dir := w.certDir(names[0])
	read := func(f string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			w.t.Fatalf("%s: %v", f, err)
		}
		return b
	}
	certPEM, chainPEM, fullPEM, keyPEM := read("cert.pem"), read("chain.pem"), read("fullchain.pem"), read("key.pem")
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		w.t.Fatal("cert.pem: no PEM block")
	}
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		w.t.Fatal(err)
	}
	got := slices.Clone(leaf.DNSNames)
	want := slices.Clone(names)
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		w.t.Fatalf("certificate names %v, want %v", got, want)
	}
	if !bytes.Equal(fullPEM, append(slices.Clone(certPEM), chainPEM...)) || len(chainPEM) == 0 {
		w.t.Fatal("fullchain.pem is not cert.pem followed by a non-empty chain.pem")
	}
	st, err := os.Stat(filepath.Join(dir, "key.pem"))
	if err != nil || st.Mode().Perm() != 0o600 {
		w.t.Fatalf("key.pem mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	key, err := certcrypto.ParsePEMPrivateKey(keyPEM)
	if err != nil {
		w.t.Fatalf("key.pem: %v", err)
	}
	if !key.Public().(*ecdsa.PublicKey).Equal(leaf.PublicKey.(crypto.PublicKey)) {
		w.t.Fatal("key.pem does not match cert.pem")
	}
	return leaf
}

// leftovers lists _acme-challenge records still in the zone (AXFR).
func (w *world) leftovers() []string {
	w.t.Helper()
	rrs, err := testenv.AXFR(context.Background(), w.bind.Addr, zone, &w.bind.Key)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeTXT && strings.HasPrefix(rr.Header().Name, "_acme-challenge.") {
			out = append(out, rr.String())
		}
	}
	return out
}

func (w *world) deployed() []string {
	b, _ := os.ReadFile(filepath.Join(w.dir, "deployed.log"))
	return strings.Fields(strings.ReplaceAll(string(b), "\n", " | "))
}

func (w *world) mustIssue(cfg string) {
	w.t.Helper()
	sum, err := w.run(cfg)
	if err != nil {
		w.t.Fatalf("run: %v", err)
	}
	if len(sum.Failed) > 0 {
		w.t.Fatalf("failed: %s: %s", sum.Failed[0].Name, sum.Failed[0].Reason)
	}
}

var (
	apexWild = []string{"example.com", "*.example.com"}
	three    = []string{"a.example.com", "b.example.com", "c.example.com"}
)

func testIssueRenew(t *testing.T, backend string) {
	w := newWorld(t)
	cfg := w.config(backend, w.hmac, cert{names: apexWild}, cert{names: three})
	w.mustIssue(cfg)
	first := w.issued(apexWild...)
	w.issued(three...)
	// The wildcard's authorization (wildcard: true) is stored with the CAA
	// name "*.example.com", so the CAA check asks issuewild for it; the
	// apex's with "example.com".
	caa := map[string]bool{}
	for _, c := range w.rows(cfg) {
		caa[c.Name+" "+strings.Join(c.CAANames, ",")] = true
	}
	for _, k := range []string{"example.com example.com", "example.com *.example.com", "a.example.com a.example.com"} {
		if !caa[k] {
			t.Fatalf("no row with name and CAA names %q among %v", k, caa)
		}
	}
	if l := w.leftovers(); len(l) > 0 {
		t.Fatalf("records left in the zone:\n%s", strings.Join(l, "\n"))
	}
	if d := w.deployed(); len(d) == 0 {
		t.Fatal("deploy hook did not run")
	}
	hooks := strings.Count(strings.Join(w.deployed(), " "), "|")

	// Not due: nothing is ordered, nothing changes.
	w.mustIssue(cfg)
	if again := w.issued(apexWild...); again.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatal("a certificate that is not due was renewed")
	}

	// renew_before reaches past the expiry: renewed, hook run again. A
	// provider that holds one value per name (lego's RFC 2136 provider)
	// publishes the wildcard's value only after the apex's is cleaned up; on
	// a loaded machine that can fall past one run's linger, and the next
	// run (cron's next tick) finishes the same order.
	cfg = w.config(backend, w.hmac, cert{names: apexWild, renewBefore: "100000d"}, cert{names: three})
	renewed := first
	for pass := 0; pass < 3 && renewed.SerialNumber.Cmp(first.SerialNumber) == 0; pass++ {
		w.mustIssue(cfg)
		renewed = w.issued(apexWild...)
	}
	if renewed.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("renew_before did not trigger a renewal")
	}
	if n := strings.Count(strings.Join(w.deployed(), " "), "|"); n != hooks+1 {
		t.Fatalf("deploy hook ran %d times in all, want %d", n, hooks+1)
	}
	if l := w.leftovers(); len(l) > 0 {
		t.Fatalf("records left after renewal:\n%s", strings.Join(l, "\n"))
	}
}

func TestIssueAndRenewThroughRFC2136Backend(t *testing.T) { testIssueRenew(t, "rfc2136") }

func TestIssueAndRenewThroughLegoProvider(t *testing.T) { testIssueRenew(t, "lego") }

// TestKill9 kills the pipeline at random moments while it orders two
// certificates, then runs it to the end: both issued, nothing left.
func TestKill9(t *testing.T) {
	w := newWorld(t)
	cfg := w.config("rfc2136", w.hmac, cert{names: apexWild}, cert{names: three})
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	for i := 0; i < 4; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+cfg)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		delay := time.Duration(100+rng.IntN(1500)) * time.Millisecond
		select {
		case <-time.After(delay):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			t.Logf("run %d killed after %s", i, delay)
		case err := <-done:
			t.Logf("run %d ended before the kill: %v %s", i, err, stderr.String())
		}
	}
	w.mustIssue(cfg)
	// A run killed after the CA issued may leave the certificate to this
	// last run: both must be there now, and no record anywhere.
	w.issued(apexWild...)
	w.issued(three...)
	if l := w.leftovers(); len(l) > 0 {
		t.Fatalf("records left in the zone:\n%s", strings.Join(l, "\n"))
	}
}

// TestBadInput: each failure is one line with the cause, and nothing is
// left in the zone.
func TestBadInput(t *testing.T) {
	w := newWorld(t, "blocked.example.com")

	t.Run("wrong EAB key", func(t *testing.T) {
		wrong := base64.RawURLEncoding.EncodeToString([]byte("not-the-right-hmac-key-0123456789"))
		_, err := w.run(w.config("rfc2136", wrong, cert{names: []string{"x.example.com"}}))
		if err == nil || !strings.Contains(err.Error(), "external account binding") || !strings.Contains(err.Error(), "unauthorized") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("err = %v, want one line with the CA's own unauthorized error", err)
		}
		if strings.Contains(err.Error(), wrong) {
			t.Fatal("the EAB key was echoed")
		}
		t.Log(err)
	})
	t.Run("CA refuses the order", func(t *testing.T) {
		_, err := w.run(w.config("rfc2136", w.hmac, cert{names: []string{"www.blocked.example.com"}}))
		if err == nil || !strings.Contains(err.Error(), "creating the order") || !strings.Contains(err.Error(), "rejectedIdentifier") {
			t.Fatalf("err = %v, want the CA's rejectedIdentifier", err)
		}
	})
	t.Run("unknown lego provider", func(t *testing.T) {
		cfg := w.config(`
[[dns]]
type = "lego"
name = "nope"
provider = "no-such-dns"
zones = ["example.com"]
`, w.hmac, cert{names: []string{"x.example.com"}})
		_, err := w.run(cfg)
		if err == nil || !strings.Contains(err.Error(), `unknown provider "no-such-dns"`) || !strings.Contains(err.Error(), "cloudflare") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("missing lego variables", func(t *testing.T) {
		cfg := w.config(`
[[dns]]
type = "lego"
name = "cf"
provider = "cloudflare"
zones = ["example.com"]
`, w.hmac, cert{names: []string{"x.example.com"}})
		_, err := w.run(cfg)
		if err == nil || !strings.Contains(err.Error(), "cloudflare: some credentials information are missing") {
			t.Fatalf("err = %v, want lego's own message", err)
		}
	})
	t.Run("no backend serves the name", func(t *testing.T) {
		sum, err := w.run(w.config("rfc2136", w.hmac, cert{names: []string{"www.example.org"}}))
		msg := fmt.Sprint(err)
		for _, f := range sum.Failed {
			msg += " " + f.Reason
		}
		if !strings.Contains(msg, "outside every configured zone") {
			t.Fatalf("run: %v, summary %+v; want a refusal naming the zones", err, sum)
		}
	})
	t.Run("lego backend in reach of a non-ACME account", func(t *testing.T) {
		cfg := w.config(`
[[dns]]
type = "lego"
name = "cf"
provider = "cloudflare"
zones = ["example.com"]
env = { CLOUDFLARE_DNS_API_TOKEN = "t" }

[[ca]]
type = "digicert"
name = "dc"
api_key = "k"
`, w.hmac, cert{names: []string{"x.example.com"}})
		_, err := w.run(cfg)
		if err == nil || !strings.Contains(err.Error(), `can only publish ACME dns-01 records`) || !strings.Contains(err.Error(), `account "dc"`) {
			t.Fatalf("err = %v", err)
		}
		t.Log(err)
	})
	if l := w.leftovers(); len(l) > 0 {
		t.Fatalf("records left in the zone:\n%s", strings.Join(l, "\n"))
	}
}
