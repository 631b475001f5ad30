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
func (s *session) insertions(ctx context.Context, recs []dnspublish.Record) (rrs []dns.RR, conflicts map[string]string, err error) {
	conflicts = map[string]string{}
	type state struct {
		ttl   uint32 // TTL of the existing RRset of the record's type
		cname string // target, when the name is a CNAME
		data  bool   // the name holds data of another type (CNAME queries)
	}
	seen := map[string]*state{}
	for _, r := range recs {
		st, ok := seen[r.FQDN]
		if !ok {
			st = &state{}
			seen[r.FQDN] = st
			m := new(dns.Msg)
			m.SetQuestion(r.FQDN, r.Type.RRType())
			m.RecursionDesired = false
			resp, err := s.exchange(ctx, m)
			var rc *RcodeError
			switch {
			case errors.As(err, &rc) && rc.TSIG == 0:
				// NXDOMAIN: nothing there. REFUSED and the like: the server
				// does not answer queries for the zone; go ahead without
				// TTL knowledge and let the update's own response code tell
				// what is wrong.
				if rc.Rcode != dns.RcodeNameError {
					s.p.log.Debug("rfc2136: lookup refused", "backend", s.p.name, "name", r.FQDN, "rcode", rcodeName(rc.Rcode))
				}
				resp = new(dns.Msg)
				resp.Rcode = rc.Rcode
			case err != nil:
				return nil, nil, err
			}
			for _, rr := range resp.Answer {
				if !strings.EqualFold(rr.Header().Name, r.FQDN) {
					continue
				}
				switch v := rr.(type) {
				case *dns.CNAME:
					st.cname = dns.CanonicalName(v.Target)
				case *dns.TXT:
					st.ttl = v.Hdr.Ttl
				}
			}
			st.data = resp.Rcode == dns.RcodeSuccess && len(resp.Answer) == 0
			switch {
			case r.Type == dnspublish.TXT && st.cname != "":
				conflicts[r.FQDN] = "is a CNAME to " + strings.TrimSuffix(st.cname, ".") + " (a TXT cannot be added next to it)"
			case r.Type == dnspublish.CNAME && st.cname != "" && st.cname != r.Value:
				conflicts[r.FQDN] = "is already a CNAME to " + strings.TrimSuffix(st.cname, ".")
			case r.Type == dnspublish.CNAME && st.data:
				conflicts[r.FQDN] = "already holds other records (a CNAME cannot be added next to them)"
			}
		}
		if r.Type == dnspublish.CNAME && st.cname == r.Value {
			continue // already there
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
