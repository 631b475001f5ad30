package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sandbox "github.com/dcvd/dcvd/sandbox/digicert"
)

// TestUsageExitCodes: an unknown command, subcommand or flag is a usage
// error (exit 2, one line), as the README documents.
func TestUsageExitCodes(t *testing.T) {
	ctx := deadlineCtx(t, time.Minute)
	for _, args := range [][]string{
		{"bogus"},
		{"config", "bogus"},
		{"hook", "bogus"},
		{"run", "--bogus"},
		{"status", "--no-such-flag"},
	} {
		r := runDcvd(t, ctx, nil, args...)
		checkOneLine(t, r, 2, strings.TrimLeft(args[len(args)-1], "-"))
	}
}

// TestCheckZoneNotFoundExit2: `dcvd check` on a name whose zone cannot be
// found is an error (exit 2), not "not visible" (exit 1).
func TestCheckZoneNotFoundExit2(t *testing.T) {
	w := newWorld(t, []string{"known.test"}, nil)
	cfg := w.config(t, "test-key", "")
	ctx := deadlineCtx(t, time.Minute)
	r := runDcvd(t, ctx, nil, "--config", cfg, "check", "nowhere.unknown-tld-x", "--value", "v")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// A name in a served zone that is simply not there yet stays exit 1.
	r = runDcvd(t, ctx, nil, "--config", cfg, "check", "_dnsauth.known.test", "--value", "v")
	if r.code != 1 {
		t.Fatalf("not visible: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestConfigSyntaxErrorHidesSecret: a secret written without quotes is a
// syntax error whose message names file:line and the key, never the value.
func TestConfigSyntaxErrorHidesSecret(t *testing.T) {
	dir := t.TempDir()
	ctx := deadlineCtx(t, time.Minute)
	for i, v := range []string{"Zq9BareWordXk", "12345zq9xk", `abc"Zq9def`, "Zq9 Two"} {
		path := filepath.Join(dir, fmt.Sprintf("c%d.toml", i))
		writeFile(path, "[[ca]]\nname = \"x\"\ntype = \"digicert\"\napi_key = "+v+"\n")
		r := runDcvd(t, ctx, nil, "config", "check", "--config", path)
		checkOneLine(t, r, 2, fmt.Sprintf("c%d.toml:4: api_key", i))
		for _, part := range []string{"Zq9", "zq9", "BareWord"} {
			if strings.Contains(r.stdout+r.stderr, part) {
				t.Errorf("%s: output echoes the secret: %s%s", v, r.stdout, r.stderr)
			}
		}
	}
}

// TestJSONLogNoDuplicateKeys: every JSON log line of a run is an object
// without a repeated key (strict parsers reject those; `ca` came twice).
func TestJSONLogNoDuplicateKeys(t *testing.T) {
	w := newWorld(t, []string{"json.test"}, nil)
	w.sim.AddOrder(sandbox.OrderSpec{CommonName: "json.test", Method: "dns-txt-token"})
	cfg := w.config(t, "test-key", "")
	writeFile(cfg, strings.Replace(readFile(t, cfg), `log_level = "warn"`, "log_level = \"debug\"\nlog_format = \"json\"", 1))
	r := runDcvd(t, deadlineCtx(t, 2*time.Minute), nil, "run", "--config", cfg, "--timeout", "60s")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	lines, withCA := 0, 0
	for _, line := range strings.Split(r.stderr, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		lines++
		keys, err := objectKeys(line)
		if err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k] {
				t.Errorf("key %q repeated: %s", k, line)
			}
			seen[k] = true
		}
		if seen["ca"] {
			withCA++
		}
	}
	if lines == 0 || withCA == 0 {
		t.Fatalf("%d JSON lines, %d naming the CA account:\n%s", lines, withCA, r.stderr)
	}
}

// objectKeys returns the top-level keys of one JSON object, in order,
// repeats included.
func objectKeys(s string) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
