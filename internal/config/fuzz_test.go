package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/dnspublish/embedded"
	"github.com/dcvd/dcvd/dnspublish/rfc2136"
	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/digicert"
)

// FuzzParse feeds arbitrary text to the config loader: it never panics, an
// error is one line (a *config.Error naming the file), and a syntax error
// on a line setting a secret-like key never echoes that line's value.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"[daemon]\nstate_dir = \"/var/lib/dcvd\"\n",
		"[[ca]]\nname = \"dc\"\ntype = \"digicert\"\napi_key = BAREWORD\n",
		"[[ca]]\nname = \"dc\"\ntype = \"digicert\"\napi_key = \"${DIGICERT_API_KEY}\"\n",
		"[[dns]]\nname = \"b\"\ntype = \"rfc2136\"\nzones = [\"example.com\"]\nserver = \"127.0.0.1:53\"\ntsig_secret = 'abc\n",
		"[[dns]]\ntype = \"embedded\"\nname = \"e\"\nzones = [\"dcv.example.net\"]\nresponse_rate = -5\n",
		"[propagation]\ntimeout = \"soon\"\n",
		"[daemon\n",
	} {
		f.Add(s)
	}
	// The two built-in backends and DigiCert, not the whole registry:
	// instrumenting every backend's SDK for fuzzing takes minutes.
	reg := config.Registry{
		DNS: map[string]dnspublish.Spec{"rfc2136": rfc2136.Spec(), "embedded": embedded.Spec()},
		CA:  map[string]providers.Spec{"digicert": digicert.Spec()},
	}
	f.Fuzz(func(t *testing.T, text string) {
		_, err := config.Parse("fuzz.toml", text, reg)
		if err == nil {
			return
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Fatalf("error of more than one line: %q", msg)
		}
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Line <= 0 {
			return
		}
		lines := strings.Split(text, "\n")
		if ce.Line > len(lines) {
			return
		}
		k, v, ok := strings.Cut(lines[ce.Line-1], "=")
		v = strings.Trim(strings.TrimSpace(v), `"'`)
		if ok && len(v) >= 6 && strings.Contains(strings.ToLower(k), "secret") && strings.Contains(msg, v) {
			t.Fatalf("error echoes the secret %q: %s", v, msg)
		}
	})
}
