package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Topology is a small DNS world on loopback for propagation tests, reached
// the way production reaches DNS: through a recursive resolver that walks
// down from a root zone, so NS names resolve to the servers' addresses and
// every authoritative server listens on port 53.
//
//	127.0.0.1:P  resolver  BIND, recursion yes, authoritative for a local root
//	             zone "." that delegates the *.test zones below (the fault
//	             servers are marked bogus for it, so zone discovery through it
//	             stays fast and deterministic)
//	127.0.0.2    ns1.example.test  BIND primary: example.test, refused.test,
//	             servfail.test, tcponly.test, trunc.test, timeout.test
//	             (RFC 2136 updates with Primary.Key; NOTIFY to .3 and .4)
//	127.0.0.3    ns2.example.test  NSD secondary of example.test (IXFR)
//	127.0.0.4    ns3.example.test  Knot secondary of example.test, pulling
//	             through Delay (TransferDelay) from the primary
//	127.0.0.5    ns.other.test     BIND: other.test, sub.example.test and
//	             _acme-challenge.deleg.example.test (both delegated from
//	             example.test)
//	127.0.0.6    bad.refused.test   REFUSED to everything
//	127.0.0.7    bad.tcponly.test   drops UDP, answers over TCP (from .2)
//	127.0.0.8    bad.trunc.test     truncates over UDP, answers over TCP
//	127.0.0.9    bad.servfail.test  SERVFAIL to everything
//	127.0.0.10   bad.timeout.test   never answers (UDP dropped, TCP held)
//	127.0.0.11   ns.badsig.test     NSD serving badsig.test with bad signatures
//	127.0.0.14   a.root.test        the resolver again, port 53: the root
//	             servers, asked for referrals (parent delegation checks)
//	[::1]        the BIND primary again (IPv6 name servers)
//
// See topology_secure.go for the signed, CAA, delegation and IPv6 zones.
//
// Each fault zone has two NS: ns1.example.test and its bad.<zone> server.
//
// Fixed records: _acme-challenge.www.example.test CNAME www.other.test,
// www.other.test CNAME final.sub.example.test (a chain across three zones);
// _acme-challenge.alias.example.test CNAME target.other.test;
// loop1.example.test CNAME loop2.other.test CNAME loop1.example.test.
type Topology struct {
	Resolver string // "127.0.0.1:port": use as verify Options.Resolvers
	Primary  *BIND
	Other    *BIND
	NSD      *NSD
	Knot     *Knot
	Delay    *DelayProxy // between Knot and the primary
	Faults   map[FaultKind]*FaultServer
	BadSig   *NSD // ns.badsig.test
	// DS are the DS records of the signed zones, as in the root zone.
	DS  []dns.RR
	dir string
}

// TopologyOptions configures StartTopology.
type TopologyOptions struct {
	// TransferDelay holds every message between the Knot secondary and the
	// primary (SOA refresh query, IXFR connection) for this long, so a
	// change reaches ns3.example.test noticeably later. Change it later with
	// Delay.SetDelay.
	TransferDelay time.Duration
}

// Addresses of the topology.
const (
	TopoPrimary  = "127.0.0.2:53"
	TopoNSD      = "127.0.0.3:53"
	TopoKnot     = "127.0.0.4:53"
	TopoOther    = "127.0.0.5:53"
	topoRefused  = "127.0.0.6:53"
	topoTCPOnly  = "127.0.0.7:53"
	topoTruncate = "127.0.0.8:53"
	topoServfail = "127.0.0.9:53"
	topoDead     = "127.0.0.10:53"
)

// FaultZones maps each fault zone to its misbehaving server.
var faultZones = []struct {
	zone string
	kind FaultKind
	addr string
}{
	{"refused.test", FaultRefused, topoRefused},
	{"servfail.test", FaultServfail, topoServfail},
	{"tcponly.test", FaultTCPOnly, topoTCPOnly},
	{"trunc.test", FaultTruncate, topoTruncate},
	{"timeout.test", FaultDead, topoDead},
}

// Port53Available reports whether a server can listen on port 53 of
// 127.0.0.2 (needs root or CAP_NET_BIND_SERVICE).
func Port53Available() error {
	for _, network := range []string{"udp", "tcp"} {
		if network == "udp" {
			pc, err := net.ListenPacket("udp", "127.0.0.2:53")
			if err != nil {
				return err
			}
			pc.Close()
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.2:53")
		if err != nil {
			return err
		}
		l.Close()
	}
	return nil
}

// StartTopology starts every server of the topology and stops them at test
// end. Without port 53 on 127.0.0.x the test is skipped (failed under
// CI=true): the recursive resolver can only reach authoritative servers on
// port 53, as in production.
func StartTopology(t testing.TB, opts TopologyOptions) *Topology {
	t.Helper()
	if err := Port53Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("topology needs port 53 on 127.0.0.2-10 (run as root): %v", err)
		}
		t.Skipf("topology needs port 53 on 127.0.0.2-10 (run as root): %v", err)
	}
	topologyLock(t)
	if err := portsFree(TopoPrimary, TopoNSD, TopoKnot, TopoOther, topoRefused, topoTCPOnly, topoTruncate, topoServfail, topoDead, TopoBadSig, TopoRoot, TopoV6); err != nil {
		t.Fatalf("topology: %v", err)
	}
	loopbackAddr(t, "127.0.0.2")
	loopbackAddr(t, "127.0.0.5")
	loopbackAddr(t, "127.0.0.11")
	loopbackAddr(t, topoRootHost)
	tp := &Topology{dir: t.TempDir(), Faults: map[FaultKind]*FaultServer{}}

	exampleNS := []string{"ns1.example.test.", "ns2.example.test.", "ns3.example.test."}
	zones := []BINDZone{{
		Name: "example.test",
		NS:   exampleNS,
		Records: append([]string{
			"ns1 IN A 127.0.0.2", "ns2 IN A 127.0.0.3", "ns3 IN A 127.0.0.4",
			"sub IN NS ns.other.test.",
			"_acme-challenge.deleg IN NS ns.other.test.",
			"_acme-challenge.www IN CNAME www.other.test.",
			"_acme-challenge.alias IN CNAME target.other.test.",
			"loop1 IN CNAME loop2.other.test.",
			"stale IN TXT \"old-value\"",
		}, caaExample...),
		Notify: []string{"127.0.0.3 port 53", "127.0.0.4 port 53"},
	}}
	for _, fz := range faultZones {
		zones = append(zones, BINDZone{
			Name:    fz.zone,
			NS:      []string{"ns1.example.test.", "bad." + fz.zone + "."},
			Records: []string{"bad IN A " + strings.TrimSuffix(fz.addr, ":53")},
		})
	}
	zones = append(zones, secureZones()...)
	tp.Primary = StartBIND(t, BINDOptions{
		Addr: "127.0.0.2", ListenV6: "::1", Port: 53, Zones: zones,
		ExtraOptions: "notify-delay 0; notify-source 127.0.0.2; transfer-source 127.0.0.2;",
	})
	tp.Other = StartBIND(t, BINDOptions{
		Addr: "127.0.0.5", Port: 53,
		// The generated SOA names ns._acme-challenge...: allow the underscore.
		ExtraOptions: "check-names primary ignore;",
		Zones: []BINDZone{
			{Name: "other.test", NS: []string{"ns.other.test."}, Records: append([]string{
				"ns IN A 127.0.0.5",
				"www IN CNAME final.sub.example.test.",
				"target IN A 127.0.0.5",
				"loop2 IN CNAME loop1.example.test.",
			}, caaOther...)},
			{Name: "sub.example.test", NS: []string{"ns.other.test."}},
			{Name: "_acme-challenge.deleg.example.test", NS: []string{"ns.other.test."}},
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, z := range signedZones {
		ds, err := waitSigned(ctx, TopoPrimary, z)
		if err != nil {
			t.Fatalf("topology: %v\n%s", err, tp.Primary.Log())
		}
		tp.DS = append(tp.DS, ds...)
	}
	bad, err := tamperedBadSig(ctx, tp.Primary)
	if err != nil {
		t.Fatalf("topology: badsig.test: %v", err)
	}
	tp.BadSig = StartNSD(t, NSDOptions{Addr: "127.0.0.11", Port: 53, Served: map[string]string{"badsig.test": bad}})
	tp.NSD = StartNSD(t, NSDOptions{Addr: "127.0.0.3", Port: 53, Zones: []string{"example.test", "signed.test"}, Primary: "127.0.0.2@53"})
	tp.Delay = StartDelayProxy(t, "127.0.0.1", TopoPrimary, opts.TransferDelay)
	host, port, _ := net.SplitHostPort(tp.Delay.Addr)
	tp.Knot = StartKnot(t, KnotOptions{Addr: "127.0.0.4", Port: 53, Zones: []string{"example.test", "signed.test"}, Primary: host + "@" + port, NotifyFrom: "127.0.0.2"})
	waitServesSigned(t, TopoNSD, "signed.test.")
	waitServesSigned(t, TopoKnot, "signed.test.")
	for _, fz := range faultZones {
		tp.Faults[fz.kind] = StartFaultServer(t, fz.kind, fz.addr, TopoPrimary)
	}
	tp.Resolver = startResolver(t, tp.dir, tp.DS)
	return tp
}

// rootZone delegates the test zones from a local root.
func rootZone(ds []dns.RR) string {
	var s strings.Builder
	s.WriteString("$TTL 60\n. IN SOA a.root.test. hostmaster.root.test. 1 3600 600 86400 60\n. IN NS a.root.test.\na.root.test. IN A " + topoRootHost + "\n")
	s.WriteString(rootExtra(ds))
	s.WriteString("example.test. IN NS ns1.example.test.\nexample.test. IN NS ns2.example.test.\nexample.test. IN NS ns3.example.test.\n")
	s.WriteString("ns1.example.test. IN A 127.0.0.2\nns2.example.test. IN A 127.0.0.3\nns3.example.test. IN A 127.0.0.4\n")
	s.WriteString("other.test. IN NS ns.other.test.\nns.other.test. IN A 127.0.0.5\n")
	for _, fz := range faultZones {
		fmt.Fprintf(&s, "%s. IN NS ns1.example.test.\n%s. IN NS bad.%s.\nbad.%s. IN A %s\n", fz.zone, fz.zone, fz.zone, fz.zone, strings.TrimSuffix(fz.addr, ":53"))
	}
	return s.String()
}

// startResolver runs a recursive named on 127.0.0.1 that is authoritative
// for the local root zone.
func startResolver(t testing.TB, parent string, ds []dns.RR) string {
	t.Helper()
	named := Binary(t, "named")
	dir := filepath.Join(parent, "resolver")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t, "127.0.0.1")
	if err := os.WriteFile(filepath.Join(dir, "root.db"), []byte(rootZone(ds)), 0o644); err != nil {
		t.Fatal(err)
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, `controls { };
options {
	directory %q;
	pid-file none;
	session-keyfile none;
	listen-on port %d { 127.0.0.1; };
	listen-on port 53 { %s; };
	listen-on-v6 { none; };
	recursion yes;
	allow-recursion { any; };
	allow-query-cache { any; };
	dnssec-validation no;
	qname-minimization off;
	servfail-ttl 0;
	notify no;
};
logging { channel stderr { stderr; severity warning; }; category default { stderr; }; };
zone "." { type primary; file "root.db"; };
`, dir, port, topoRootHost)
	for _, fz := range faultZones {
		fmt.Fprintf(&conf, "server %s { bogus yes; };\n", strings.TrimSuffix(fz.addr, ":53"))
	}
	confPath := filepath.Join(dir, "named.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-g", "-c", confPath, "-n", "1"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root")
	}
	startDaemon(t, named, dir, "named.log", args...)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := WaitSOA(ctx, addr, "."); err != nil {
		t.Fatalf("resolver did not come up: %v\n%s", err, readFile(filepath.Join(dir, "named.log")))
	}
	return addr
}

// ExampleServers are the authoritative addresses of example.test.
func (tp *Topology) ExampleServers() []string {
	return []string{TopoPrimary, TopoNSD, TopoKnot}
}

// serverFor returns the primary that accepts updates for name, and its zone.
func (tp *Topology) serverFor(name string) (*BIND, string) {
	name = dns.CanonicalName(name)
	for _, z := range []string{"_acme-challenge.deleg.example.test.", "sub.example.test.", "other.test."} {
		if dns.IsSubDomain(z, name) {
			return tp.Other, z
		}
	}
	for _, fz := range faultZones {
		if dns.IsSubDomain(fz.zone+".", name) {
			return tp.Primary, fz.zone + "."
		}
	}
	for _, z := range secureZones() {
		if dns.IsSubDomain(z.Name+".", name) {
			return tp.Primary, z.Name + "."
		}
	}
	return tp.Primary, "example.test."
}

// AddTXT adds a TXT value at name through RFC 2136 at the zone's primary
// and returns the zone serial after the update.
func (tp *Topology) AddTXT(ctx context.Context, name, value string) (uint32, error) {
	rr := &dns.TXT{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: splitTXT(value)}
	return tp.update(ctx, name, func(m *dns.Msg) { m.Insert([]dns.RR{rr}) })
}

// RemoveTXT removes exactly one TXT value at name.
func (tp *Topology) RemoveTXT(ctx context.Context, name, value string) (uint32, error) {
	rr := &dns.TXT{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: splitTXT(value)}
	return tp.update(ctx, name, func(m *dns.Msg) { m.Remove([]dns.RR{rr}) })
}

func (tp *Topology) update(ctx context.Context, name string, f func(*dns.Msg)) (uint32, error) {
	b, zone := tp.serverFor(name)
	m := new(dns.Msg)
	m.SetUpdate(zone)
	f(m)
	m.SetTsig(b.Key.Name, b.Key.Algorithm, 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second, TsigSecret: map[string]string{b.Key.Name: b.Key.Secret}}
	r, _, err := c.ExchangeContext(ctx, m, b.Addr)
	if err != nil {
		return 0, fmt.Errorf("update %s at %s: %w", zone, b.Addr, err)
	}
	if r.Rcode != dns.RcodeSuccess {
		return 0, fmt.Errorf("update %s at %s: %s", zone, b.Addr, dns.RcodeToString[r.Rcode])
	}
	q := new(dns.Msg)
	q.SetQuestion(zone, dns.TypeSOA)
	r, _, err = c.ExchangeContext(ctx, q, b.Addr)
	if err != nil {
		return 0, fmt.Errorf("SOA %s at %s: %w", zone, b.Addr, err)
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial, nil
		}
	}
	return 0, fmt.Errorf("SOA %s at %s: no SOA in answer", zone, b.Addr)
}

func splitTXT(s string) []string {
	var out []string
	for len(s) > 255 {
		out = append(out, s[:255])
		s = s[255:]
	}
	return append(out, s)
}

// ServesTXT asks addr directly (RD=0) whether it serves value at name.
func ServesTXT(ctx context.Context, addr, name, value string) bool {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	m.RecursionDesired = false
	c := &dns.Client{Timeout: time.Second}
	r, _, err := c.ExchangeContext(ctx, m, addr)
	if err != nil || r.Rcode != dns.RcodeSuccess {
		return false
	}
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok && strings.Join(txt.Txt, "") == value {
			return true
		}
	}
	return false
}
