package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The secure part of the topology comes up: signed zones served with
// signatures by every server, the tampered copy serves an expired RRSIG,
// the primary answers on [::1]:53 and the root server on 127.0.0.14:53
// refers deleg.test to its stale NS set.
func TestSecureTopology(t *testing.T) {
	tp := StartTopology(t, TopologyOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ask := func(addr, name string, qt uint16, rd bool) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(name, qt)
		m.RecursionDesired = rd
		m.SetEdns0(4096, true)
		r, _, err := (&dns.Client{Timeout: 2 * time.Second}).ExchangeContext(ctx, m, addr)
		if err != nil {
			t.Fatalf("%s %s at %s: %v", dns.TypeToString[qt], name, addr, err)
		}
		return r
	}
	for _, a := range tp.SignedServers() {
		r := ask(a, "fixed.signed.test.", dns.TypeTXT, false)
		if len(r.Answer) != 2 {
			t.Errorf("%s: fixed.signed.test TXT+RRSIG: %v", a, r.Answer)
		}
	}
	r := ask(TopoBadSig, "expired.badsig.test.", dns.TypeTXT, false)
	var sig *dns.RRSIG
	for _, rr := range r.Answer {
		if s, ok := rr.(*dns.RRSIG); ok {
			sig = s
		}
	}
	if sig == nil || sig.ValidityPeriod(time.Now()) {
		t.Errorf("expired.badsig.test at %s: want an expired RRSIG, got %v", TopoBadSig, r.Answer)
	}
	if r := ask(TopoV6, "fixed.dual.test.", dns.TypeTXT, false); len(r.Answer) == 0 {
		t.Errorf("[::1]:53: no answer for fixed.dual.test")
	}
	r = ask(TopoRoot, "deleg.test.", dns.TypeNS, false)
	if len(r.Ns) != 2 {
		t.Errorf("root referral for deleg.test: %v", r.Ns)
	}
	r = ask(tp.Resolver, "signed.test.", dns.TypeDS, true)
	if len(r.Answer) == 0 {
		t.Errorf("no DS for signed.test at the resolver: %v", r)
	}
	if _, err := tp.AddTXT(ctx, "_acme-challenge.x.signed.test", "v"); err != nil {
		t.Fatal(err)
	}
}
