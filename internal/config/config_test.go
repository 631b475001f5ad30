package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/providers"
)

type testDNSOptions struct {
	Server string `toml:"server"`
}

type testCAOptions struct {
	APIKeyFile string `toml:"api_key_file"`
}

func testRegistry() Registry {
	return Registry{
		DNS: map[string]dnspublish.Spec{"rfc2136": {
			Type:    "rfc2136",
			Options: func() any { return &testDNSOptions{} },
			Open: func(context.Context, dnspublish.Base, any) (dnspublish.Publisher, error) {
				return nil, errors.New("not used")
			},
		}},
		CA: map[string]providers.Spec{"digicert": {
			Type:    "digicert",
			Options: func() any { return &testCAOptions{} },
		}},
	}
}

const good = `
[daemon]
state_dir = "/tmp/dcvd-test"
log_format = "json"

[propagation]
timeout = "2m"
resolvers = ["127.0.0.1:53"]

[[propagation.override]]
zone = "example.com"
servers = ["127.0.0.1:5353"]

[[ca]]
type = "digicert"
name = "main"
schedule = "@every 1m"
api_key_file = "/run/credentials/dcvd.service/digicert"
domains = ["Example.COM"]

[[dns]]
type = "rfc2136"
name = "bind"
zones = ["example.com", "example.org."]
server = "127.0.0.1:53"
`

func TestParseGood(t *testing.T) {
	cfg, err := Parse("dcvd.toml", good, testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.DNS[0].Options.(*testDNSOptions).Server; got != "127.0.0.1:53" {
		t.Errorf("backend option server = %q", got)
	}
	if got := cfg.CAs[0].Options.(*testCAOptions).APIKeyFile; !strings.HasSuffix(got, "/digicert") {
		t.Errorf("ca option api_key_file = %q", got)
	}
	if cfg.DNS[0].Zones[1] != "example.org." || cfg.CAs[0].Domains[0] != "example.com." {
		t.Errorf("names not canonical: %v %v", cfg.DNS[0].Zones, cfg.CAs[0].Domains)
	}
	if cfg.CAs[0].Line != 14 || cfg.DNS[0].Line != 21 {
		t.Errorf("table lines = %d, %d; want 14, 21", cfg.CAs[0].Line, cfg.DNS[0].Line)
	}
	if cfg.Propagation.Timeout.D().Minutes() != 2 || cfg.Propagation.Mode != "authoritative" || cfg.Daemon.Workers != 8 {
		t.Errorf("defaults/durations wrong: %+v %+v", cfg.Propagation, cfg.Daemon)
	}
}

func TestParseErrors(t *testing.T) {
	t.Setenv("DCVD_TEST_SET", "abc")
	cases := []struct {
		name, text, want string
	}{
		{"malformed", "[daemon\nstate_dir = 1\n", "dcvd.toml:2: expected"},
		{"unknown top key", "[daemon]\nstate_dir = \"/x\"\nbogus = 1\n", `dcvd.toml:3: unknown key "daemon.bogus"`},
		{"unknown backend key", good + "srever = \"x\"\n", `dcvd.toml:26: unknown key "dns.srever"`},
		{"unknown ca key", strings.Replace(good, "schedule =", "shedule =", 1), `dcvd.toml:17: unknown key "ca.shedule"`},
		{"unknown table", "[demon]\nx = 1\n", `dcvd.toml:1: unknown key "demon`},
		{"wrong type", "[daemon]\nworkers = \"many\"\n", "dcvd.toml:2:"},
		{"bad duration", "[propagation]\ntimeout = \"soon\"\n", "duration \"soon\""},
		{"unknown backend type", "[[dns]]\ntype = \"nope\"\nname = \"x\"\nzones = [\"a.com\"]\n", `dcvd.toml:1: [[dns]] type "nope": unknown (known: rfc2136)`},
		{"unset env", "[daemon]\nstate_dir = \"${DCVD_TEST_UNSET_VAR}\"\n", "dcvd.toml:2: ${DCVD_TEST_UNSET_VAR}: environment variable is not set"},
		{"bad schedule", strings.Replace(good, "@every 1m", "every minute", 1), "dcvd.toml:14: [[ca]] \"main\" schedule"},
		{"dup name", good + "[[dns]]\ntype = \"rfc2136\"\nname = \"bind\"\nzones = [\"x.com\"]\n", `dcvd.toml:26: [[dns]] name "bind" is used twice`},
		{"bad mode", "[propagation]\nmode = \"fast\"\n", `propagation.mode "fast"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("dcvd.toml", c.text, testRegistry())
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *config.Error: %v", err, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Setenv("DCVD_STATE", "/srv/dcvd")
	cfg, err := Parse("dcvd.toml", "[daemon]\nstate_dir = \"${DCVD_STATE}\" # or ${NOT_SET_IN_COMMENT}\n# ${NOT_EXPANDED_IN_COMMENTS}\n", testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Daemon.StateDir != "/srv/dcvd" {
		t.Fatalf("state_dir = %q", cfg.Daemon.StateDir)
	}
	t.Setenv("DCVD_EVIL", `x" bogus = "y`)
	if _, err := Parse("dcvd.toml", "[daemon]\nstate_dir = \"${DCVD_EVIL}\"\n", testRegistry()); err == nil || !strings.Contains(err.Error(), "quote") {
		t.Fatalf("want a refusal of a quote in an env value, got %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"), testRegistry())
	if err == nil || !strings.Contains(err.Error(), "nope.toml: cannot read") {
		t.Fatalf("got %v", err)
	}
}

func TestResolve(t *testing.T) {
	t.Setenv("DCVD_CONFIG", "")
	os.Unsetenv("DCVD_CONFIG")
	if Resolve("") != DefaultPath {
		t.Fatal("default path")
	}
	t.Setenv("DCVD_CONFIG", "/x.toml")
	if Resolve("") != "/x.toml" || Resolve("/y.toml") != "/y.toml" {
		t.Fatal("env/flag precedence")
	}
}
