package embedded

import (
	"context"
	"testing"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
)

// FuzzAnswer feeds arbitrary messages to the embedded server's query
// handling: it never panics, always answers the question it was asked, and
// the answer packs; over UDP it fits MaxUDPSize.
func FuzzAnswer(f *testing.F) {
	st := newMemStore()
	p, err := New(dnspublish.Base{Name: "fuzz", Zones: []string{zone}, State: st}, Options{ResponseRate: -1})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	p.Add(ctx, zone, []dnspublish.Record{
		txt("_acme-challenge.a."+zone, "value-1"), txt("_acme-challenge.a."+zone, "value-2"),
		{FQDN: "c." + zone, Type: dnspublish.CNAME, Value: "_acme-challenge.a." + zone},
		{FQDN: "loop." + zone, Type: dnspublish.CNAME, Value: "loop." + zone},
		txt("deep.x.y."+zone, `back\slash "quoted"`),
	})
	snap, err := p.reload(ctx)
	if err != nil {
		f.Fatal(err)
	}
	for _, q := range []struct {
		name string
		t    uint16
	}{{"_acme-challenge.a." + zone, dns.TypeTXT}, {"c." + zone, dns.TypeTXT}, {"loop." + zone, dns.TypeA},
		{zone, dns.TypeANY}, {zone, dns.TypeAXFR}, {"x.y." + zone, dns.TypeTXT}, {"elsewhere.", dns.TypeSOA}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.t)
		m.SetEdns0(65000, true)
		b, _ := m.Pack()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req := new(dns.Msg)
		if err := req.Unpack(raw); err != nil {
			return // the server drops what does not parse (miekg/dns)
		}
		m := snap.answer(req)
		if m.Id != req.Id {
			t.Fatalf("answer id %d for query %d", m.Id, req.Id)
		}
		if len(req.Question) == 1 && (len(m.Question) != 1 || m.Question[0] != req.Question[0]) {
			t.Fatalf("question %v answered as %v", req.Question, m.Question)
		}
		if _, err := m.Pack(); err != nil {
			t.Fatalf("answer does not pack: %v\n%v", err, m)
		}
		m.Truncate(udpSize(req))
		if b, err := m.Pack(); err != nil || len(b) > MaxUDPSize {
			t.Fatalf("UDP answer of %d bytes (%v)", len(b), err)
		}
	})
}
