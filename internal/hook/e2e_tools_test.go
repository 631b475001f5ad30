package hook_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/testenv"
)

// nameSets are the certificates every tool must obtain.
var nameSets = []struct {
	name  string
	names []string
}{
	{"apex+wildcard", apexWildcard},
	{"three-names", threeNames},
}

const toolTimeout = 3 * time.Minute

// certbotArgs is a non-interactive certbot run against Pebble with its own
// config, work and log directories.
func certbotArgs(e *e2e, dir, certName string, names []string, plugin ...string) []string {
	args := []string{"certonly", "--non-interactive", "--agree-tos", "--register-unsafely-without-email",
		"--server", e.Pebble.DirURL,
		"--config-dir", filepath.Join(dir, "etc"), "--work-dir", filepath.Join(dir, "work"), "--logs-dir", filepath.Join(dir, "logs"),
		"--cert-name", certName, "--key-type", "ecdsa"}
	args = append(args, plugin...)
	for _, n := range names {
		args = append(args, "-d", n)
	}
	return args
}

func TestE2ECertbot(t *testing.T) {
	t.Parallel()
	certbot := testenv.Binary(t, "certbot")
	e := newE2E(t)
	for _, set := range nameSets {
		t.Run(set.name, func(t *testing.T) {
			e.t = t
			dir := t.TempDir()
			e.run(toolTimeout, e.env(), certbot, certbotArgs(e, dir, "c", set.names,
				"--manual", "--preferred-challenges", "dns",
				"--manual-auth-hook", e.DCVD+" hook certbot-auth",
				"--manual-cleanup-hook", e.DCVD+" hook certbot-cleanup")...)
			e.assertCert(filepath.Join(dir, "etc", "live", "c", "cert.pem"), set.names)
			e.assertClean()
		})
	}
}

func TestE2EDehydrated(t *testing.T) {
	t.Parallel()
	dehydrated := testenv.Binary(t, "dehydrated")
	e := newE2E(t)
	hook := e.hookScript("dehydrated")
	// dehydrated is slow by itself (~20 s a certificate: it polls with
	// 1 s sleeps), so each name set runs once, one without and one with
	// HOOK_CHAIN.
	for i, set := range nameSets {
		chain := []string{"no", "yes"}[i%2]
		{
			t.Run(set.name+"/chain="+chain, func(t *testing.T) {
				e.t = t
				dir := t.TempDir()
				conf := filepath.Join(dir, "config")
				os.WriteFile(conf, []byte(fmt.Sprintf("CA=%q\nCHALLENGETYPE=\"dns-01\"\nHOOK=%q\nHOOK_CHAIN=%q\nBASEDIR=%q\nKEY_ALGO=secp384r1\n",
					e.Pebble.DirURL, hook, chain, dir)), 0o600)
				e.run(toolTimeout, e.env(), dehydrated, "--config", conf, "--register", "--accept-terms")
				args := []string{"--config", conf, "--cron", "--out", filepath.Join(dir, "certs"), "--alias", "c"}
				for _, n := range set.names {
					args = append(args, "--domain", n)
				}
				e.run(toolTimeout, e.env(), dehydrated, args...)
				e.assertCert(filepath.Join(dir, "certs", "c", "cert.pem"), set.names)
				e.assertClean()
			})
		}
	}
}

func TestE2EUacme(t *testing.T) {
	t.Parallel()
	uacme := testenv.Binary(t, "uacme")
	unshare := testenv.Binary(t, "unshare")
	e := newE2E(t)
	hook := e.hookScript("uacme")
	// uacme's libcurl (GnuTLS) reads no CA variable: run it in a private
	// mount namespace where the system bundle is the test CA.
	if out, err := exec.Command(unshare, "-rm", "true").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("uacme needs a private mount namespace for the test CA (unshare -rm): %v %s", err, out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	wrap := func(args ...string) []string {
		script := `mount --bind "$0" /etc/ssl/certs/ca-certificates.crt && exec "$@"`
		return append([]string{"-rm", "sh", "-c", script, e.Pebble.CAFile, uacme}, args...)
	}
	for _, set := range nameSets {
		t.Run(set.name, func(t *testing.T) {
			e.t = t
			dir := t.TempDir()
			e.run(toolTimeout, e.env(), unshare, wrap("-a", e.Pebble.DirURL, "-c", dir, "-y", "-t", "EC", "new")...)
			e.run(toolTimeout, e.env(), unshare, wrap(append([]string{"-a", e.Pebble.DirURL, "-c", dir, "-t", "EC", "-h", hook, "issue"}, set.names...)...)...)
			e.assertCert(filepath.Join(dir, strings.TrimPrefix(set.names[0], "*."), "cert.pem"), set.names)
			e.assertClean()
		})
	}
}

// legoArgs runs the lego CLI (Debian 4.9) against Pebble. lego's own
// propagation check asks the NS on port 53, which the test's BIND does not
// use; dcvd waits for propagation itself, so the check is disabled.
func legoArgs(e *e2e, dir string, names []string, provider string) []string {
	args := []string{"--server", e.Pebble.DirURL, "--path", dir, "--accept-tos", "--email", "test@" + e.Zone,
		"--dns", provider, "--dns.disable-cp", "--dns.resolvers", e.BIND.Addr, "--key-type", "ec256"}
	for _, n := range names {
		args = append(args, "-d", n)
	}
	return append(args, "run")
}

// legoCertPath is where lego stores the certificate of names.
func legoCertPath(dir string, names []string) string {
	return filepath.Join(dir, "certificates", strings.ReplaceAll(names[0], "*", "_")+".crt")
}

func TestE2ELegoExec(t *testing.T) {
	t.Parallel()
	lego := testenv.Binary(t, "lego")
	e := newE2E(t)
	hook := e.hookScript("lego-exec")
	// The default mode for one name set, RAW for the other.
	for i, set := range nameSets {
		mode := []string{"", "RAW"}[i%2]
		{
			t.Run(set.name+"/mode="+mode, func(t *testing.T) {
				e.t = t
				dir := t.TempDir()
				env := e.env("EXEC_PATH="+hook, "EXEC_MODE="+mode, "EXEC_SEQUENCE_INTERVAL=1", "EXEC_PROPAGATION_TIMEOUT=60", "EXEC_POLLING_INTERVAL=1")
				e.run(toolTimeout, env, lego, legoArgs(e, dir, set.names, "exec")...)
				e.assertCert(legoCertPath(dir, set.names), set.names)
				e.assertClean()
			})
		}
	}
}
