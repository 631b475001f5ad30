package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCAHooksNamedByType: every registered CA's own commands are named by
// its type, so `dcvd <type>` and `dcvd sandbox <type>` find them.
func TestCAHooksNamedByType(t *testing.T) {
	root := newRoot()
	for _, spec := range caSpecs() {
		if spec.Commands != nil {
			c, _, err := root.Find([]string{spec.Type})
			if err != nil || c.Name() != spec.Type {
				t.Errorf("dcvd %s: not found (%v)", spec.Type, err)
			} else if c.PersistentFlags().Lookup("account") == nil {
				t.Errorf("dcvd %s: no --account flag", spec.Type)
			}
		}
		if spec.Sandbox != nil {
			c, _, err := root.Find([]string{"sandbox", spec.Type})
			if err != nil || c.Name() != spec.Type {
				t.Errorf("dcvd sandbox %s: not found (%v)", spec.Type, err)
			}
		}
	}
}

// TestNoCANamedOutsideItsPackages: adding a CA is one folder under
// providers/, one under sandbox/ and one registry line; the generic parts
// of the binary never name one.
func TestNoCANamedOutsideItsPackages(t *testing.T) {
	var names []string
	for _, spec := range caSpecs() {
		names = append(names, regexp.QuoteMeta(spec.Type))
	}
	re := regexp.MustCompile(`(?i)\b(` + strings.Join(names, "|") + `)\b`)
	for _, dir := range []string{".", "../../internal/app", "../../internal/config", "../../internal/cli"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for i, line := range strings.Split(string(data), "\n") {
				for _, loc := range re.FindAllStringIndex(line, -1) {
					m := line[loc[0]:loc[1]]
					// "ACME" and "acme-dns" name protocols, not the acme CA type.
					if m == strings.ToUpper(m) && m != strings.ToLower(m) || strings.HasPrefix(line[loc[1]:], "-dns") {
						continue
					}
					t.Errorf("%s:%d names the CA %q: move it into the CA's package (providers.Spec hooks)", f, i+1, m)
				}
			}
		}
	}
}
