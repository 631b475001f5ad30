package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "key"), []byte("from-file\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "cred"), []byte("from-credential"), 0o600)
	os.WriteFile(filepath.Join(dir, "empty"), []byte(" \n"), 0o600)
	t.Setenv("CREDENTIALS_DIRECTORY", dir)

	for _, c := range []struct {
		name string
		ref  Ref
		want string // value, or "error: <substring>"
	}{
		{"inline", Ref{Key: "api_key", Inline: "abc"}, "abc"},
		{"file, newline trimmed", Ref{Key: "api_key", File: filepath.Join(dir, "key")}, "from-file"},
		{"credential", Ref{Key: "api_key", Credential: "cred"}, "from-credential"},
		{"missing file", Ref{Key: "api_key", File: filepath.Join(dir, "nope")}, "error: api_key_file: open " + filepath.Join(dir, "nope")},
		{"not set", Ref{Key: "api_key"}, "error: api_key: not set"},
		{"two sources", Ref{Key: "api_key", Inline: "a", File: "b"}, "error: set only one of"},
		{"empty file", Ref{Key: "api_key", File: filepath.Join(dir, "empty")}, "error: secret is empty"},
		{"credential path", Ref{Key: "api_key", Credential: "../key"}, "error: must be a plain name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.ref.Read()
			if want, ok := strings.CutPrefix(c.want, "error: "); ok {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("got %q, %v; want error containing %q", got, err, want)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestCredentialWithoutDirectory(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	_, err := Ref{Key: "tsig_secret", Credential: "tsig"}.Read()
	if err == nil || !strings.Contains(err.Error(), "$CREDENTIALS_DIRECTORY is not set") {
		t.Fatalf("got %v", err)
	}
}

func TestRedactNeverShowsValue(t *testing.T) {
	if r := (Ref{Inline: "hunter2"}).Redact(); strings.Contains(r, "hunter2") {
		t.Fatalf("Redact leaked the secret: %q", r)
	}
}
