package embedded

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/dnspublish/publishertest"
	"github.com/dcvd/dcvd/internal/testenv"
)

const zone = "dcv.example.net."

// running is a Publisher serving on a free loopback port until stop.
type running struct {
	*Publisher
	stop func()
}

func serve(t *testing.T, st dnspublish.RecordStore, o Options) running {
	t.Helper()
	if o.Listen == "" {
		o.Listen = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	}
	p, err := New(dnspublish.Base{Name: "embedded", Zones: []string{zone, "other.test"}, State: st}, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
	t.Cleanup(stop)
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := testenv.WaitSOA(wctx, o.Listen, zone); err != nil {
		t.Fatal(err)
	}
	if p.Addr() != o.Listen {
		t.Fatalf("Addr() = %q, want %q", p.Addr(), o.Listen)
	}
	return running{p, stop}
}

func query(t *testing.T, addr, name string, qtype uint16, network string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	if !strings.EqualFold(r.Question[0].Name, name) || r.Question[0].Name != name {
		t.Fatalf("question echoed as %q, asked %q", r.Question[0].Name, name)
	}
	return r
}

// values lists the answer as "owner TYPE value" lines, sorted.
func values(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.TXT:
			out = append(out, v.Hdr.Name+" TXT "+strings.Join(v.Txt, ""))
		case *dns.CNAME:
			out = append(out, v.Hdr.Name+" CNAME "+v.Target)
		case *dns.NS:
			out = append(out, v.Hdr.Name+" NS "+v.Ns)
		case *dns.SOA:
			out = append(out, fmt.Sprintf("%s SOA %s %s", v.Hdr.Name, v.Ns, v.Mbox))
		default:
			out = append(out, rr.String())
		}
	}
	sort.Strings(out)
	return out
}

func expect(t *testing.T, r *dns.Msg, rcode int, answer ...string) {
	t.Helper()
	if r.Rcode != rcode {
		t.Fatalf("rcode %s, want %s\n%v", dns.RcodeToString[r.Rcode], dns.RcodeToString[rcode], r)
	}
	if rcode != dns.RcodeRefused && !r.Authoritative {
		t.Fatalf("AA not set\n%v", r)
	}
	if got := values(r); strings.Join(got, "|") != strings.Join(answer, "|") {
		t.Fatalf("answer:\n got %q\nwant %q", got, answer)
	}
	negative := rcode == dns.RcodeNameError || (rcode == dns.RcodeSuccess && len(answer) == 0)
	if negative {
		if len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA || r.Ns[0].Header().Ttl != 60 {
			t.Fatalf("negative answer without SOA (TTL 60) in authority:\n%v", r)
		}
	}
}

func txt(name, value string) dnspublish.Record {
	return dnspublish.Record{FQDN: name, Type: dnspublish.TXT, Value: value}
}

func TestServe(t *testing.T) {
	st := newMemStore()
	s := serve(t, st, Options{})
	ctx := context.Background()
	addr := s.Addr()
	chal := "_acme-challenge.example.com." + zone

	if _, err := s.Add(ctx, zone, []dnspublish.Record{
		txt(chal, "value-for-apex"),
		txt(chal, "value-for-wildcard"),
		{FQDN: "_dnsauth.example.org." + zone, Type: dnspublish.CNAME, Value: chal},
		{FQDN: "away." + zone, Type: dnspublish.CNAME, Value: "target.example.com"},
		txt("deep.a.b."+zone, "deep"),
	}); err != nil {
		t.Fatal(err)
	}

	t.Run("SOA and NS", func(t *testing.T) {
		expect(t, query(t, addr, zone, dns.TypeSOA, "udp"), dns.RcodeSuccess, zone+" SOA ns."+zone+" hostmaster."+zone)
		expect(t, query(t, addr, zone, dns.TypeNS, "udp"), dns.RcodeSuccess, zone+" NS ns."+zone)
	})
	t.Run("two TXT values at one name", func(t *testing.T) {
		expect(t, query(t, addr, chal, dns.TypeTXT, "udp"), dns.RcodeSuccess, chal+" TXT value-for-apex", chal+" TXT value-for-wildcard")
	})
	t.Run("CNAME for any type, chased inside the zone", func(t *testing.T) {
		name := "_dnsauth.example.org." + zone
		expect(t, query(t, addr, name, dns.TypeTXT, "udp"), dns.RcodeSuccess,
			chal+" TXT value-for-apex", chal+" TXT value-for-wildcard", name+" CNAME "+chal)
		expect(t, query(t, addr, name, dns.TypeCNAME, "udp"), dns.RcodeSuccess, name+" CNAME "+chal)
		expect(t, query(t, addr, "away."+zone, dns.TypeA, "udp"), dns.RcodeSuccess, "away."+zone+" CNAME target.example.com.")
	})
	t.Run("NXDOMAIN and NODATA", func(t *testing.T) {
		expect(t, query(t, addr, "nothing."+zone, dns.TypeTXT, "udp"), dns.RcodeNameError)
		expect(t, query(t, addr, chal, dns.TypeA, "udp"), dns.RcodeSuccess)          // name has TXT only
		expect(t, query(t, addr, "a.b."+zone, dns.TypeTXT, "udp"), dns.RcodeSuccess) // empty non-terminal
		expect(t, query(t, addr, "b."+zone, dns.TypeTXT, "udp"), dns.RcodeSuccess)
		expect(t, query(t, addr, "x.deep.a.b."+zone, dns.TypeTXT, "udp"), dns.RcodeNameError)
		expect(t, query(t, addr, zone, dns.TypeTXT, "udp"), dns.RcodeSuccess)
	})
	t.Run("0x20 mixed case", func(t *testing.T) {
		name := "_AcMe-ChAlLeNgE.eXaMpLe.CoM.DcV.ExAmPlE.nEt."
		expect(t, query(t, addr, name, dns.TypeTXT, "udp"), dns.RcodeSuccess, name+" TXT value-for-apex", name+" TXT value-for-wildcard")
	})
	t.Run("outside the zone is REFUSED", func(t *testing.T) {
		r := query(t, addr, "example.com.", dns.TypeTXT, "udp")
		expect(t, r, dns.RcodeRefused)
		if r.Authoritative {
			t.Fatal("AA set on REFUSED")
		}
		expect(t, query(t, addr, "net.", dns.TypeSOA, "udp"), dns.RcodeRefused)
		expect(t, query(t, addr, zone, dns.TypeAXFR, "tcp"), dns.RcodeRefused)
	})
	t.Run("second zone", func(t *testing.T) {
		expect(t, query(t, addr, "Other.Test.", dns.TypeSOA, "udp"), dns.RcodeSuccess, "Other.Test. SOA ns.other.test. hostmaster.other.test.")
	})
	t.Run("TCP", func(t *testing.T) {
		expect(t, query(t, addr, chal, dns.TypeTXT, "tcp"), dns.RcodeSuccess, chal+" TXT value-for-apex", chal+" TXT value-for-wildcard")
	})
	t.Run("big answers truncate over UDP", func(t *testing.T) {
		name := "big." + zone
		var recs []dnspublish.Record
		for i := 0; i < 60; i++ {
			recs = append(recs, txt(name, fmt.Sprintf("%043d", i)))
		}
		if _, err := s.Add(ctx, zone, recs); err != nil {
			t.Fatal(err)
		}
		r := query(t, addr, name, dns.TypeTXT, "udp")
		if !r.Truncated {
			t.Fatalf("UDP answer of %d records not truncated", len(r.Answer))
		}
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeTXT)
		m.SetEdns0(4096, false)
		// A 4096-byte client buffer does not lift the 1,232-byte cap
		// (limits_test.go): still truncated, the full answer over TCP.
		if r, err := dns.Exchange(m, addr); err != nil || !r.Truncated {
			t.Fatalf("EDNS 4096: err %v, %d answers, TC=%v", err, len(r.Answer), r.Truncated)
		}
		if r := query(t, addr, name, dns.TypeTXT, "tcp"); r.Truncated || len(r.Answer) != 60 {
			t.Fatalf("TCP: truncated %v, %d answers", r.Truncated, len(r.Answer))
		}
		if _, err := s.Remove(ctx, zone, recs); err != nil {
			t.Fatal(err)
		}
	})
}

func soaSerial(t *testing.T, addr string) uint32 {
	t.Helper()
	r := query(t, addr, zone, dns.TypeSOA, "udp")
	return r.Answer[0].(*dns.SOA).Serial
}

func TestSerialAndRemove(t *testing.T) {
	s := serve(t, newMemStore(), Options{})
	ctx := context.Background()
	name := "_acme-challenge.example.com." + zone
	a, b := txt(name, "one"), txt(name, "two")
	last := soaSerial(t, s.Addr())
	step := func(what string, res dnspublish.Result, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if res.Serial <= last || res.Serial != soaSerial(t, s.Addr()) {
			t.Fatalf("%s: serial %d, previous %d, served %d", what, res.Serial, last, soaSerial(t, s.Addr()))
		}
		last = res.Serial
	}
	res, err := s.Add(ctx, zone, []dnspublish.Record{a, b})
	step("add", res, err)
	res, err = s.Add(ctx, zone, []dnspublish.Record{a})
	if err != nil || res.Serial != last {
		t.Fatalf("re-add changed the serial: %d -> %d (%v)", last, res.Serial, err)
	}
	res, err = s.Remove(ctx, zone, []dnspublish.Record{a})
	step("remove one", res, err)
	expect(t, query(t, s.Addr(), name, dns.TypeTXT, "udp"), dns.RcodeSuccess, name+" TXT two")
	res, err = s.Remove(ctx, zone, []dnspublish.Record{a, b})
	step("remove both", res, err)
	expect(t, query(t, s.Addr(), name, dns.TypeTXT, "udp"), dns.RcodeNameError)
	if _, err := s.Remove(ctx, zone, []dnspublish.Record{a, b}); err != nil {
		t.Fatalf("re-remove: %v", err)
	}
}

// A hook process writes through its own Publisher into the shared store;
// the serving daemon must answer with it within a second.
func TestOtherProcessWithinOneSecond(t *testing.T) {
	st := newMemStore()
	s := serve(t, st, Options{})
	hook, err := New(dnspublish.Base{Name: "embedded", Zones: []string{zone}, State: st}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	name := "_acme-challenge.hook.example." + zone
	start := time.Now()
	res, err := hook.Add(context.Background(), zone, []dnspublish.Record{txt(name, "from-the-hook")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Serial != 0 {
		t.Fatalf("a publisher that does not serve reported serial %d; it cannot know the server's", res.Serial)
	}
	for {
		r := query(t, s.Addr(), name, dns.TypeTXT, "udp")
		if len(r.Answer) == 1 {
			t.Logf("served after %v", time.Since(start))
			break
		}
		if time.Since(start) > time.Second {
			t.Fatal("record written by another process not served within 1s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRestartServesFromStore(t *testing.T) {
	st := newMemStore()
	o := Options{Listen: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))}
	s := serve(t, st, o)
	name := "_acme-challenge.restart." + zone
	before := uint32(time.Now().Unix())
	if _, err := s.Add(context.Background(), zone, []dnspublish.Record{txt(name, "kept")}); err != nil {
		t.Fatal(err)
	}
	s.stop()
	if s.Addr() != o.Listen {
		t.Fatalf("Addr() after stop = %q", s.Addr())
	}
	s2 := serve(t, st, o)
	expect(t, query(t, s2.Addr(), name, dns.TypeTXT, "tcp"), dns.RcodeSuccess, name+" TXT kept")
	if got := soaSerial(t, s2.Addr()); got < before {
		t.Fatalf("serial after restart %d is older than the write (%d)", got, before)
	}
}

func TestStoreFailure(t *testing.T) {
	st := newMemStore()
	s := serve(t, st, Options{})
	name := "_acme-challenge.fail." + zone
	if _, err := s.Add(context.Background(), zone, []dnspublish.Record{txt(name, "v")}); err != nil {
		t.Fatal(err)
	}
	st.setFail(errors.New("disk on fire"))
	_, err := s.Add(context.Background(), zone, []dnspublish.Record{txt(name, "w")})
	if err == nil || !strings.Contains(err.Error(), `embedded "embedded": add 1 records in dcv.example.net: store: disk on fire`) {
		t.Fatalf("error: %v", err)
	}
	if _, err := s.reload(context.Background()); err == nil {
		t.Fatal("reload with a failing store did not fail")
	}
	expect(t, query(t, s.Addr(), name, dns.TypeTXT, "udp"), dns.RcodeSuccess, name+" TXT v")
}

// TestConformance runs the dnspublish suite against the embedded server:
// foreign records are seeded straight into the store, every outcome is
// checked by querying the server.
func TestConformance(t *testing.T) {
	st := newMemStore()
	s := serve(t, st, Options{})
	publishertest.Run(t, publishertest.Harness{
		Publisher: s.Publisher,
		Zone:      zone,
		Server:    s.Addr(),
		Seed: func(ctx context.Context, recs []dnspublish.Record) error {
			return st.AddRecords(ctx, s.Name(), recs)
		},
	})
}

func TestAddChecks(t *testing.T) {
	p, err := New(dnspublish.Base{Name: "e", Zones: []string{zone}, State: newMemStore()}, Options{NS: []string{"ns1." + zone}, Addresses: []string{"192.0.2.1"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		zone string
		rec  dnspublish.Record
		want string
	}{
		{zone, txt("x."+zone, ""), "empty value"},
		{zone, dnspublish.Record{FQDN: "ns1." + zone, Type: dnspublish.CNAME, Value: "x.example."}, "ns1.dcv.example.net already holds address records, cannot add a CNAME to x.example"},
	} {
		_, err := p.Add(ctx, c.zone, []dnspublish.Record{c.rec})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Add(%s, %v): %v, want %q", c.zone, c.rec, err, c.want)
		}
	}
}

func TestOptions(t *testing.T) {
	if _, err := New(dnspublish.Base{Name: "e", Zones: []string{zone}}, Options{}); err == nil || !strings.Contains(err.Error(), "no state store") {
		t.Fatalf("without store: %v", err)
	}
	spec := Spec()
	opts := spec.Options().(*Options)
	_, err := toml.Decode(`
listen = "127.0.0.1:0"
ns = ["ns1.dcv.example.net", "ns2.example.org."]
addresses = ["192.0.2.53", "2001:db8::53"]
hostmaster = "dns.admin@example.net"
ttl = 30
reload_interval = "100ms"
`, opts)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := spec.Open(context.Background(), dnspublish.Base{Name: "e", Zones: []string{"DCV.example.net"}, State: newMemStore()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	p := pub.(*Publisher)
	if p.every != 100*time.Millisecond || p.ttl != 30 || p.Zones()[0] != zone {
		t.Fatalf("decoded: every %v ttl %d zones %v", p.every, p.ttl, p.Zones())
	}
	snap, err := p.reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	m.SetQuestion(zone, dns.TypeNS)
	r := snap.answer(m)
	if got := values(r); strings.Join(got, "|") != zone+" NS ns1.dcv.example.net.|"+zone+" NS ns2.example.org." {
		t.Fatalf("NS: %q", got)
	}
	if len(r.Extra) != 2 {
		t.Fatalf("glue for the in-zone NS: %v", r.Extra)
	}
	m.SetQuestion(zone, dns.TypeSOA)
	if soa := snap.answer(m).Answer[0].(*dns.SOA); soa.Mbox != `dns\.admin.example.net.` || soa.Ns != "ns1.dcv.example.net." || soa.Minttl != 30 {
		t.Fatalf("SOA: %v", soa)
	}
	for _, bad := range []Options{
		{Listen: "nope"},
		{Addresses: []string{"ns.example"}},
		{NS: []string{"bad..name"}},
	} {
		if _, err := New(dnspublish.Base{Name: "e", Zones: []string{zone}, State: newMemStore()}, bad); err == nil {
			t.Errorf("options %+v accepted", bad)
		}
	}
}

func TestPortZero(t *testing.T) {
	p, err := New(dnspublish.Base{Name: "e", Zones: []string{zone}, State: newMemStore()}, Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for p.Addr() == "127.0.0.1:0" {
		if time.Now().After(deadline) {
			t.Fatal("Addr() never reported the bound port")
		}
		time.Sleep(5 * time.Millisecond)
	}
	expect(t, query(t, p.Addr(), zone, dns.TypeSOA, "udp"), dns.RcodeSuccess, zone+" SOA ns."+zone+" hostmaster."+zone)
	expect(t, query(t, p.Addr(), zone, dns.TypeSOA, "tcp"), dns.RcodeSuccess, zone+" SOA ns."+zone+" hostmaster."+zone)
}
