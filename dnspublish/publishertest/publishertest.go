// Package publishertest is the conformance suite every dnspublish backend
// passes. It drives a Publisher through Add and Remove and checks each
// outcome with real DNS queries (RD=0, over TCP) to an authoritative server
// of the zone, the way cert-manager's DNS01 suite and libdns's libdnstest
// check their providers:
//
//   - a value joins an RRset that already holds other values (the apex TXT
//     next to SPF, someone else's TXT) and leaves with exactly its value;
//   - the apex and wildcard challenges of one certificate share one name;
//   - add and remove are idempotent; removing a value never added succeeds
//     and changes nothing; values compare case-sensitively;
//   - concurrent adds and removes at one name all take effect (the
//     read-modify-write backends must not lose an update);
//   - TXT values longer than 255 octets, and values with quotes and
//     backslashes, are served byte for byte;
//   - a TXT and a CNAME never share an owner name, a CNAME never replaces
//     another one and never goes to the zone apex;
//   - a name outside the backend's zones, or a zone it does not have, is
//     refused;
//   - every error is one line.
//
// A backend's test starts its server (or simulator), seeds the zone with
// Foreign(zone) the way another party would (zone file, API, store) and
// calls Run:
//
//	publishertest.Run(t, publishertest.Harness{
//		Publisher: p, Zone: "example.com.", Server: bind.Addr,
//		Seed: func(ctx context.Context, recs []dnspublish.Record) error { ... },
//	})
//
// Each subtest cleans up after itself, so the zone ends as it began.
package publishertest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
)

// SPF is the apex TXT value that Foreign puts in the zone.
const SPF = "v=spf1 ip4:192.0.2.0/24 -all"

// ForeignCNAME and ForeignTXT are the values of the other foreign records.
const (
	ForeignCNAME = "elsewhere.example.org."
	ForeignTXT   = "someone else's record"
)

// Foreign lists the records that are in the zone before the suite runs,
// written by someone other than dcvd:
//
//	<zone>          TXT    "v=spf1 ip4:192.0.2.0/24 -all"
//	foreign.<zone>  CNAME  elsewhere.example.org.
//	busy.<zone>     TXT    "someone else's record"
func Foreign(zone string) []dnspublish.Record {
	zone = dns.CanonicalName(zone)
	return []dnspublish.Record{
		{FQDN: zone, Type: dnspublish.TXT, Value: SPF, TTL: 3600},
		{FQDN: "foreign." + zone, Type: dnspublish.CNAME, Value: ForeignCNAME, TTL: 300},
		{FQDN: "busy." + zone, Type: dnspublish.TXT, Value: ForeignTXT, TTL: 300},
	}
}

// ZoneFileLines returns Foreign(zone) as zone-file lines, for harnesses
// that write a zone file (BIND, PowerDNS bind backend).
func ZoneFileLines(zone string) []string {
	var out []string
	for _, r := range Foreign(zone) {
		out = append(out, r.RR().String())
	}
	return out
}

// Harness is what a backend's test hands to Run.
type Harness struct {
	// Publisher under test; Zone must be one of its Zones.
	Publisher dnspublish.Publisher
	Zone      string
	// Server is "host:port" of a server authoritative for Zone that
	// serves the backend's changes (the primary, the simulator's DNS).
	Server string
	// Seed writes records into Zone the way another party would, outside
	// the Publisher. Nil: the harness has put Foreign(Zone) there already.
	Seed func(ctx context.Context, recs []dnspublish.Record) error
	// Visible bounds how long a change may take to be served (default 5s);
	// the suite polls until then.
	Visible time.Duration
	// Concurrency is the number of concurrent writers to one name
	// (default 8).
	Concurrency int
}

// Run runs the suite. Subtests are sequential; each restores the zone.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Visible == 0 {
		h.Visible = 5 * time.Second
	}
	if h.Concurrency == 0 {
		h.Concurrency = 8
	}
	h.Zone = dns.CanonicalName(h.Zone)
	s := &suite{h: h, p: h.Publisher, zone: h.Zone}
	if !s.servesZone() {
		t.Fatalf("harness: publisher %q has zones %v, not %s", s.p.Name(), s.p.Zones(), h.Zone)
	}
	ctx := context.Background()
	if h.Seed != nil {
		if err := h.Seed(ctx, Foreign(h.Zone)); err != nil {
			t.Fatalf("harness: seeding foreign records: %v", err)
		}
	}
	s.foreignIntact(t)

	t.Run("apex TXT next to SPF", s.apexNextToSPF)
	t.Run("apex and wildcard values at one name", s.apexAndWildcard)
	t.Run("remove only the own value", s.removeOwnOnly)
	t.Run("idempotent add and remove", s.idempotent)
	t.Run("several names in one call", s.severalNames)
	t.Run("concurrent adds and removes at one name", s.concurrent)
	t.Run("TXT longer than 255 octets", s.longTXT)
	t.Run("TXT quotes and backslashes byte for byte", s.specialTXT)
	t.Run("CNAME add and remove", s.cname)
	t.Run("CNAME guards", s.cnameGuards)
	t.Run("outside the zones refused", s.outside)
	s.foreignIntact(t)
}

type suite struct {
	h    Harness
	p    dnspublish.Publisher
	zone string
}

func (s *suite) servesZone() bool {
	for _, z := range s.p.Zones() {
		if dns.CanonicalName(z) == s.zone {
			return true
		}
	}
	return false
}

func (s *suite) name(label string) string {
	if label == "" {
		return s.zone
	}
	return label + "." + s.zone
}

// TXT and CNAME build records for the publisher.
func TXT(name, value string) dnspublish.Record {
	return dnspublish.Record{FQDN: name, Type: dnspublish.TXT, Value: value}
}

func CNAME(name, target string) dnspublish.Record {
	return dnspublish.Record{FQDN: name, Type: dnspublish.CNAME, Value: target}
}

func (s *suite) add(t *testing.T, recs ...dnspublish.Record) {
	t.Helper()
	if _, err := s.p.Add(context.Background(), s.zone, recs); err != nil {
		t.Fatalf("Add %v: %v", recs, err)
	}
}

func (s *suite) remove(t *testing.T, recs ...dnspublish.Record) {
	t.Helper()
	if _, err := s.p.Remove(context.Background(), s.zone, recs); err != nil {
		t.Fatalf("Remove %v: %v", recs, err)
	}
}

// refused asserts that adding recs fails with a one-line error.
func (s *suite) refused(t *testing.T, why string, recs ...dnspublish.Record) {
	t.Helper()
	_, err := s.p.Add(context.Background(), s.zone, recs)
	if err == nil {
		t.Errorf("%s: Add %v succeeded, want an error", why, recs)
		return
	}
	OneLine(t, err)
	t.Logf("%s: %v", why, err)
}

// OneLine fails t unless err is a single line.
func OneLine(t testing.TB, err error) {
	t.Helper()
	if strings.ContainsAny(err.Error(), "\r\n") {
		t.Errorf("error spans lines: %q", err)
	}
}

// Served queries the server for name/qtype and returns the values served
// at exactly that owner name, sorted: TXT values as on the wire
// (dnspublish.TXTValue), CNAME targets canonical.
func Served(ctx context.Context, server, name string, qtype uint16) ([]string, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.CanonicalName(name), qtype)
	m.RecursionDesired = false
	m.SetEdns0(4096, false)
	c := &dns.Client{Net: "tcp", Timeout: 3 * time.Second}
	r, _, err := c.ExchangeContext(ctx, m, server)
	if err != nil {
		return nil, fmt.Errorf("query %s %s at %s: %w", name, dns.TypeToString[qtype], server, err)
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("query %s %s at %s: %s", name, dns.TypeToString[qtype], server, dns.RcodeToString[r.Rcode])
	}
	if !r.Authoritative {
		return nil, fmt.Errorf("query %s %s at %s: answer is not authoritative", name, dns.TypeToString[qtype], server)
	}
	out := []string{}
	for _, rr := range r.Answer {
		if !strings.EqualFold(rr.Header().Name, dns.CanonicalName(name)) || rr.Header().Rrtype != qtype {
			continue
		}
		switch v := rr.(type) {
		case *dns.TXT:
			out = append(out, dnspublish.TXTValue(v))
		case *dns.CNAME:
			out = append(out, dns.CanonicalName(v.Target))
		}
	}
	sort.Strings(out)
	return out, nil
}

// expect polls the server until name/qtype serves exactly want (any
// order), failing after Visible.
func (s *suite) expect(t *testing.T, name string, qtype uint16, want ...string) {
	t.Helper()
	want = append([]string{}, want...)
	if qtype == dns.TypeCNAME {
		for i := range want {
			want[i] = dns.CanonicalName(want[i])
		}
	}
	sort.Strings(want)
	ctx, cancel := context.WithTimeout(context.Background(), s.h.Visible)
	defer cancel()
	var got []string
	var err error
	for {
		got, err = Served(ctx, s.h.Server, name, qtype)
		if err == nil && equal(got, want) {
			return
		}
		select {
		case <-ctx.Done():
			if err != nil {
				t.Fatalf("%s %s: %v", name, dns.TypeToString[qtype], err)
			}
			t.Fatalf("%s %s served after %v:\n got %s\nwant %s", name, dns.TypeToString[qtype], s.h.Visible, show(got), show(want))
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func show(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		if len(s) > 80 {
			s = fmt.Sprintf("%s...(%d bytes)", s[:60], len(s))
		}
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, " ") + "]"
}

// foreignIntact checks that the foreign records are served unchanged.
func (s *suite) foreignIntact(t *testing.T) {
	t.Helper()
	s.expect(t, s.zone, dns.TypeTXT, SPF)
	s.expect(t, s.name("foreign"), dns.TypeCNAME, ForeignCNAME)
	s.expect(t, s.name("foreign"), dns.TypeTXT)
	s.expect(t, s.name("busy"), dns.TypeTXT, ForeignTXT)
	s.expect(t, s.name("busy"), dns.TypeCNAME)
}

func (s *suite) apexNextToSPF(t *testing.T) {
	rec := TXT(s.zone, "dcv-apex-token-4f1c")
	s.add(t, rec)
	s.expect(t, s.zone, dns.TypeTXT, SPF, rec.Value)
	s.remove(t, rec)
	s.expect(t, s.zone, dns.TypeTXT, SPF)
}

func (s *suite) apexAndWildcard(t *testing.T) {
	name := s.name("_acme-challenge")
	a, w := TXT(name, "value-for-apex"), TXT(name, "value-for-wildcard")
	s.add(t, a, w)
	s.expect(t, name, dns.TypeTXT, a.Value, w.Value)
	s.remove(t, a)
	s.expect(t, name, dns.TypeTXT, w.Value)
	s.remove(t, w)
	s.expect(t, name, dns.TypeTXT)
}

func (s *suite) removeOwnOnly(t *testing.T) {
	busy := s.name("busy")
	own := TXT(busy, "CaseSensitive-own-value")
	s.add(t, own)
	s.expect(t, busy, dns.TypeTXT, ForeignTXT, own.Value)
	// A value that differs only in case is another value.
	s.remove(t, TXT(busy, strings.ToLower(own.Value)))
	s.expect(t, busy, dns.TypeTXT, ForeignTXT, own.Value)
	s.remove(t, own)
	s.expect(t, busy, dns.TypeTXT, ForeignTXT)
	// Removing a value that was never there changes nothing.
	s.remove(t, TXT(busy, "never-added"), TXT(s.zone, "never-added-either"))
	s.expect(t, busy, dns.TypeTXT, ForeignTXT)
	s.expect(t, s.zone, dns.TypeTXT, SPF)
}

func (s *suite) idempotent(t *testing.T) {
	rec := TXT(s.name("_acme-challenge.again"), "same-value")
	s.add(t, rec, rec)
	s.expect(t, rec.FQDN, dns.TypeTXT, rec.Value)
	s.add(t, rec)
	s.expect(t, rec.FQDN, dns.TypeTXT, rec.Value)
	s.remove(t, rec)
	s.expect(t, rec.FQDN, dns.TypeTXT)
	s.remove(t, rec, rec)
	s.expect(t, rec.FQDN, dns.TypeTXT)
}

func (s *suite) severalNames(t *testing.T) {
	recs := []dnspublish.Record{
		TXT(s.name("_acme-challenge.www"), "www-token"),
		TXT(s.name("_dnsauth.shop"), "shop-token"),
		TXT(s.zone, "apex-token-in-a-batch"),
		CNAME(s.name("_acme-challenge.api"), "api.validation.example.net"),
	}
	s.add(t, recs...)
	s.expect(t, recs[0].FQDN, dns.TypeTXT, "www-token")
	s.expect(t, recs[1].FQDN, dns.TypeTXT, "shop-token")
	s.expect(t, s.zone, dns.TypeTXT, SPF, "apex-token-in-a-batch")
	s.expect(t, recs[3].FQDN, dns.TypeCNAME, "api.validation.example.net.")
	s.remove(t, recs...)
	s.expect(t, recs[0].FQDN, dns.TypeTXT)
	s.expect(t, recs[1].FQDN, dns.TypeTXT)
	s.expect(t, s.zone, dns.TypeTXT, SPF)
	s.expect(t, recs[3].FQDN, dns.TypeCNAME)
}

func (s *suite) concurrent(t *testing.T) {
	busy := s.name("busy")
	n := s.h.Concurrency
	var recs []dnspublish.Record
	var want []string
	for i := 0; i < n; i++ {
		recs = append(recs, TXT(busy, fmt.Sprintf("concurrent-%02d", i)))
		want = append(want, recs[i].Value)
	}
	run := func(op string, f func(context.Context, string, []dnspublish.Record) (dnspublish.Result, error)) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range recs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = f(context.Background(), s.zone, recs[i:i+1])
			}(i)
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("concurrent %s: %v", op, err)
		}
	}
	run("Add", s.p.Add)
	s.expect(t, busy, dns.TypeTXT, append(want, ForeignTXT)...)
	run("Remove", s.p.Remove)
	s.expect(t, busy, dns.TypeTXT, ForeignTXT)
}

func (s *suite) longTXT(t *testing.T) {
	var b strings.Builder
	for b.Len() < 600 {
		b.WriteString("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_")
	}
	long := b.String()[:600]
	name := s.name("_acme-challenge.long")
	s.add(t, TXT(name, long), TXT(name, "short"))
	s.expect(t, name, dns.TypeTXT, long, "short")
	s.remove(t, TXT(name, long))
	s.expect(t, name, dns.TypeTXT, "short")
	s.remove(t, TXT(name, "short"))
	s.expect(t, name, dns.TypeTXT)
}

// SpecialValues are TXT values that a backend must store and serve byte for
// byte: quotes, backslashes, a trailing backslash, zone-file comment and
// parenthesis characters, and an escape sequence straddling the 255-octet
// boundary.
func SpecialValues() []string {
	return []string{
		`say "hello"`,
		`back\slash`,
		`trailing backslash\`,
		`"starts and ends with quotes"`,
		`a\"b\\c ;not a comment (nor a group) $ORIGIN @`,
		`\065 is not A`,
		strings.Repeat("x", 254) + `\"` + strings.Repeat("y", 10),
	}
}

func (s *suite) specialTXT(t *testing.T) {
	name := s.name("_acme-challenge.special")
	vals := SpecialValues()
	var recs []dnspublish.Record
	for _, v := range vals {
		recs = append(recs, TXT(name, v))
	}
	s.add(t, recs...)
	s.expect(t, name, dns.TypeTXT, vals...)
	s.remove(t, recs[0])
	s.expect(t, name, dns.TypeTXT, vals[1:]...)
	s.remove(t, recs...)
	s.expect(t, name, dns.TypeTXT)
}

func (s *suite) cname(t *testing.T) {
	rec := CNAME(s.name("_dnsauth"), "Token.DCV.Example.NET")
	s.add(t, rec)
	s.add(t, rec) // already there: no-op
	s.expect(t, rec.FQDN, dns.TypeCNAME, "token.dcv.example.net.")
	s.remove(t, rec)
	s.expect(t, rec.FQDN, dns.TypeCNAME)
	s.remove(t, rec)
	s.expect(t, rec.FQDN, dns.TypeCNAME)
}

func (s *suite) cnameGuards(t *testing.T) {
	foreign, busy := s.name("foreign"), s.name("busy")
	s.refused(t, "TXT next to someone else's CNAME", TXT(foreign, "v"))
	s.refused(t, "CNAME replacing someone else's CNAME", CNAME(foreign, "mine.example.net"))
	s.refused(t, "CNAME next to someone else's TXT", CNAME(busy, "mine.example.net"))
	s.refused(t, "CNAME at the zone apex", CNAME(s.zone, "mine.example.net"))
	mixed := s.name("_acme-challenge.mixed")
	s.refused(t, "TXT and CNAME at one name in one call", TXT(mixed, "v"), CNAME(mixed, "mine.example.net"))
	s.foreignIntact(t)
	s.expect(t, mixed, dns.TypeTXT)
	s.expect(t, mixed, dns.TypeCNAME)

	// dcvd's own records obey the same rule.
	own := s.name("_acme-challenge.guard")
	s.add(t, CNAME(own, "one.example.net"))
	s.refused(t, "TXT next to our own CNAME", TXT(own, "v"))
	s.refused(t, "second CNAME target", CNAME(own, "two.example.net"))
	s.expect(t, own, dns.TypeCNAME, "one.example.net.")
	s.expect(t, own, dns.TypeTXT)
	s.remove(t, CNAME(own, "one.example.net"))
	s.add(t, TXT(own, "v"))
	s.refused(t, "CNAME next to our own TXT", CNAME(own, "one.example.net"))
	s.expect(t, own, dns.TypeTXT, "v")
	s.expect(t, own, dns.TypeCNAME)
	s.remove(t, TXT(own, "v"))
	s.expect(t, own, dns.TypeTXT)
}

func (s *suite) outside(t *testing.T) {
	ctx := context.Background()
	other := "outside-zone.invalid."
	sibling := "x" + s.zone // shares the zone's text but is not below it
	for _, c := range []struct {
		zone string
		rec  dnspublish.Record
	}{
		{s.zone, TXT("_acme-challenge."+other, "v")},
		{s.zone, TXT("_acme-challenge."+sibling, "v")},
		{other, TXT("_acme-challenge."+other, "v")},
		{sibling, TXT("_acme-challenge."+sibling, "v")},
	} {
		for _, op := range []struct {
			name string
			f    func(context.Context, string, []dnspublish.Record) (dnspublish.Result, error)
		}{{"Add", s.p.Add}, {"Remove", s.p.Remove}} {
			_, err := op.f(ctx, c.zone, []dnspublish.Record{c.rec})
			if err == nil {
				t.Errorf("%s(%s, %s) succeeded, want refused", op.name, c.zone, c.rec.FQDN)
				continue
			}
			OneLine(t, err)
		}
	}
	s.foreignIntact(t)
}
