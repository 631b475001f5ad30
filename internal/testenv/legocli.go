package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// LegoCLIModule is the folder, relative to the repository root, of the Go
// module that pins the upstream lego CLI (Debian's lego is built without
// its acme-dns provider; see tools/legocli/README.md).
const LegoCLIModule = "tools/legocli"

// legoCLIPackage is the main package built from LegoCLIModule.
const legoCLIPackage = "github.com/go-acme/lego/v4/cmd/lego"

var legoCLI struct {
	mu   sync.Mutex
	path string
}

// LegoCLI returns the path of the upstream lego CLI at the version
// tools/legocli/go.mod pins.
//
// $DCVD_LEGO_CLI, when set, names a binary built beforehand (.ci/run does
// that, so the test run does not pay the build). Otherwise the CLI is built
// from tools/legocli once into the user cache dir
// (<cache>/dcvd/lego-cli-<hash of go.mod and go.sum>/lego) and reused by
// every later run until the pin changes; the first build takes minutes
// (a few hundred modules). Processes building at the same time take turns
// through a lock file, so the build happens once.
//
// Either way the binary must report the pinned version (`lego --version`).
// A failed build fails the test under CI=true and skips it otherwise (e.g.
// no module proxy in reach), with the build's output.
func LegoCLI(t testing.TB) string {
	t.Helper()
	legoCLI.mu.Lock()
	defer legoCLI.mu.Unlock()
	if legoCLI.path != "" {
		return legoCLI.path
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(root, LegoCLIModule)
	want, err := pinnedLegoVersion(filepath.Join(mod, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	path := os.Getenv("DCVD_LEGO_CLI")
	if path == "" {
		if path, err = buildLegoCLI(t, mod); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("upstream lego CLI: %v", err)
			}
			t.Skipf("upstream lego CLI not available (CI=true would fail here): %v", err)
		}
	}
	out, err := exec.Command(path, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("upstream lego CLI %s (DCVD_LEGO_CLI=%q): --version: %v\n%s", path, os.Getenv("DCVD_LEGO_CLI"), err, out)
	}
	if !strings.Contains(string(out), "version "+want) {
		t.Fatalf("upstream lego CLI %s reports %q, want %s as %s/go.mod pins (stale DCVD_LEGO_CLI?)", path, strings.TrimSpace(string(out)), want, LegoCLIModule)
	}
	legoCLI.path = path
	return path
}

// repoRoot walks up from the working directory (a package folder under go
// test) to the folder holding LegoCLIModule.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, LegoCLIModule, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no %s/go.mod above %s", LegoCLIModule, dir)
		}
	}
}

var legoRequire = regexp.MustCompile(`(?m)^\s*(?:require\s+)?github\.com/go-acme/lego/v4\s+(v\S+)\s*$`)

// pinnedLegoVersion reads the lego version a go.mod requires.
func pinnedLegoVersion(gomod string) (string, error) {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	m := legoRequire.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("%s: no require of github.com/go-acme/lego/v4", gomod)
	}
	return string(m[1]), nil
}

// buildLegoCLI returns the cached build of the CLI from mod, building it
// first when the cache has none for mod's go.mod + go.sum.
func buildLegoCLI(t testing.TB, mod string) (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(mod, f))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "dcvd", "lego-cli-"+hex.EncodeToString(h.Sum(nil))[:16])
	bin := filepath.Join(dir, "lego")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cache dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("cache lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("cache lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if st, err := os.Stat(bin); err == nil && st.Mode().IsRegular() {
		return bin, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("building it needs the go command: %w", err)
	}
	t.Logf("building the upstream lego CLI from %s into %s (once per go.sum; takes minutes)", mod, dir)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	tmp := bin + ".tmp"
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", tmp, legoCLIPackage)
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("go build %s in %s: %v\n%s", legoCLIPackage, mod, err, tailString(string(out), 4000))
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	t.Logf("built the upstream lego CLI in %s", time.Since(start).Round(time.Second))
	return bin, nil
}
