package rfc2136

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/dnspublish/publishertest"
	"github.com/dcvd/dcvd/internal/testenv"
)

// server is one BIND for all integration subtests: starting named costs
// more than every subtest together.
type server struct {
	*testenv.BIND
}

const spf = publishertest.SPF

func startBIND(t testing.TB) server {
	t.Helper()
	// policy.test is configured like the README's BIND example: the key
	// may only touch TXT and CNAME records.
	dir := t.TempDir()
	policyDB := filepath.Join(dir, "policy.test.db")
	err := os.WriteFile(policyDB, []byte("$TTL 60\n@ SOA ns.policy.test. hostmaster.policy.test. 1 3600 600 86400 60\n@ NS ns.policy.test.\nns A 127.0.0.1\n"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	b := testenv.StartBIND(t, testenv.BINDOptions{ExtraConfig: fmt.Sprintf(
		"zone \"policy.test\" { type primary; file %q; update-policy { grant dcvd-test zonesub TXT CNAME; }; };\n", policyDB),
		Zones: []testenv.BINDZone{
			{Name: "example.com", Records: publishertest.ZoneFileLines("example.com")},
			{Name: "locked.test", NoUpdate: true},
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := testenv.WaitSOA(ctx, b.Addr, "policy.test"); err != nil {
		t.Fatalf("%v\n%s", err, b.Log())
	}
	return server{b}
}

// publisher opens a publisher for zone at the server with its TSIG key;
// edit changes the options first.
func (s server) publisher(t testing.TB, zone string, edit func(*Options)) *Publisher {
	t.Helper()
	o := Options{
		Server:        s.Addr,
		TSIGKey:       strings.TrimSuffix(s.Key.Name, "."),
		TSIGAlgorithm: s.Key.Algorithm,
		TSIGSecret:    s.Key.Secret,
	}
	if edit != nil {
		edit(&o)
	}
	p, err := New(dnspublish.Base{Name: "bind", Zones: []string{zone}}, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// rrset returns the values of name/type in zone as transferred by AXFR,
// sorted, each prefixed with its TTL ("60 value").
func (s server) rrset(t testing.TB, zone, name string, typ uint16) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rrs, err := s.AXFR(ctx, zone)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rr := range rrs[:len(rrs)-1] { // the last RR repeats the SOA
		if !strings.EqualFold(rr.Header().Name, dns.Fqdn(name)) || rr.Header().Rrtype != typ {
			continue
		}
		switch v := rr.(type) {
		case *dns.TXT:
			out = append(out, fmt.Sprintf("%d %s", v.Hdr.Ttl, strings.Join(v.Txt, "")))
		case *dns.CNAME:
			out = append(out, fmt.Sprintf("%d %s", v.Hdr.Ttl, v.Target))
		case *dns.SOA:
			out = append(out, fmt.Sprintf("%d %d", v.Hdr.Ttl, v.Serial))
		}
	}
	sort.Strings(out)
	return out
}

func (s server) soaSerial(t testing.TB, zone string) uint32 {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(zone), dns.TypeSOA)
	r, err := dns.Exchange(m, s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	return r.Answer[0].(*dns.SOA).Serial
}

func txt(name, value string) dnspublish.Record {
	return dnspublish.Record{FQDN: name, Type: dnspublish.TXT, Value: value}
}

func equal(t testing.TB, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// TestBIND runs the dnspublish conformance suite against BIND (every
// outcome checked by querying the primary), then what only RFC 2136 has:
// serials, foreign TTLs, batching, the hint for failed prerequisites,
// update-policy, TSIG and rcodes. One named serves all of it: starting it
// costs more than the subtests.
func TestBIND(t *testing.T) {
	s := startBIND(t)
	ctx := context.Background()
	p := s.publisher(t, "example.com", nil)

	t.Run("conformance", func(t *testing.T) {
		publishertest.Run(t, publishertest.Harness{Publisher: p, Zone: "example.com", Server: s.Addr})
	})

	t.Run("serial read back, SPF TTL kept", func(t *testing.T) {
		before := s.soaSerial(t, "example.com")
		res, err := p.Add(ctx, "example.com.", []dnspublish.Record{txt("example.com", "dcv-apex-token")})
		if err != nil {
			t.Fatal(err)
		}
		// The SPF record keeps its TTL; ours joins the RRset with it.
		equal(t, "apex TXT after add", s.rrset(t, "example.com", "example.com", dns.TypeTXT), "3600 dcv-apex-token", "3600 "+spf)
		if res.Serial <= before || res.Serial != s.soaSerial(t, "example.com") {
			t.Fatalf("serial: got %d, before %d, server %d", res.Serial, before, s.soaSerial(t, "example.com"))
		}
		if _, err := p.Remove(ctx, "example.com.", []dnspublish.Record{txt("example.com", "dcv-apex-token")}); err != nil {
			t.Fatal(err)
		}
		equal(t, "apex TXT after remove", s.rrset(t, "example.com", "example.com", dns.TypeTXT), "3600 "+spf)
	})

	t.Run("200 records in one update", func(t *testing.T) {
		var recs []dnspublish.Record
		for i := 0; i < 200; i++ {
			recs = append(recs, txt(fmt.Sprintf("_acme-challenge.host%03d.example.com", i), fmt.Sprintf("token-%03d", i)))
		}
		before := s.soaSerial(t, "example.com")
		res, err := p.Add(ctx, "example.com", recs)
		if err != nil {
			t.Fatal(err)
		}
		// One UPDATE message: BIND bumps the serial once.
		if res.Serial != before+1 {
			t.Fatalf("serial after one add of 200: %d, want %d", res.Serial, before+1)
		}
		rrs, err := s.AXFR(context.Background(), "example.com")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, rr := range rrs {
			if strings.HasPrefix(rr.Header().Name, "_acme-challenge.host") {
				n++
			}
		}
		if n != 200 {
			t.Fatalf("zone holds %d of 200 records", n)
		}
		res, err = p.Remove(ctx, "example.com", recs)
		if err != nil {
			t.Fatal(err)
		}
		if res.Serial != before+2 || res.Serial != s.soaSerial(t, "example.com") {
			t.Fatalf("serial after remove: %d, want %d (server %d)", res.Serial, before+2, s.soaSerial(t, "example.com"))
		}
		if got := s.rrset(t, "example.com", recs[0].FQDN, dns.TypeTXT); len(got) != 0 {
			t.Fatalf("left behind: %q", got)
		}
	})

	t.Run("configured TTL", func(t *testing.T) {
		p := s.publisher(t, "example.com", func(o *Options) { o.TTL = 120 })
		rec := txt("_acme-challenge.ttl.example.com", "v")
		if _, err := p.Add(ctx, "example.com", []dnspublish.Record{rec}); err != nil {
			t.Fatal(err)
		}
		equal(t, "TTL", s.rrset(t, "example.com", rec.FQDN, dns.TypeTXT), "120 v")
		if _, err := p.Remove(ctx, "example.com", []dnspublish.Record{rec}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("failed prerequisites say what is in the way", func(t *testing.T) {
		before := s.soaSerial(t, "example.com")
		_, err := p.Add(ctx, "example.com", []dnspublish.Record{{FQDN: "foreign.example.com", Type: dnspublish.CNAME, Value: "mine.example.net"}})
		wantErr(t, err, `rfc2136 "bind": update example.com at `+s.Addr+`: YXDOMAIN`, "is already a CNAME to elsewhere.example.org")
		_, err = p.Add(ctx, "example.com", []dnspublish.Record{txt("foreign.example.com", "v")})
		wantErr(t, err, "YXRRSET", "is a CNAME to elsewhere.example.org")
		_, err = p.Add(ctx, "example.com", []dnspublish.Record{{FQDN: "busy.example.com", Type: dnspublish.CNAME, Value: "mine.example.net"}})
		wantErr(t, err, "YXDOMAIN", "already holds other records")
		equal(t, "foreign CNAME", s.rrset(t, "example.com", "foreign.example.com", dns.TypeCNAME), "300 elsewhere.example.org.")
		equal(t, "foreign TXT", s.rrset(t, "example.com", "foreign.example.com", dns.TypeTXT))
		if after := s.soaSerial(t, "example.com"); after != before {
			t.Fatalf("zone changed: serial %d -> %d", before, after)
		}
	})

	t.Run("update-policy limited to TXT and CNAME", func(t *testing.T) {
		p := s.publisher(t, "policy.test", nil)
		recs := []dnspublish.Record{
			txt("_acme-challenge.policy.test", "a"), txt("_acme-challenge.policy.test", "b"),
			{FQDN: "_dnsauth.policy.test", Type: dnspublish.CNAME, Value: "x.dcv.example.net"},
		}
		if _, err := p.Add(ctx, "policy.test", recs); err != nil {
			t.Fatal(err)
		}
		equal(t, "TXT", s.rrset(t, "policy.test", "_acme-challenge.policy.test", dns.TypeTXT), "60 a", "60 b")
		equal(t, "CNAME", s.rrset(t, "policy.test", "_dnsauth.policy.test", dns.TypeCNAME), "60 x.dcv.example.net.")
		if _, err := p.Remove(ctx, "policy.test", recs); err != nil {
			t.Fatal(err)
		}
		equal(t, "TXT after remove", s.rrset(t, "policy.test", "_acme-challenge.policy.test", dns.TypeTXT))
	})

	t.Run("REFUSED without allow-update", func(t *testing.T) {
		p := s.publisher(t, "locked.test", nil)
		_, err := p.Add(ctx, "locked.test", []dnspublish.Record{txt("_acme-challenge.locked.test", "v")})
		wantErr(t, err, `rfc2136 "bind": update locked.test at `+s.Addr+`: REFUSED`)
	})

	t.Run("NOTAUTH for a zone the server does not serve", func(t *testing.T) {
		p := s.publisher(t, "not-served.test", nil)
		_, err := p.Add(ctx, "not-served.test", []dnspublish.Record{txt("_acme-challenge.not-served.test", "v")})
		wantErr(t, err, `update not-served.test at `+s.Addr+`: NOTAUTH`)
	})

	t.Run("TSIG BADSIG with a wrong secret", func(t *testing.T) {
		p := s.publisher(t, "example.com", func(o *Options) { o.TSIGSecret = testenv.NewTSIGKey("x").Secret })
		_, err := p.Add(ctx, "example.com", []dnspublish.Record{txt("_acme-challenge.example.com", "v")})
		wantErr(t, err, `rfc2136 "bind": `, "at "+s.Addr+": NOTAUTH, TSIG BADSIG")
		var rc *RcodeError
		if !errors.As(err, &rc) || rc.TSIG != dns.RcodeBadSig || rc.Temporary() {
			t.Fatalf("want *RcodeError with TSIG BADSIG, got %#v", err)
		}
		if strings.Contains(err.Error(), s.Key.Secret) {
			t.Fatal("error contains the secret")
		}
	})

	t.Run("TSIG BADKEY with an unknown key", func(t *testing.T) {
		p := s.publisher(t, "example.com", func(o *Options) { o.TSIGKey = "no-such-key" })
		_, err := p.Remove(ctx, "example.com", []dnspublish.Record{txt("_acme-challenge.example.com", "v")})
		wantErr(t, err, "NOTAUTH, TSIG BADKEY", `"no-such-key"`)
	})

	t.Run("TSIG algorithm mismatch", func(t *testing.T) {
		p := s.publisher(t, "example.com", func(o *Options) { o.TSIGAlgorithm = "hmac-sha512" })
		_, err := p.Add(ctx, "example.com", []dnspublish.Record{txt("_acme-challenge.example.com", "v")})
		wantErr(t, err, "NOTAUTH, TSIG BADKEY")
	})

	t.Run("unsigned update is refused", func(t *testing.T) {
		p := s.publisher(t, "example.com", func(o *Options) { *o = Options{Server: o.Server} })
		_, err := p.Add(ctx, "example.com", []dnspublish.Record{txt("_acme-challenge.example.com", "v")})
		wantErr(t, err, ": REFUSED")
	})

	if t.Failed() {
		t.Log(s.Log())
	}
}

func TestUnreachable(t *testing.T) {
	port := testenv.FreePort(t, "127.0.0.1") // nothing listens there
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p, err := New(dnspublish.Base{Name: "bind", Zones: []string{"example.com"}},
		Options{Server: addr, TSIGKey: "k", TSIGSecret: "c2VjcmV0", Timeout: dnspublish.Duration(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Add(context.Background(), "example.com", []dnspublish.Record{txt("_acme-challenge.example.com", "v")})
	wantErr(t, err, `rfc2136 "bind": update example.com at `+addr+`: unreachable: `, "connection refused")
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("not ErrUnreachable: %v", err)
	}
}

func TestTimeout(t *testing.T) {
	// A UDP socket that never answers: the read times out.
	pc := testenv.SilentUDP(t)
	p, err := New(dnspublish.Base{Name: "bind", Zones: []string{"example.com"}},
		Options{Server: pc, Timeout: dnspublish.Duration(200 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	p.net = "udp"
	_, err = p.Add(context.Background(), "example.com", []dnspublish.Record{txt("_acme-challenge.example.com", "v")})
	wantErr(t, err, "at "+pc+": unreachable: no answer within 200ms")
}

func wantErr(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error spans lines: %q", err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}
