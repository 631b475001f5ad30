package config

import (
	"strings"
	"testing"
)

func TestStoreKeys(t *testing.T) {
	base := "[[dns]]\ntype = \"rfc2136\"\nname = \"ns\"\nzones = [\"example.net\"]\nserver = \"127.0.0.1:53\"\n"
	cases := []struct{ name, store, wantErr string }{
		{"default sqlite", "", ""},
		{"postgres with dsn_file", "[store]\ntype = \"postgres\"\ndsn_file = \"/etc/dcvd/pg.dsn\"\nlease = \"10s\"\n", ""},
		{"postgres without dsn", "[store]\ntype = \"postgres\"\n", "exactly one of dsn"},
		{"postgres with two dsns", "[store]\ntype = \"postgres\"\ndsn = \"postgres://x\"\ndsn_credential = \"pg\"\n", "exactly one of dsn"},
		{"sqlite with dsn", "[store]\ndsn_file = \"/x\"\n", "for type = \"postgres\""},
		{"unknown type", "[store]\ntype = \"mysql\"\n", "want \"sqlite\" or \"postgres\""},
		{"unknown key", "[store]\nhost = \"db\"\n", "unknown key \"store.host\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("test.toml", tc.store+base, testRegistry())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if cfg.Store.Type == "" {
					t.Fatal("store.type not defaulted")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	// The DSN is a secret: a syntax error on its line does not echo it.
	_, err := Parse("test.toml", "[store]\ntype = \"postgres\"\ndsn = postgres://u:s3cret@h/db\n"+base, testRegistry())
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("bad dsn line: %v", err)
	}
}
