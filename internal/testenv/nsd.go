package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// NSDOptions configures StartNSD: an NSD secondary that transfers its zones
// from a primary (NOTIFY + IXFR).
type NSDOptions struct {
	Addr string // listen address, default 127.0.0.1
	Port int    // 0: pick a free one
	// Zones are secondary zones ("example.test").
	Zones []string
	// Primary is the "addr@port" NSD transfers from; NotifyFrom the address
	// NOTIFY messages come from (default: Primary's address).
	Primary    string
	NotifyFrom string
	// Served are primary zones NSD loads from the given zone-file text
	// (zone name -> file content), e.g. a pre-signed zone.
	Served map[string]string
}

// NSD is a running nsd.
type NSD struct {
	Addr string // "host:port"
	Dir  string
}

// StartNSD runs nsd in the foreground as a secondary for opts.Zones, waits
// until every zone was transferred and answers, and stops it at test end.
func StartNSD(t testing.TB, opts NSDOptions) *NSD {
	t.Helper()
	bin := Binary(t, "nsd")
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
	ip-address: %s@%d
	do-ip6: no
	username: ""
	chroot: ""
	zonesdir: %q
	database: ""
	pidfile: %q
	xfrdfile: %q
	xfrdir: %q
	zonelistfile: %q
	verbosity: 1
	server-count: 1
	hide-version: yes
	xfrd-reload-timeout: 0
remote-control:
	control-enable: no
`, opts.Addr, opts.Port, dir, filepath.Join(dir, "nsd.pid"), filepath.Join(dir, "xfrd.state"), dir, filepath.Join(dir, "zone.list"))
	for _, z := range opts.Zones {
		z = strings.TrimSuffix(z, ".")
		fmt.Fprintf(&conf, "zone:\n\tname: %s\n\tzonefile: %s.zone\n\tallow-notify: %s NOKEY\n\trequest-xfr: %s NOKEY\n", z, z, opts.NotifyFrom, opts.Primary)
	}
	for z, text := range opts.Served {
		z = strings.TrimSuffix(z, ".")
		if err := os.WriteFile(filepath.Join(dir, z+".zone"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&conf, "zone:\n\tname: %s\n\tzonefile: %s.zone\n", z, z)
		opts.Zones = append(opts.Zones, z)
	}
	confPath := filepath.Join(dir, "nsd.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	n := &NSD{Addr: fmt.Sprintf("%s:%d", opts.Addr, opts.Port), Dir: dir}
	startDaemon(t, bin, dir, "nsd.log", "-d", "-c", confPath)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, z := range opts.Zones {
		if err := WaitSOA(ctx, n.Addr, z); err != nil {
			t.Fatalf("nsd did not load %s: %v\nnsd.log:\n%s", z, err, readFile(filepath.Join(dir, "nsd.log")))
		}
	}
	return n
}

// startDaemon starts a foreground server whose output goes to dir/logName
// and kills it at test end.
func startDaemon(t testing.TB, bin, dir, logName string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	logf, err := os.Create(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	return cmd
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}
