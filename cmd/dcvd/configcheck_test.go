package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigExample keeps config.example.toml true: it must pass
// `dcvd config check` (with its credentials present) and the plan must show
// every zone and account, never a secret.
func TestConfigExample(t *testing.T) {
	creds := t.TempDir()
	for name, v := range map[string]string{"digicert": "sekrit-api-key", "webnic": "sekrit-webnic-password", "certinext": "sekrit-client-secret", "eab": "sekrit-eab-hmac", "tsig": "c2VrcmV0LXRzaWctc2VjcmV0LXZhbHVlLTEyMzQ1Njc4OTA="} {
		os.WriteFile(filepath.Join(creds, name), []byte(v), 0o600)
	}
	// DNS backends' credentials (dnspublish/*).
	for name, v := range map[string]string{"pdns": "sekrit-pdns-key", "mdr": "sekrit-mdr-key", "cloudflare": "sekrit-cf-token"} {
		os.WriteFile(filepath.Join(creds, name), []byte(v), 0o600)
	}
	pw := filepath.Join(t.TempDir(), "httpreq.password")
	os.WriteFile(pw, []byte("pw"), 0o600)
	text := strings.Replace(readFile(t, "../../config.example.toml"), "/etc/dcvd/httpreq.password", pw, 1)
	cfg := filepath.Join(t.TempDir(), "config.toml")
	writeFile(cfg, text)

	r := runDcvd(t, deadlineCtx(t, 30*time.Second), []string{"CREDENTIALS_DIRECTORY=" + creds}, "config", "check", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("config check exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"example.com", "example.org", "dcv.example.net", "bind-primary", "dcv-zone", "digicert-main", "webnic-main", "certinext-main", "digicert-acme", "*/5 * * * *", "override example.com"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "sekrit") || strings.Contains(r.stdout, "c2VrcmV0") {
		t.Errorf("plan prints a secret:\n%s", r.stdout)
	}
}

// TestConfigCheckMissingCredential: no $CREDENTIALS_DIRECTORY → one line, exit 2.
func TestConfigCheckMissingCredential(t *testing.T) {
	r := runDcvd(t, deadlineCtx(t, 30*time.Second), []string{"CREDENTIALS_DIRECTORY="}, "config", "check", "--config", "../../config.example.toml")
	checkOneLine(t, r, 2, "CREDENTIALS_DIRECTORY")
}
