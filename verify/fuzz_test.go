package verify

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
)

// FuzzClassifyAnswer feeds arbitrary authoritative answers to the code that
// decides whether a server serves a value: it never panics, and it says
// "ok" only when the exact value (bytes, escapes undone) is in the answer
// at the asked name.
func FuzzClassifyAnswer(f *testing.F) {
	const name = "_acme-challenge.example.com."
	seed := func(rrs ...string) {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeTXT)
		m.Response, m.Authoritative = true, true
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				f.Fatal(err)
			}
			m.Answer = append(m.Answer, rr)
		}
		b, _ := m.Pack()
		f.Add(b, "token-value")
	}
	seed(name + ` 60 IN TXT "token-value"`)
	seed(name + ` 60 IN TXT "token" "-value"`)
	seed(name + ` 60 IN TXT "back\\slash"`)
	seed(name + ` 60 IN CNAME other.example.net.`)
	seed(`other.example.com. 60 IN TXT "token-value"`)
	seed()
	f.Fuzz(func(t *testing.T, raw []byte, value string) {
		m := new(dns.Msg)
		if err := m.Unpack(raw); err != nil {
			return
		}
		q := Query{Name: name, Type: dnspublish.TXT, Value: value}
		var res ServerResult
		classifyAnswer(&res, m, name, q)
		if res.Status != StatusOK || value == "" {
			return
		}
		for _, rr := range m.Answer {
			if txt, ok := rr.(*dns.TXT); ok && dns.CanonicalName(txt.Hdr.Name) == name && dnspublish.TXTValue(txt) == value {
				return
			}
		}
		t.Fatalf("status ok for %q, answer %v", value, m.Answer)
	})
}
