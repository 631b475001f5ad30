package config

import (
	"strings"
	"testing"
)

func TestOpsKeys(t *testing.T) {
	base := `[[dns]]
type = "rfc2136"
name = "ns"
zones = ["acme.example.net"]
server = "127.0.0.1:53"
`
	cases := []struct {
		name, daemon, wantErr string
	}{
		{"loopback needs no auth", "[daemon]\nlisten = \"127.0.0.1:9153\"\n", ""},
		{"public listener needs auth", "[daemon]\nlisten = \"0.0.0.0:9153\"\n", "needs username and password"},
		{"public listener with auth", "[daemon]\nlisten = \"[::]:9153\"\n[daemon.web]\nusername = \"ops\"\npassword_file = \"/x\"\n", ""},
		{"username without password", "[daemon.web]\nusername = \"ops\"\n", "go together"},
		{"acmedns on the daemon listener", "[daemon]\nlisten = \"127.0.0.1:9153\"\n[daemon.acmedns]\nzone = \"acme.example.net\"\n", ""},
		{"acmedns needs a listener", "[daemon.acmedns]\nzone = \"acme.example.net\"\n", "set listen"},
		{"acmedns zone not served", "[daemon.acmedns]\nzone = \"other.example\"\nlisten = \"127.0.0.1:8053\"\n", "no [[dns]] backend serves it"},
		{"acmedns bad network", "[daemon.acmedns]\nzone = \"acme.example.net\"\nlisten = \"127.0.0.1:8053\"\nallow_from = [\"10.0.0.0/33\"]\n", "allow_from"},
		{"acmedns keys without zone", "[daemon.acmedns]\nregistration = false\n", "zone is required"},
		{"audit retention", "[daemon]\naudit_retention = \"720h\"\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("test.toml", tc.daemon+base, testRegistry())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if cfg.Daemon.AuditRetention == 0 || cfg.Daemon.Web.Refresh == 0 {
					t.Fatalf("defaults not applied: %+v", cfg.Daemon)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	cfg, err := Parse("test.toml", "[daemon]\nlisten = \"127.0.0.1:1\"\n[daemon.acmedns]\nzone = \"Acme.Example.NET\"\n"+base, testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Daemon.AcmeDNS
	if a.Zone != "acme.example.net." || !a.RegistrationOn() || len(a.Networks()) != 2 || cfg.Daemon.AuditRetention.D() != DefaultAuditRetention {
		t.Fatalf("acmedns defaults: %+v, retention %v", a, cfg.Daemon.AuditRetention)
	}
}
