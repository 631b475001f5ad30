// Package testenv starts real DNS servers (BIND 9 named, ...) on loopback
// high ports for integration tests and benchmarks, and provides the other
// real programs the tests run: Pebble (StartPebble), PostgreSQL, and the
// upstream lego CLI built from tools/legocli (LegoCLI).
//
// With CI=true a missing server binary fails the test; elsewhere it skips
// with the reason, so `go test ./...` works on a laptop without BIND.
package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/internal/dnsutil"
)

// Binary returns the path of a server binary, looking in PATH and in
// /usr/sbin and /usr/bin. Missing: Fatal under CI=true, Skip otherwise.
func Binary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin", "/usr/local/bin"} {
		p := dir + "/" + name
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found: CI=true requires it (install its Debian package)", name)
	}
	t.Skipf("%s not found; install its Debian package to run this test", name)
	return ""
}

// FreePort returns a port that is free for both UDP and TCP on host.
func FreePort(t testing.TB, host string) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return port
	}
	t.Fatalf("no free port on %s", host)
	return 0
}

// WaitSOA polls addr for the SOA of zone until it answers authoritatively or
// ctx ends.
func WaitSOA(ctx context.Context, addr, zone string) error {
	return dnsutil.WaitSOA(ctx, addr, zone)
}

// AXFR transfers zone from addr (TSIG-signed when key is not nil).
func AXFR(ctx context.Context, addr, zone string, key *TSIGKey) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.SetAxfr(dns.Fqdn(zone))
	tr := &dns.Transfer{DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second}
	if key != nil {
		m.SetTsig(key.Name, key.Algorithm, 300, time.Now().Unix())
		tr.TsigSecret = map[string]string{key.Name: key.Secret}
	}
	ch, err := tr.In(m, addr)
	if err != nil {
		return nil, fmt.Errorf("axfr %s from %s: %w", zone, addr, err)
	}
	var out []dns.RR
	for env := range ch {
		if env.Error != nil {
			return nil, fmt.Errorf("axfr %s from %s: %w", zone, addr, env.Error)
		}
		out = append(out, env.RR...)
	}
	return out, nil
}

// TSIGKey is a TSIG key as miekg/dns wants it: Name and Algorithm are
// fully qualified ("dcvd-key.", "hmac-sha256."), Secret is base64.
type TSIGKey struct {
	Name, Algorithm, Secret string
}
