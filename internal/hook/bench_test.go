package hook_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/testenv"
)

// BenchmarkHooks measures the wall time of one certificate from Pebble,
// with every DNS write going to the same BIND, for 1 name, an apex +
// wildcard pair and 10 names, per client setup:
//
//   - certbot-dcvd: certbot --manual with the dcvd hooks (publish, prove
//     visibility on every authoritative server, remove);
//   - certbot-bare: certbot --manual with a bare nsupdate hook that does not
//     wait at all — certbot's own overhead, the lower bound;
//   - certbot-rfc2136: certbot's dns-rfc2136 plugin at its defaults (it
//     sleeps --dns-rfc2136-propagation-seconds=60);
//   - lego-rfc2136: the lego CLI's rfc2136 provider at its defaults (one
//     name at a time, RFC2136_SEQUENCE_INTERVAL=60s between them). lego's
//     own propagation check asks each NS on port 53, which the loopback BIND
//     does not listen on, so it runs with --dns.disable-cp.
//
// One iteration is one certificate; run with -benchtime 1x (see
// scripts/bench-hooks.sh). DCVD_BENCH_SKIP is a comma list of setups to
// skip ("lego-rfc2136,certbot-rfc2136").
func BenchmarkHooks(b *testing.B) {
	certbot := testenv.Binary(b, "certbot")
	e := newE2E(b)
	skip := map[string]bool{}
	for _, s := range strings.Split(os.Getenv("DCVD_BENCH_SKIP"), ",") {
		skip[strings.TrimSpace(s)] = true
	}

	// certbot account, shared by every certbot setup.
	cbDir := filepath.Join(e.Dir, "certbot")
	common := []string{"--non-interactive", "--server", e.Pebble.DirURL,
		"--config-dir", filepath.Join(cbDir, "etc"), "--work-dir", filepath.Join(cbDir, "work"), "--logs-dir", filepath.Join(cbDir, "logs")}
	e.run(time.Minute, e.env(), certbot, append([]string{"register", "--agree-tos", "--register-unsafely-without-email"}, common...)...)

	// Bare nsupdate hooks: add / delete the value, no waiting.
	keyFile := filepath.Join(e.Dir, "tsig.key")
	keyName := strings.TrimSuffix(e.BIND.Key.Name, ".")
	writeFile(b, keyFile, fmt.Sprintf("key %q { algorithm hmac-sha256; secret %q; };\n", keyName, e.BIND.Key.Secret), 0o600)
	bare := func(op string) string {
		path := filepath.Join(e.Dir, "bare-"+op+".sh")
		writeFile(b, path, fmt.Sprintf("#!/bin/sh\nprintf 'server %s %d\\nupdate %s _acme-challenge.%%s. 60 IN TXT \"%%s\"\\nsend\\n' \"$CERTBOT_DOMAIN\" \"$CERTBOT_VALIDATION\" | exec nsupdate -k %s\n",
			e.BIND.Host, e.BIND.Port, op, keyFile), 0o755)
		return path
	}
	creds := filepath.Join(e.Dir, "rfc2136.ini")
	writeFile(b, creds, fmt.Sprintf("dns_rfc2136_server = %s\ndns_rfc2136_port = %d\ndns_rfc2136_name = %s\ndns_rfc2136_secret = %s\ndns_rfc2136_algorithm = HMAC-SHA256\n",
		e.BIND.Host, e.BIND.Port, keyName, e.BIND.Key.Secret), 0o600)

	seq := 0
	certbotRun := func(b *testing.B, names []string, plugin ...string) {
		seq++
		args := append([]string{"certonly", "--cert-name", fmt.Sprintf("c%d", seq), "--key-type", "ecdsa"}, common...)
		args = append(args, plugin...)
		for _, n := range names {
			args = append(args, "-d", n)
		}
		e.run(15*time.Minute, e.env(), certbot, args...)
	}
	setups := []struct {
		name string
		run  func(b *testing.B, names []string)
	}{
		{"certbot-dcvd", func(b *testing.B, names []string) {
			certbotRun(b, names, "--manual", "--preferred-challenges", "dns",
				"--manual-auth-hook", e.DCVD+" hook certbot-auth", "--manual-cleanup-hook", e.DCVD+" hook certbot-cleanup")
		}},
		{"certbot-bare", func(b *testing.B, names []string) {
			certbotRun(b, names, "--manual", "--preferred-challenges", "dns",
				"--manual-auth-hook", bare("add"), "--manual-cleanup-hook", bare("delete"))
		}},
		{"certbot-rfc2136", func(b *testing.B, names []string) {
			certbotRun(b, names, "--dns-rfc2136", "--dns-rfc2136-credentials", creds)
		}},
		{"lego-rfc2136", func(b *testing.B, names []string) {
			lego := testenv.Binary(b, "lego")
			seq++
			env := e.env("RFC2136_NAMESERVER="+e.BIND.Addr, "RFC2136_TSIG_KEY="+keyName,
				"RFC2136_TSIG_SECRET="+e.BIND.Key.Secret, "RFC2136_TSIG_ALGORITHM=hmac-sha256.")
			e.run(30*time.Minute, env, lego, legoArgs(e, filepath.Join(e.Dir, "lego"), names, "rfc2136")...)
		}},
	}
	ten := make([]string, 10)
	for i := range ten {
		ten[i] = fmt.Sprintf("n%d.%s", i+1, e.Zone)
	}
	sets := []struct {
		name  string
		names []string
	}{
		{"1-name", []string{"one." + e.Zone}},
		{"apex+wildcard", apexWildcard},
		{"10-names", ten},
	}
	for _, s := range setups {
		b.Run(s.name, func(b *testing.B) {
			if skip[s.name] {
				b.Skipf("DCVD_BENCH_SKIP=%s", os.Getenv("DCVD_BENCH_SKIP"))
			}
			for _, set := range sets {
				b.Run(set.name, func(b *testing.B) {
					e.t = b
					start := time.Now()
					for i := 0; i < b.N; i++ {
						s.run(b, set.names)
					}
					b.ReportMetric(time.Since(start).Seconds()/float64(b.N), "s/cert")
					e.assertClean()
				})
			}
		})
	}
}

func writeFile(t testing.TB, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkHookCalls isolates the hooks from certbot: one op is every hook
// call certbot makes for one certificate of n names (n auth calls, the last
// one waiting for all values, then n cleanup calls), with the dcvd binary
// and with the bare nsupdate hook.
func BenchmarkHookCalls(b *testing.B) {
	e := newE2E(b)
	keyFile := filepath.Join(e.Dir, "tsig.key")
	keyName := strings.TrimSuffix(e.BIND.Key.Name, ".")
	writeFile(b, keyFile, fmt.Sprintf("key %q { algorithm hmac-sha256; secret %q; };\n", keyName, e.BIND.Key.Secret), 0o600)
	bare := func(op string) string {
		path := filepath.Join(e.Dir, "bare-"+op+".sh")
		writeFile(b, path, fmt.Sprintf("#!/bin/sh\nprintf 'server %s %d\\nupdate %s _acme-challenge.%%s. 60 IN TXT \"%%s\"\\nsend\\n' \"$CERTBOT_DOMAIN\" \"$CERTBOT_VALIDATION\" | exec nsupdate -k %s\n",
			e.BIND.Host, e.BIND.Port, op, keyFile), 0o755)
		return path
	}
	hooks := []struct{ name, auth, cleanup string }{
		{"dcvd", e.DCVD + " hook certbot-auth", e.DCVD + " hook certbot-cleanup"},
		{"bare-nsupdate", bare("add"), bare("delete")},
	}
	for _, h := range hooks {
		for _, n := range []int{1, 2, 10} {
			b.Run(fmt.Sprintf("%s/%d-names", h.name, n), func(b *testing.B) {
				e.t = b
				names := make([]string, n)
				for i := range names {
					names[i] = fmt.Sprintf("n%d.%s", i, e.Zone)
				}
				all := strings.Join(names, ",")
				for i := 0; i < b.N; i++ {
					value := fmt.Sprintf("%043d", i)
					for j, name := range names {
						e.run(time.Minute, e.env("CERTBOT_DOMAIN="+name, "CERTBOT_VALIDATION="+value, "CERTBOT_ALL_DOMAINS="+all,
							fmt.Sprintf("CERTBOT_REMAINING_CHALLENGES=%d", n-1-j)), "/bin/sh", "-c", h.auth)
					}
					for _, name := range names {
						e.run(time.Minute, e.env("CERTBOT_DOMAIN="+name, "CERTBOT_VALIDATION="+value), "/bin/sh", "-c", h.cleanup)
					}
				}
				b.StopTimer()
				e.assertClean()
			})
		}
	}
}
