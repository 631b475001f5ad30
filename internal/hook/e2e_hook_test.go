package hook_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/testenv"
)

// result is one dcvd invocation.
type result struct {
	code   int
	stdout string
	stderr string
}

// dcvd runs the binary with env added to the e2e environment.
func (e *e2e) dcvd(env []string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.DCVD, args...)
	cmd.Env = append(e.env(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatalf("dcvd %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// oneLine asserts stderr is exactly one line containing each want.
func oneLine(t *testing.T, r result, want ...string) {
	t.Helper()
	s := strings.TrimSuffix(r.stderr, "\n")
	if s == "" || strings.Contains(s, "\n") {
		t.Errorf("stderr is not one line: %q", r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("stderr %q does not mention %q", s, w)
		}
	}
}

const (
	valueA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	valueB = "-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" // starts with "-", as base64url values may
)

// TestHookAddRemove: two values at one name coexist, each is removed on its
// own, and removing a value that is gone succeeds.
func TestHookAddRemove(t *testing.T) {
	e := newE2E(t)
	name := "_acme-challenge." + e.Zone
	for _, v := range []string{valueA, valueB} {
		if r := e.dcvd(nil, "hook", "add", "--", name, v); r.code != 0 {
			t.Fatalf("hook add %s: exit %d: %s", v, r.code, r.stderr)
		}
	}
	if got, want := e.txtValues(name), []string{valueB, valueA}; !slices.Equal(got, want) {
		t.Fatalf("after two adds: TXT %v, want %v", got, want)
	}
	if r := e.dcvd(nil, "hook", "remove", "--", name, valueB); r.code != 0 {
		t.Fatalf("hook remove: exit %d: %s", r.code, r.stderr)
	}
	if got, want := e.txtValues(name), []string{valueA}; !slices.Equal(got, want) {
		t.Fatalf("after removing one: TXT %v, want %v", got, want)
	}
	if r := e.dcvd(nil, "hook", "remove", "--", name, valueB); r.code != 0 {
		t.Fatalf("removing a value already gone: exit %d: %s", r.code, r.stderr)
	}
	if r := e.dcvd(nil, "hook", "remove", name, valueA); r.code != 0 {
		t.Fatalf("hook remove: exit %d: %s", r.code, r.stderr)
	}
	e.assertClean()
}

// TestHookUsageErrors: every missing input is one line on stderr and exit 2
// (uacme's decline is exit 1), and nothing is written.
func TestHookUsageErrors(t *testing.T) {
	e := newE2E(t)
	cases := []struct {
		name string
		env  []string
		args []string
		code int
		want []string
	}{
		{"certbot no variables", nil, []string{"hook", "certbot-auth"}, 2, []string{"CERTBOT_DOMAIN and CERTBOT_VALIDATION not set"}},
		{"certbot no value", []string{"CERTBOT_DOMAIN=" + e.Zone}, []string{"hook", "certbot-auth"}, 2, []string{"CERTBOT_VALIDATION not set"}},
		{"certbot cleanup no variables", nil, []string{"hook", "certbot-cleanup"}, 2, []string{"CERTBOT_DOMAIN"}},
		{"name outside every zone", []string{"CERTBOT_DOMAIN=example.org", "CERTBOT_VALIDATION=" + valueA}, []string{"hook", "certbot-auth"}, 2, []string{"no DNS backend serves", "example.org", "example.com"}},
		{"dehydrated short triple", nil, []string{"hook", "dehydrated", "deploy_challenge", e.Zone, "tok"}, 2, []string{"triples"}},
		{"dehydrated no verb", nil, []string{"hook", "dehydrated"}, 2, []string{"no verb"}},
		{"uacme declines http-01", nil, []string{"hook", "uacme", "begin", "http-01", e.Zone, "tok", "auth"}, 1, []string{"declining http-01"}},
		{"uacme short", nil, []string{"hook", "uacme", "begin", "dns-01", e.Zone}, 2, []string{"METHOD TYPE IDENT TOKEN AUTH"}},
		{"lego-exec short", nil, []string{"hook", "lego-exec", "present", "_acme-challenge.example.com."}, 2, []string{"FQDN VALUE"}},
		{"lego-exec bad verb", nil, []string{"hook", "lego-exec", "publish", "_acme-challenge.example.com.", valueA}, 2, []string{"unknown verb"}},
		{"add one argument", nil, []string{"hook", "add", "_acme-challenge.example.com"}, 2, []string{"want 2 arguments"}},
		{"add bad type", nil, []string{"hook", "add", "--type", "MX", "_acme-challenge.example.com", valueA}, 2, []string{"want TXT or CNAME"}},
		{"missing config", []string{"DCVD_CONFIG=" + filepath.Join(e.Dir, "nope.toml")}, []string{"hook", "add", "_acme-challenge.example.com", valueA}, 2, []string{"nope.toml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			r := e.dcvd(c.env, c.args...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, c.code, r.stderr)
			}
			oneLine(t, r, c.want...)
		})
	}
	e.t = t
	e.assertClean()

	// Verbs dcvd does not handle succeed silently (dehydrated requires it).
	for _, verb := range []string{"this_hookscript_is_broken__dehydrated_is_working_fine__please_ignore_unknown_hooks_in_your_script", "deploy_cert", "startup_hook", "exit_hook", "some_future_verb"} {
		r := e.dcvd(nil, "hook", "dehydrated", verb, "a", "b")
		if r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Errorf("dehydrated %s: exit %d stdout %q stderr %q, want silent 0", verb, r.code, r.stdout, r.stderr)
		}
	}
}

// twoServers returns a config whose zone has two authoritative servers: the
// BIND dcvd updates, and a second BIND that never gets the record.
func twoServers(e *e2e) (config, otherAddr string) {
	other := testenv.StartBIND(e.t, testenv.BINDOptions{Zones: []testenv.BINDZone{{Name: e.Zone, NoUpdate: true}}})
	cfg, err := os.ReadFile(e.Config)
	if err != nil {
		e.t.Fatal(err)
	}
	s := strings.Replace(string(cfg), fmt.Sprintf("servers = [%q]", e.BIND.Addr), fmt.Sprintf("servers = [%q, %q]", e.BIND.Addr, other.Addr), 1)
	s = strings.Replace(s, `timeout = "30s"`, `timeout = "1500ms"`, 1)
	path := filepath.Join(e.Dir, "two-servers.toml")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return path, other.Addr
}

// TestHookPropagationTimeout: a server that never serves the value makes the
// hook fail with exit 1 and one line naming that server's state. `hook add`
// removes its record (nobody will call remove); certbot's auth hook keeps it
// for certbot's cleanup hook.
func TestHookPropagationTimeout(t *testing.T) {
	e := newE2E(t)
	path, other := twoServers(e)
	cfg := "DCVD_CONFIG=" + path
	name := "_acme-challenge." + e.Zone

	r := e.dcvd([]string{cfg}, "hook", "add", name, valueA)
	if r.code != 1 {
		t.Fatalf("hook add: exit %d, want 1 (stderr %q)", r.code, r.stderr)
	}
	oneLine(t, r, "not visible", "1/2", other)
	e.assertClean()

	env := []string{cfg, "CERTBOT_DOMAIN=" + e.Zone, "CERTBOT_VALIDATION=" + valueA, "CERTBOT_REMAINING_CHALLENGES=0", "CERTBOT_ALL_DOMAINS=" + e.Zone}
	r = e.dcvd(env, "hook", "certbot-auth")
	if r.code != 1 {
		t.Fatalf("certbot-auth: exit %d, want 1 (stderr %q)", r.code, r.stderr)
	}
	oneLine(t, r, "not visible", other)
	if got := e.txtValues(name); !slices.Equal(got, []string{valueA}) {
		t.Fatalf("certbot-auth failure: TXT %v, want the value kept for certbot's cleanup", got)
	}
	if r := e.dcvd(env, "hook", "certbot-cleanup"); r.code != 0 {
		t.Fatalf("certbot-cleanup: exit %d: %s", r.code, r.stderr)
	}
	e.assertClean()
}

// TestHookCrashCleanup: a hook killed while waiting leaves its record, and
// `dcvd cleanup` removes it.
func TestHookCrashCleanup(t *testing.T) {
	e := newE2E(t)
	cfg, _ := twoServers(e)
	name := "_acme-challenge." + e.Zone
	cmd := exec.Command(e.DCVD, "--config", cfg, "hook", "--timeout", "5m", "add", name, valueA)
	cmd.Env = e.env()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(20 * time.Second)
	for len(e.txtValues(name)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("hook add did not publish within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill() // kill -9 while it waits for the second server
	cmd.Wait()
	if got := e.txtValues(name); !slices.Equal(got, []string{valueA}) {
		t.Fatalf("after the crash: TXT %v, want the leftover", got)
	}
	// By default only records older than hook_max_age (6h) are leftovers:
	// a tool may still be waiting for its CA.
	if r := e.dcvd([]string{"DCVD_CONFIG=" + cfg}, "cleanup"); r.code != 0 || !strings.Contains(r.stdout, "removed 0 ") {
		t.Fatalf("dcvd cleanup (default age): exit %d, %q %q; want removed 0", r.code, r.stdout, r.stderr)
	}
	if got := e.txtValues(name); !slices.Equal(got, []string{valueA}) {
		t.Fatalf("cleanup removed a fresh record: TXT %v", got)
	}
	r := e.dcvd([]string{"DCVD_CONFIG=" + cfg}, "cleanup", "--older-than", "0")
	if r.code != 0 {
		t.Fatalf("dcvd cleanup: exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "removed 1 ") {
		t.Errorf("dcvd cleanup said %q, want removed 1", r.stdout)
	}
	e.assertClean()
}

// TestAcmeShDNSAPI sources hooks/acme.sh/dns_dcvd.sh the way acme.sh does
// (in a subshell, with acme.sh's helper functions defined) and publishes an
// apex and a wildcard value at one name, then removes them.
func TestAcmeShDNSAPI(t *testing.T) {
	bash := testenv.Binary(t, "bash")
	e := newE2E(t)
	script, err := filepath.Abs("../../hooks/acme.sh/dns_dcvd.sh")
	if err != nil {
		t.Fatal(err)
	}
	accountConf := filepath.Join(e.Dir, "account.conf")
	name := "_acme-challenge." + e.Zone
	// Minimal stand-ins for acme.sh's own functions (acme.sh defines these
	// before it sources a dnsapi file).
	prelude := fmt.Sprintf(`
_info() { echo "[info] $*" >&2; }
_err() { echo "[error] $*" >&2; }
_debug() { :; }
_readaccountconf_mutable() { sed -n "s/^SAVED_$1='\(.*\)'$/\1/p" %[1]q 2>/dev/null; }
_saveaccountconf_mutable() { touch %[1]q; sed -i "/^SAVED_$1=/d" %[1]q; echo "SAVED_$1='$2'" >> %[1]q; }
`, accountConf)
	run := func(env []string, body string) (string, error) {
		cmd := exec.Command(bash, "-c", prelude+"\n( . "+script+"\n"+body+"\n)")
		cmd.Env = e.env(env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	env := []string{"DCVD_BIN=" + e.DCVD, "DCVD_CONFIG=" + e.Config}
	if out, err := run(env, fmt.Sprintf("dns_dcvd_add %s %s && dns_dcvd_add %s %s", name, valueA, name, valueB)); err != nil {
		t.Fatalf("dns_dcvd_add: %v\n%s", err, out)
	}
	if got := e.txtValues(name); !slices.Equal(got, []string{valueB, valueA}) {
		t.Fatalf("after two adds: TXT %v", got)
	}
	saved, _ := os.ReadFile(accountConf)
	if !strings.Contains(string(saved), "SAVED_DCVD_BIN='"+e.DCVD+"'") || !strings.Contains(string(saved), "SAVED_DCVD_CONFIG='"+e.Config+"'") {
		t.Errorf("account conf does not hold DCVD_BIN and DCVD_CONFIG:\n%s", saved)
	}
	// A renewal: the variables come from the account conf only.
	noEnv := []string{"DCVD_BIN=", "DCVD_CONFIG="}
	if out, err := run(noEnv, fmt.Sprintf("dns_dcvd_rm %s %s && dns_dcvd_rm %s %s", name, valueA, name, valueB)); err != nil {
		t.Fatalf("dns_dcvd_rm: %v\n%s", err, out)
	}
	e.assertClean()
	// A failing add returns non-zero and leaves nothing.
	if out, err := run(env, "dns_dcvd_add _acme-challenge.example.org "+valueA); err == nil {
		t.Fatalf("dns_dcvd_add outside every zone succeeded:\n%s", out)
	} else if !strings.Contains(out, "no DNS backend serves") {
		t.Errorf("failure output does not name the cause:\n%s", out)
	}
	e.assertClean()
}

// TestCertbotWaitsOnce: while CERTBOT_REMAINING_CHALLENGES > 0 the auth
// hook returns at once (even when propagation could never succeed); the
// last call waits for every record of the run.
func TestCertbotWaitsOnce(t *testing.T) {
	e := newE2E(t)
	path, other := twoServers(e)
	// A propagation timeout far longer than a hook process takes to start,
	// even on a loaded machine, so "returns at once" is told apart from
	// "waited for propagation" by a wide margin.
	cfg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(cfg), `timeout = "1500ms"`, `timeout = "8s"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	all := "a." + e.Zone + ",b." + e.Zone + ",c." + e.Zone
	for i, d := range []string{"a", "b", "c"} {
		env := []string{"DCVD_CONFIG=" + path, "CERTBOT_DOMAIN=" + d + "." + e.Zone, "CERTBOT_VALIDATION=" + valueA,
			fmt.Sprintf("CERTBOT_REMAINING_CHALLENGES=%d", 2-i), "CERTBOT_ALL_DOMAINS=" + all}
		start := time.Now()
		r := e.dcvd(env, "hook", "certbot-auth")
		if i < 2 {
			if r.code != 0 || time.Since(start) > 4*time.Second {
				t.Fatalf("auth %s with challenges remaining: exit %d after %s (%s), want 0 at once", d, r.code, time.Since(start), r.stderr)
			}
			continue
		}
		if r.code != 1 {
			t.Fatalf("last auth: exit %d, want 1 (%s)", r.code, r.stderr)
		}
		oneLine(t, r, "3 of 3 records not visible", other)
	}
	for _, d := range []string{"a", "b", "c"} {
		env := []string{"DCVD_CONFIG=" + path, "CERTBOT_DOMAIN=" + d + "." + e.Zone, "CERTBOT_VALIDATION=" + valueA}
		if r := e.dcvd(env, "hook", "certbot-cleanup"); r.code != 0 {
			t.Fatalf("cleanup %s: exit %d: %s", d, r.code, r.stderr)
		}
	}
	e.assertClean()
}
