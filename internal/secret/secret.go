// Package secret reads credentials without requiring them inline in the
// config file: from a file, from a systemd credential
// ($CREDENTIALS_DIRECTORY/<name>, see systemd.exec(5) LoadCredential=), or
// inline (where ${ENV} expansion already happened in the config loader).
package secret

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Ref says where one secret comes from. Exactly one field may be set.
type Ref struct {
	Key        string // the config key, for error messages ("api_key")
	Inline     string // api_key = "..." (after ${ENV} expansion)
	File       string // api_key_file = "/etc/dcvd/digicert.key"
	Credential string // api_key_credential = "digicert" (systemd LoadCredential=)
}

// Set reports whether any source is configured.
func (r Ref) Set() bool { return r.Inline != "" || r.File != "" || r.Credential != "" }

// Read returns the secret with surrounding white space (a trailing newline
// in a file) removed. It never returns an empty secret without an error.
func (r Ref) Read() (string, error) {
	n := 0
	for _, s := range []string{r.Inline, r.File, r.Credential} {
		if s != "" {
			n++
		}
	}
	switch {
	case n == 0:
		return "", fmt.Errorf("%s: not set (use %s_file or %s_credential)", r.Key, r.Key, r.Key)
	case n > 1:
		return "", fmt.Errorf("%s: set only one of %s, %s_file, %s_credential", r.Key, r.Key, r.Key, r.Key)
	}
	var v string
	switch {
	case r.Inline != "":
		v = r.Inline
	case r.File != "":
		b, err := os.ReadFile(r.File)
		if err != nil {
			return "", fmt.Errorf("%s_file: %w", r.Key, err)
		}
		v = string(b)
	default:
		dir := os.Getenv("CREDENTIALS_DIRECTORY")
		if dir == "" {
			return "", fmt.Errorf("%s_credential %q: $CREDENTIALS_DIRECTORY is not set (LoadCredential= in the unit)", r.Key, r.Credential)
		}
		if strings.ContainsRune(r.Credential, '/') {
			return "", fmt.Errorf("%s_credential %q: must be a plain name", r.Key, r.Credential)
		}
		b, err := os.ReadFile(filepath.Join(dir, r.Credential))
		if err != nil {
			return "", fmt.Errorf("%s_credential: %w", r.Key, err)
		}
		v = string(b)
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", fmt.Errorf("%s: %w", r.Key, errEmpty)
	}
	return v, nil
}

var errEmpty = errors.New("secret is empty")

// Redact returns a printable stand-in for a secret source, for `config check`.
func (r Ref) Redact() string {
	switch {
	case r.File != "":
		return "file " + r.File
	case r.Credential != "":
		return "credential " + r.Credential
	case r.Inline != "":
		return "inline (redacted)"
	}
	return "not set"
}
