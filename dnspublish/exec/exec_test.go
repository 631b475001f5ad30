package exec

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/dnspublish/publishertest"
	"github.com/dcvd/dcvd/internal/testenv"
)

func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func open(t *testing.T, o Options) *Publisher {
	t.Helper()
	p, err := New(dnspublish.Base{Name: "script", Zones: []string{"example.com"}}, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	publishertest.OneLine(t, err)
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}

// TestConformance runs the suite through testdata/nsupdate-edit, a shell
// script that edits a BIND zone with nsupdate: dcvd → exec → bash →
// nsupdate → BIND, checked by querying BIND.
func TestConformance(t *testing.T) {
	testenv.Binary(t, "nsupdate")
	b := testenv.StartBIND(t, testenv.BINDOptions{Zones: []testenv.BINDZone{
		{Name: "example.com", Records: publishertest.ZoneFileLines("example.com")},
	}})
	keyfile := filepath.Join(t.TempDir(), "tsig.key")
	key := fmt.Sprintf("key %q { algorithm %s; secret %q; };\n", strings.TrimSuffix(b.Key.Name, "."), strings.TrimSuffix(b.Key.Algorithm, "."), b.Key.Secret)
	if err := os.WriteFile(keyfile, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	prog, err := filepath.Abs("testdata/nsupdate-edit")
	if err != nil {
		t.Fatal(err)
	}
	p := open(t, Options{Command: prog, Env: map[string]string{
		"NSUPDATE_SERVER": b.Host, "NSUPDATE_PORT": fmt.Sprint(b.Port), "NSUPDATE_KEYFILE": keyfile,
	}})
	// Four concurrent writers: each is a bash + nsupdate process chain.
	publishertest.Run(t, publishertest.Harness{Publisher: p, Zone: "example.com", Server: b.Addr, Concurrency: 4})
	if t.Failed() {
		t.Log(b.Log())
	}
}

// The program gets its arguments and environment exactly, never through a
// shell.
func TestArgumentsAndEnvironment(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	prog := script(t, `for a in "$@"; do printf '%s\n' "$a"; done > "$OUT"
env | grep -E '^(DCVD_|SECRET_OF_DCVD|EXTRA)' | sort >> "$OUT"
`)
	os.Setenv("SECRET_OF_DCVD", "must-not-leak")
	defer os.Unsetenv("SECRET_OF_DCVD")
	p := open(t, Options{Command: prog, Args: []string{"--flag"}, Env: map[string]string{"OUT": out, "EXTRA": "x"}, TTL: 90})
	value := "`id` $(touch /tmp/pwned) ; \"quoted\" \\ *"
	if _, err := p.Add(context.Background(), "example.com", []dnspublish.Record{publishertest.TXT("_acme-challenge.Example.com", value)}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	want := strings.Join([]string{"--flag", "add", "_acme-challenge.example.com.", "TXT", value, "90",
		"DCVD_BACKEND=script", "DCVD_FQDN=_acme-challenge.example.com.", "DCVD_OPERATION=add", "DCVD_TTL=90",
		"DCVD_TYPE=TXT", "DCVD_VALUE=" + value, "DCVD_ZONE=example.com.", "EXTRA=x"}, "\n") + "\n"
	if string(got) != want {
		t.Fatalf("program saw:\n%s\nwant:\n%s", got, want)
	}
}

func TestFailures(t *testing.T) {
	ctx := context.Background()
	rec := []dnspublish.Record{publishertest.TXT("_acme-challenge.example.com", "v")}

	p := open(t, Options{Command: script(t, "echo 'progress noise'\necho 'first line' >&2\necho 'zone example.com: API says 403 forbidden' >&2\nexit 3\n")})
	_, err := p.Add(ctx, "example.com", rec)
	wantErr(t, err, `exec "script": add _acme-challenge.example.com TXT: `, "exited with status 3: first line | zone example.com: API says 403 forbidden")

	p = open(t, Options{Command: script(t, "exit 1\n")})
	_, err = p.Remove(ctx, "example.com", rec)
	wantErr(t, err, "remove _acme-challenge.example.com TXT", "exited with status 1 (no stderr)")

	// A program that hangs, with a child holding its stderr open: killed
	// as a group at the timeout.
	p = open(t, Options{Command: script(t, "sleep 30 &\nsleep 30\n"), Timeout: dnspublish.Duration(300 * time.Millisecond)})
	start := time.Now()
	_, err = p.Add(ctx, "example.com", rec)
	wantErr(t, err, "did not finish within 300ms (killed)")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("timeout took %v", d)
	}

	p = open(t, Options{Command: script(t, "kill -TERM $$\n")})
	_, err = p.Add(ctx, "example.com", rec)
	wantErr(t, err, "was killed")

	// The first failure stops the batch.
	n := filepath.Join(t.TempDir(), "count")
	p = open(t, Options{Command: script(t, "echo x >> "+n+"\nexit 2\n")})
	_, err = p.Add(ctx, "example.com", append(rec, publishertest.TXT("_acme-challenge.example.com", "w")))
	wantErr(t, err, "status 2")
	if b, _ := os.ReadFile(n); string(b) != "x\n" {
		t.Fatalf("program ran %q times", b)
	}
}

func TestOptions(t *testing.T) {
	spec := Spec()
	opts := spec.Options().(*Options)
	if _, err := toml.Decode(`
command = "/bin/true"
args = ["--zone-file", "/srv/zones"]
env = { API_TOKEN_FILE = "/etc/dcvd/credentials/api.token" }
timeout = "10s"
ttl = 120
rate_limit = "10/1s"
`, opts); err != nil {
		t.Fatal(err)
	}
	pub, err := spec.Open(context.Background(), dnspublish.Base{Name: "script", Zones: []string{"example.com"}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if p := pub.(*Publisher); p.timeout != 10*time.Second || p.ttl != 120 || p.limit == nil || p.env[0] != "API_TOKEN_FILE=/etc/dcvd/credentials/api.token" {
		t.Fatalf("decoded %+v", p)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{}, "command is required"},
		{Options{Command: "dns-edit"}, "give an absolute path"},
		{Options{Command: "/nonexistent/dns-edit"}, "no such file"},
		{Options{Command: dir}, "not an executable file"},
		{Options{Command: "/bin/true", Env: map[string]string{"A=B": "x"}}, "bad variable name"},
	} {
		_, err := New(dnspublish.Base{Name: "script", Zones: []string{"example.com"}}, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
}
