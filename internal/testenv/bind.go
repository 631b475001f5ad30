package testenv

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BINDZone is one primary zone for StartBIND.
type BINDZone struct {
	Name string // "example.com"
	// Records are extra zone-file lines (relative names allowed), added after
	// the generated SOA and NS records.
	Records []string
	// NS lists the zone's nameserver host names ("ns1.example.com."). Empty:
	// one NS "ns.<zone>." with an A record at the server's address.
	NS []string
	// AllowUpdate: allow RFC 2136 updates signed with the server's TSIG key.
	// Default true.
	NoUpdate bool
	// Notify lists "addr port" secondaries to NOTIFY and allow to transfer.
	Notify []string
	// Options are extra statements inside the zone block, e.g.
	// "dnssec-policy default;" for a zone named signs itself (updates
	// included).
	Options string
}

// BINDOptions configures StartBIND.
type BINDOptions struct {
	Addr string // listen address, default 127.0.0.1
	// ListenV6 is an IPv6 address (e.g. "::1") named also listens on, same
	// port; with an IPv4 Addr this makes a dual-stack server.
	ListenV6 string
	Port     int // 0: pick a free one
	Zones    []BINDZone
	// ExtraOptions are added inside options { }.
	ExtraOptions string
	// ExtraConfig is appended to named.conf (secondary zones, views, ...).
	ExtraConfig string
	// InMemory puts named's zone files and journals on tmpfs (/dev/shm):
	// every UPDATE fsyncs its zone's journal, which on a shared VM disk
	// costs more than the update itself. Benchmarks of dcvd use it so the
	// figures are dcvd's, not the disk's.
	InMemory bool
}

// BIND is a running named.
type BIND struct {
	Addr string // "127.0.0.1:port"
	Host string
	Port int
	Key  TSIGKey
	Dir  string
	cmd  *exec.Cmd
}

// NewTSIGKey returns a random hmac-sha256 key named name.
func NewTSIGKey(name string) TSIGKey {
	b := make([]byte, 32)
	rand.Read(b)
	return TSIGKey{Name: dns.Fqdn(name), Algorithm: dns.HmacSHA256, Secret: base64.StdEncoding.EncodeToString(b)}
}

// StartBIND runs named in the foreground as a primary for opts.Zones with a
// fresh TSIG key, waits until every zone answers, and stops it at test end.
func StartBIND(t testing.TB, opts BINDOptions) *BIND {
	t.Helper()
	named := Binary(t, "named")
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1"
	}
	if opts.Port == 0 {
		opts.Port = FreePort(t, opts.Addr)
	}
	dir := t.TempDir()
	if opts.InMemory {
		d, err := os.MkdirTemp("/dev/shm", "dcvd-bind-")
		if err != nil {
			t.Fatalf("bind: tmpfs directory: %v", err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		dir = d
	}
	b := &BIND{Host: opts.Addr, Port: opts.Port, Addr: fmt.Sprintf("%s:%d", opts.Addr, opts.Port), Dir: dir, Key: NewTSIGKey("dcvd-test")}
	listen := fmt.Sprintf("listen-on port %d { %s; }; listen-on-v6 { none; };", opts.Port, opts.Addr)
	if strings.Contains(opts.Addr, ":") {
		listen = fmt.Sprintf("listen-on { none; }; listen-on-v6 port %d { %s; };", opts.Port, opts.Addr)
	} else if opts.ListenV6 != "" {
		listen = fmt.Sprintf("listen-on port %d { %s; }; listen-on-v6 port %d { %s; };", opts.Port, opts.Addr, opts.Port, opts.ListenV6)
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, `key %q { algorithm hmac-sha256; secret %q; };
controls { };
options {
	directory %q;
	pid-file none;
	session-keyfile none;
	%s
	recursion no;
	dnssec-validation no;
	notify explicit;
	max-journal-size 10m;
	minimal-responses yes;
	allow-transfer { any; };
	%s
};
logging { channel stderr { stderr; severity warning; }; category default { stderr; }; };
`, strings.TrimSuffix(b.Key.Name, "."), b.Key.Secret, dir, listen, opts.ExtraOptions)
	for _, z := range opts.Zones {
		name := strings.TrimSuffix(z.Name, ".")
		file := filepath.Join(dir, name+".db")
		if err := os.WriteFile(file, []byte(zoneFile(name, z, opts.Addr)), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&conf, "zone %q { type primary; file %q;", name, file)
		if !z.NoUpdate {
			fmt.Fprintf(&conf, " allow-update { key %q; };", strings.TrimSuffix(b.Key.Name, "."))
		}
		conf.WriteString(z.Options)
		if len(z.Notify) > 0 {
			conf.WriteString(" notify explicit; also-notify {")
			for _, n := range z.Notify {
				fmt.Fprintf(&conf, " %s;", n)
			}
			conf.WriteString(" };")
		}
		conf.WriteString(" };\n")
	}
	conf.WriteString(opts.ExtraConfig)
	confPath := filepath.Join(dir, "named.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(named, "-g", "-c", confPath, "-n", "1")
	if os.Geteuid() == 0 {
		cmd.Args = append(cmd.Args, "-u", "root")
	}
	logf, _ := os.Create(filepath.Join(dir, "named.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start named: %v", err)
	}
	b.cmd = cmd
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for _, z := range opts.Zones {
		if err := WaitSOA(ctx, b.Addr, z.Name); err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "named.log"))
			t.Fatalf("named did not come up: %v\nnamed.log:\n%s", err, log)
		}
	}
	return b
}

func zoneFile(name string, z BINDZone, addr string) string {
	var s strings.Builder
	fmt.Fprintf(&s, "$ORIGIN %s.\n$TTL 60\n@ IN SOA ns.%s. hostmaster.%s. 1 3600 600 86400 60\n", name, name, name)
	if len(z.NS) == 0 {
		rr := "A"
		if strings.Contains(addr, ":") {
			rr = "AAAA"
		}
		fmt.Fprintf(&s, "@ IN NS ns.%s.\nns IN %s %s\n", name, rr, addr)
	}
	for _, ns := range z.NS {
		fmt.Fprintf(&s, "@ IN NS %s\n", ns)
	}
	for _, r := range z.Records {
		s.WriteString(r + "\n")
	}
	return s.String()
}

// Log returns what named printed so far (for failure messages).
func (b *BIND) Log() string {
	data, _ := os.ReadFile(filepath.Join(b.Dir, "named.log"))
	return string(data)
}

// AXFR transfers zone from this server.
func (b *BIND) AXFR(ctx context.Context, zone string) ([]dns.RR, error) {
	return AXFR(ctx, b.Addr, zone, nil)
}
