package embedded

import (
	"strings"

	"github.com/miekg/dns"
)

// maxChase bounds CNAME chains followed inside our own zones.
const maxChase = 8

// answer builds the response to req from s. It never fails: every problem
// is an rcode.
func (s *snapshot) answer(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = false
	switch {
	case req.Opcode != dns.OpcodeQuery:
		m.SetRcode(req, dns.RcodeNotImplemented)
		return m
	case len(req.Question) != 1:
		m.SetRcode(req, dns.RcodeFormatError)
		return m
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	z := s.zoneFor(name)
	if z == nil || (q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY) {
		m.SetRcode(req, dns.RcodeRefused)
		return m
	}
	if q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
		// Nothing to transfer to: dcvd is the zone's only server.
		m.SetRcode(req, dns.RcodeRefused)
		return m
	}
	m.Authoritative = true
	owner := q.Name // echo the case the client asked in (DNS 0x20)
	if q.Qtype == dns.TypeANY && (z.exists[name] || len(z.nodes[name]) > 0 || name == z.apex) {
		// RFC 8482: no full ANY answer (an amplifier); one synthesised
		// HINFO says so.
		m.Answer = []dns.RR{&dns.HINFO{Hdr: hdr(owner, dns.TypeHINFO, z.soa.Hdr.Ttl), Cpu: "RFC8482"}}
		return m
	}
	for hop := 0; ; hop++ {
		rrs := z.nodes[name]
		if len(rrs) == 1 && rrs[0].Header().Rrtype == dns.TypeCNAME && q.Qtype != dns.TypeCNAME {
			c := rename(rrs[0], owner).(*dns.CNAME)
			m.Answer = append(m.Answer, c)
			target := strings.ToLower(c.Target)
			next := s.zoneFor(target)
			if next == nil || hop == maxChase {
				return m // the client resolves the rest
			}
			z, name, owner = next, target, c.Target
			continue
		}
		found := false
		for _, rr := range rrs {
			if t := rr.Header().Rrtype; t == q.Qtype || q.Qtype == dns.TypeANY {
				m.Answer = append(m.Answer, rename(rr, owner))
				found = true
			}
		}
		if found {
			if q.Qtype == dns.TypeNS && name == z.apex {
				m.Extra = append(m.Extra, z.glueFor(m.Answer)...)
			}
			return m
		}
		// NODATA or NXDOMAIN, for the last name of a CNAME chain
		// (RFC 6604): the zone's SOA tells how long to cache it.
		if !z.exists[name] {
			m.Rcode = dns.RcodeNameError
		}
		m.Ns = append(m.Ns, negativeSOA(z.soa))
		return m
	}
}

// rename returns a copy of rr owned by name.
func rename(rr dns.RR, name string) dns.RR {
	c := dns.Copy(rr)
	c.Header().Name = name
	return c
}

// negativeSOA is the SOA for the authority section of a negative answer,
// with the TTL lowered to the negative-caching TTL (RFC 2308 §3).
func negativeSOA(soa *dns.SOA) dns.RR {
	c := dns.Copy(soa).(*dns.SOA)
	c.Hdr.Ttl = min(c.Hdr.Ttl, c.Minttl)
	return c
}

// glueFor returns the address records of in-zone name servers in ns.
func (z *zoneData) glueFor(ns []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range ns {
		if n, ok := rr.(*dns.NS); ok {
			for _, a := range z.nodes[n.Ns] {
				if t := a.Header().Rrtype; t == dns.TypeA || t == dns.TypeAAAA {
					out = append(out, a)
				}
			}
		}
	}
	return out
}
