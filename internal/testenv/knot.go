package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// KnotOptions configures StartKnot: a Knot DNS secondary that transfers its
// zones from a primary (NOTIFY + IXFR).
type KnotOptions struct {
	Addr string // listen address, default 127.0.0.1
	Port int    // 0: pick a free one
	// Zones are secondary zones ("example.test").
	Zones []string
	// Primary is the "addr@port" Knot transfers from (it may be a
	// DelayProxy); NotifyFrom is the address NOTIFY messages come from.
	Primary    string
	NotifyFrom string
}

// Knot is a running knotd.
type Knot struct {
	Addr string
	Dir  string
}

// StartKnot runs knotd as a secondary for opts.Zones, waits until every zone
// was transferred and answers, and stops it at test end.
func StartKnot(t testing.TB, opts KnotOptions) *Knot {
	t.Helper()
	bin := Binary(t, "knotd")
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1"
	}
	if opts.Port == 0 {
		opts.Port = FreePort(t, opts.Addr)
	}
	if opts.NotifyFrom == "" {
		opts.NotifyFrom, _, _ = strings.Cut(opts.Primary, "@")
	}
	dir := t.TempDir()
	var conf strings.Builder
	fmt.Fprintf(&conf, `server:
    rundir: %q
    listen: %s@%d
    user: root:root
log:
  - target: stderr
    any: warning
database:
    storage: %q
control:
    listen: %q
remote:
  - id: primary
    address: %s
acl:
  - id: notify_from_primary
    address: %s
    action: notify
template:
  - id: default
    storage: %q
    zonefile-sync: -1
    zonefile-load: none
    journal-content: none
zone:
`, dir, opts.Addr, opts.Port, dir, filepath.Join(dir, "knot.sock"), opts.Primary, opts.NotifyFrom, dir)
	for _, z := range opts.Zones {
		fmt.Fprintf(&conf, "  - domain: %s\n    master: primary\n    acl: notify_from_primary\n", strings.TrimSuffix(z, "."))
	}
	confPath := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	k := &Knot{Addr: fmt.Sprintf("%s:%d", opts.Addr, opts.Port), Dir: dir}
	startDaemon(t, bin, dir, "knot.log", "-c", confPath)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, z := range opts.Zones {
		if err := WaitSOA(ctx, k.Addr, z); err != nil {
			t.Fatalf("knotd did not load %s: %v\nknot.log:\n%s", z, err, readFile(filepath.Join(dir, "knot.log")))
		}
	}
	return k
}
