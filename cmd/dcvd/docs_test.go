package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/internal/registry"
)

// repoRoot is the module root (cmd/dcvd is two levels down).
const repoRoot = "../.."

// TestExampleKeysDocumented: every key set in config.example.toml is
// documented — a comment on its line, a comment right above it (a block of
// keys under one comment counts), its name in a comment of its table, or
// its name in a README (the backend's or CA's own README documents its
// options).
func TestExampleKeysDocumented(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "config.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var readmes strings.Builder
	for _, r := range readmeFiles(t) {
		b, err := os.ReadFile(r)
		if err != nil {
			t.Fatal(err)
		}
		readmes.Write(b)
	}
	lines := strings.Split(string(data), "\n")
	keyRE := regexp.MustCompile(`^\s*([A-Za-z0-9_.-]+)\s*=`)
	// Comments of each table section, for "named in a comment".
	section := make([]int, len(lines))
	comments := map[int]string{}
	sec := 0
	for i, l := range lines {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "[") {
			sec = i
		}
		section[i] = sec
		if strings.HasPrefix(trimmed, "#") {
			comments[sec] += " " + trimmed
		}
	}
	for i, l := range lines {
		m := keyRE.FindStringSubmatch(l)
		if m == nil || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		key := m[1]
		_, comment := splitTOMLComment(l)
		documented := comment != ""
		// Walk up over the keys of the same block to its comment.
		for j := i - 1; j >= 0 && !documented; j-- {
			up := strings.TrimSpace(lines[j])
			if strings.HasPrefix(up, "#") {
				documented = true
			}
			if up == "" || strings.HasPrefix(up, "[") || !keyRE.MatchString(up) {
				break
			}
		}
		named := regexp.MustCompile(`(^|[^A-Za-z0-9_])` + regexp.QuoteMeta(key) + `($|[^A-Za-z0-9_])`)
		if !documented && (named.MatchString(comments[section[i]]) || named.MatchString(readmes.String())) {
			documented = true
		}
		if !documented {
			t.Errorf("config.example.toml:%d: key %q has no comment saying what it is", i+1, key)
		}
	}
}

// splitTOMLComment splits a line at its first # outside a string.
func splitTOMLComment(line string) (code, comment string) {
	inStr := byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inStr != 0 && c == '\\' && inStr == '"':
			i++
		case inStr != 0 && c == inStr:
			inStr = 0
		case inStr == 0 && (c == '"' || c == '\''):
			inStr = c
		case inStr == 0 && c == '#':
			return line[:i], line[i:]
		}
	}
	return line, ""
}

// TestReadmeTOMLDecodes: every ```toml block in every README decodes. A
// complete config (one with a typed [[dns]] table) goes through the real
// loader with every backend and CA registered, so an unknown or misspelt
// key, a bad value or a missing required one fails here as it would for a
// user (${NAME} references get a placeholder value); a fragment (one [[ca]]
// table, [daemon] settings, a shape sketch) must at least be valid TOML.
func TestReadmeTOMLDecodes(t *testing.T) {
	fence := regexp.MustCompile("(?s)```toml\n(.*?)```")
	full := regexp.MustCompile(`(?m)^\s*\[\[dns\]\]\s*(#.*)?\n(\s*[a-z_]+\s*=.*\n|\s*#.*\n)*?\s*type\s*=`)
	env := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	n, loaded := 0, 0
	for _, path := range readmeFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repoRoot, path)
		for _, m := range fence.FindAllStringSubmatchIndex(string(data), -1) {
			n++
			block := string(data[m[2]:m[3]])
			line := strings.Count(string(data[:m[2]]), "\n") + 1
			block = dedent(block)
			if full.MatchString(block) {
				for _, m := range env.FindAllStringSubmatch(block, -1) {
					if _, set := os.LookupEnv(m[1]); !set {
						t.Setenv(m[1], "placeholder")
					}
				}
				loaded++
				if _, err := config.Parse(fmt.Sprintf("%s:%d", rel, line), block, registry.Registry()); err != nil {
					t.Errorf("%s:%d: a config example the loader refuses: %v", rel, line, err)
				}
				continue
			}
			var v map[string]any
			if _, err := toml.Decode(block, &v); err != nil {
				t.Errorf("%s:%d: TOML example does not decode: %v", rel, line, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("no ```toml block found in any README")
	}
	if loaded == 0 {
		t.Fatal("no README example went through the loader (is the complete-config pattern broken?)")
	}
	t.Logf("%d TOML examples checked, %d of them complete configs through the loader", n, loaded)
}

// readmeFiles lists every README.md of the repository.
func readmeFiles(t *testing.T) []string {
	var out []string
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "README.md" {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// dedent removes the indentation a fenced block has inside a list item.
func dedent(s string) string {
	lines := strings.Split(s, "\n")
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if w := len(l) - len(strings.TrimLeft(l, " \t")); indent < 0 || w < indent {
			indent = w
		}
	}
	for i, l := range lines {
		if len(l) >= indent && indent > 0 {
			lines[i] = l[indent:]
		}
	}
	return strings.Join(lines, "\n")
}
