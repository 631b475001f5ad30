package rfc2136

import (
	"context"
	"errors"
	"strings"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
)

// insertions turns recs into the RRs to insert. It asks the server what each
// name holds now, so that
//   - a TXT value joins an existing TXT RRset with that RRset's TTL (servers
//     give the whole RRset the TTL of the newest value, which would change
//     the TTL of an SPF record dcvd did not write);
//   - a CNAME that is already there with our target is not sent again (its
//     prerequisite "name not in use" would fail).
//
// conflicts maps names that already hold something in the way (a CNAME
// under a TXT, other data under a CNAME) to a description, for the error
// message should the update's prerequisites fail.
func (s *session) insertions(ctx context.Context, zone string, recs []dnspublish.Record) (rrs []dns.RR, conflicts map[string]string, err error) {
	type state struct {
		ttl   uint32 // TTL of the existing RRset of the record's type
		cname string // target, when the name is a CNAME
	}
	// One query per distinct name, unless Present has just asked it.
	var qs, ask []*dns.Msg
	var resps []*dns.Msg
	var errs []error
	var asked []int // index in qs of each query sent
	names := map[string]int{}
	for _, r := range recs {
		if _, ok := names[r.FQDN]; ok {
			continue
		}
		names[r.FQDN] = len(qs)
		m := new(dns.Msg)
		m.SetQuestion(r.FQDN, r.Type.RRType())
		m.RecursionDesired = false
		qs = append(qs, m)
		if a, ok := s.p.probed.take(r.FQDN, r.Type.RRType()); ok {
			resps, errs = append(resps, a.resp), append(errs, a.err)
			continue
		}
		resps, errs = append(resps, nil), append(errs, nil)
		ask, asked = append(ask, m), append(asked, len(qs)-1)
	}
	ar, ae := s.queryAll(ctx, ask)
	for j, i := range asked {
		resps[i], errs[i] = ar[j], ae[j]
	}
	conflicts = map[string]string{}
	states := make([]state, len(qs))
	for i, q := range qs {
		name, resp, st := q.Question[0].Name, resps[i], &states[i]
		var rc *RcodeError
		switch {
		case errors.As(errs[i], &rc) && rc.TSIG == 0:
			// NXDOMAIN: nothing there. REFUSED and the like: the server
			// does not answer queries for the zone; go ahead without TTL
			// knowledge and let the update's own response code tell what
			// is wrong.
			if rc.Rcode != dns.RcodeNameError {
				s.p.log.Debug("rfc2136: lookup refused", "backend", s.p.name, "name", name, "rcode", rcodeName(rc.Rcode))
			}
			continue
		case errs[i] != nil:
			return nil, nil, errs[i]
		}
		for _, rr := range resp.Answer {
			if !strings.EqualFold(rr.Header().Name, name) {
				continue
			}
			switch v := rr.(type) {
			case *dns.CNAME:
				st.cname = dns.CanonicalName(v.Target)
			case *dns.TXT:
				st.ttl = v.Hdr.Ttl
			}
		}
		otherData := len(resp.Answer) == 0 // NOERROR without an answer: the name holds other types
		switch qtype := q.Question[0].Qtype; {
		case qtype == dns.TypeTXT && st.cname != "":
			conflicts[name] = "is a CNAME to " + strings.TrimSuffix(st.cname, ".") + " (a TXT cannot be added next to it)"
		case qtype == dns.TypeCNAME && st.cname != "":
			conflicts[name] = "is already a CNAME to " + strings.TrimSuffix(st.cname, ".")
		case qtype == dns.TypeCNAME && otherData:
			conflicts[name] = "already holds other records (a CNAME cannot be added next to them)"
		}
	}
	for _, r := range recs {
		st := states[names[r.FQDN]]
		if r.Type == dnspublish.CNAME && st.cname == r.Value {
			// The answer may come from a wildcard CNAME: only the zone's
			// own data counts as "already there".
			real, err := s.exists(ctx, zone, r.FQDN, []dns.RR{r.RR()})
			if err != nil {
				return nil, nil, err
			}
			if real {
				continue // already there
			}
			delete(conflicts, r.FQDN)
		}
		rr := r.RR()
		if r.Type == dnspublish.TXT && st.ttl != 0 {
			rr.Header().Ttl = st.ttl
		}
		rrs = append(rrs, rr)
	}
	return rrs, conflicts, nil
}

// serial reads the zone's SOA serial from the server.
func (s *session) serial(ctx context.Context, zone string) (uint32, error) {
	m := new(dns.Msg)
	m.SetQuestion(zone, dns.TypeSOA)
	m.RecursionDesired = false
	r, err := s.exchange(ctx, m)
	if err != nil {
		return 0, err
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok && strings.EqualFold(soa.Hdr.Name, zone) {
			return soa.Serial, nil
		}
	}
	return 0, errors.New("no SOA record in the answer")
}
