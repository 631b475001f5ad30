package hook_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/internal/testenv"
)

// e2e is one end-to-end environment: BIND 9 serving the test zone with
// RFC 2136 + TSIG, Pebble resolving through it, a dcvd config routing the
// zone to BIND, and the dcvd binary.
type e2e struct {
	t      testing.TB
	Zone   string
	BIND   *testenv.BIND
	Pebble *testenv.Pebble
	Dir    string
	Config string // dcvd config path
	DCVD   string // dcvd binary
}

const e2eZone = "example.com"

// binaryCache builds the dcvd binary once per test run.
type binaryCache struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

var dcvdBuild binaryCache

// TestMain removes the built binary at the end.
func TestMain(m *testing.M) {
	code := m.Run()
	if dcvdBuild.path != "" {
		os.RemoveAll(filepath.Dir(dcvdBuild.path))
	}
	os.Exit(code)
}

// dcvdBinary builds ./cmd/dcvd (once per `go test` run).
func dcvdBinary(t testing.TB) string {
	t.Helper()
	dcvdBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "dcvd-hook-e2e-")
		if err != nil {
			dcvdBuild.err = err
			return
		}
		dcvdBuild.path = filepath.Join(dir, "dcvd")
		cmd := exec.Command("go", "build", "-o", dcvdBuild.path, "github.com/dcvd/dcvd/cmd/dcvd")
		dcvdBuild.out, dcvdBuild.err = cmd.CombinedOutput()
	})
	if dcvdBuild.err != nil {
		t.Fatalf("go build ./cmd/dcvd: %v\n%s", dcvdBuild.err, dcvdBuild.out)
	}
	return dcvdBuild.path
}

// newE2E starts BIND and Pebble and writes a dcvd config.
func newE2E(t testing.TB) *e2e {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test (-short)")
	}
	bin := dcvdBinary(t)
	b := testenv.StartBIND(t, testenv.BINDOptions{Zones: []testenv.BINDZone{{Name: e2eZone}}})
	p := testenv.StartPebble(t, b.Addr)
	e := &e2e{t: t, Zone: e2eZone, BIND: b, Pebble: p, Dir: t.TempDir(), DCVD: bin}
	e.Config = e.writeConfig("")
	return e
}

// writeConfig writes a dcvd config routing the zone to BIND; extra is
// appended to [propagation].
func (e *e2e) writeConfig(extraPropagation string) string {
	state := filepath.Join(e.Dir, "state")
	cfg := fmt.Sprintf(`[daemon]
state_dir = %q
log_level = "warn"

[propagation]
resolvers = [%q]
timeout = "30s"
%s
[[propagation.override]]
zone = %q
servers = [%q]

[[dns]]
type = "rfc2136"
name = "bind"
zones = [%q]
server = %q
tsig_key = %q
tsig_algorithm = "hmac-sha256"
tsig_secret = %q
`, state, e.BIND.Addr, extraPropagation, e.Zone, e.BIND.Addr, e.Zone, e.BIND.Addr,
		strings.TrimSuffix(e.BIND.Key.Name, "."), e.BIND.Key.Secret)
	path := filepath.Join(e.Dir, fmt.Sprintf("config-%d.toml", time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// hookScript writes an executable wrapper `dcvd hook <sub> "$@"` for tools
// that take a program path (dehydrated, uacme, lego exec).
func (e *e2e) hookScript(sub string) string {
	path := filepath.Join(e.Dir, "hook-"+sub+".sh")
	script := fmt.Sprintf("#!/bin/sh\nexec %q hook %s \"$@\"\n", e.DCVD, sub)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// env is the environment every tool runs with: the machine's, the dcvd
// config, and the test CA for every TLS stack that reads a variable.
func (e *e2e) env(extra ...string) []string {
	env := append(os.Environ(),
		"DCVD_CONFIG="+e.Config,
		"REQUESTS_CA_BUNDLE="+e.Pebble.CAFile, // certbot (python requests)
		"CURL_CA_BUNDLE="+e.Pebble.CAFile,     // dehydrated (curl)
		"LEGO_CA_CERTIFICATES="+e.Pebble.CAFile,
		"SSL_CERT_FILE="+e.Pebble.CAFile,
	)
	return append(env, extra...)
}

// run runs a tool with a deadline and fails the test with its output
// when it exits non-zero.
func (e *e2e) run(timeout time.Duration, env []string, name string, args ...string) string {
	e.t.Helper()
	out, err := e.runErr(timeout, env, name, args...)
	if err != nil {
		e.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(out, 6000))
	}
	return out
}

func (e *e2e) runErr(timeout time.Duration, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Dir = e.Dir
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

// assertCert parses the first certificate in path and checks it names
// exactly want.
func (e *e2e) assertCert(path string, want []string) {
	e.t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatalf("read certificate: %v", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		e.t.Fatalf("%s: no PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		e.t.Fatalf("parse %s: %v", path, err)
	}
	got := slices.Clone(cert.DNSNames)
	sort.Strings(got)
	w := slices.Clone(want)
	sort.Strings(w)
	if !slices.Equal(got, w) {
		e.t.Fatalf("certificate names %v, want %v", got, w)
	}
}

// assertClean transfers the zone and fails if any _acme-challenge record
// (or any TXT at all: the zone starts with none) remains.
func (e *e2e) assertClean() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rrs, err := e.BIND.AXFR(ctx, e.Zone)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeTXT || strings.HasPrefix(rr.Header().Name, "_acme-challenge.") {
			e.t.Errorf("record left in zone: %s", rr)
		}
	}
}

// txtValues returns the TXT values at name in the zone (AXFR).
func (e *e2e) txtValues(name string) []string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rrs, err := e.BIND.AXFR(ctx, e.Zone)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, rr := range rrs {
		if txt, ok := rr.(*dns.TXT); ok && strings.EqualFold(txt.Hdr.Name, dns.Fqdn(name)) {
			out = append(out, strings.Join(txt.Txt, ""))
		}
	}
	sort.Strings(out)
	return out
}

// Name sets the tests use.
var (
	apexWildcard = []string{e2eZone, "*." + e2eZone}
	threeNames   = []string{"a." + e2eZone, "b." + e2eZone, "c." + e2eZone}
)

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
