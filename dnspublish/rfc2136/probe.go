package rfc2136

import (
	"context"
	"errors"
	"strings"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
)

var _ dnspublish.Prober = (*Publisher)(nil)

// Present reports whether each record's value is in the zone's data now
// (dnspublish.Prober). It asks the primary for the RRset, and when the value
// is in the answer it confirms that the RRset really exists at that name
// with an UPDATE that holds only a prerequisite (RFC 2136 §2.4.2, "RRset
// exists, value dependent") and changes nothing: prerequisites are checked
// against the zone's own data, so an answer synthesised from a wildcard
// does not count.
func (p *Publisher) Present(ctx context.Context, zone string, recs []dnspublish.Record) ([]bool, error) {
	zone = dns.CanonicalName(zone)
	recs, err := p.prepare(zone, recs)
	out := make([]bool, len(recs))
	if err != nil || len(recs) == 0 {
		return out, err
	}
	s, err := p.dial(ctx)
	if err != nil {
		return nil, p.wrap("look up", zone, err)
	}
	defer s.close()
	for i, r := range recs {
		if out[i], err = s.present(ctx, zone, r); err != nil {
			return nil, p.wrap("look up existing records in", zone, err)
		}
	}
	return out, nil
}

// present answers Present for one record.
func (s *session) present(ctx context.Context, zone string, r dnspublish.Record) (bool, error) {
	q := new(dns.Msg)
	q.SetQuestion(r.FQDN, r.Type.RRType())
	q.RecursionDesired = false
	resp, err := s.exchange(ctx, q)
	var rc *RcodeError
	if err == nil || errors.As(err, &rc) && rc.TSIG == 0 {
		s.p.probed.keep(r.FQDN, r.Type.RRType(), resp, err) // for the Add that follows
	}
	if errors.As(err, &rc) && rc.TSIG == 0 {
		return false, nil // NXDOMAIN, or a server that does not answer queries
	} else if err != nil {
		return false, err
	}
	var set []dns.RR
	found := false
	for _, rr := range resp.Answer {
		if !strings.EqualFold(rr.Header().Name, r.FQDN) || rr.Header().Rrtype != r.Type.RRType() {
			continue
		}
		set = append(set, dns.Copy(rr))
		switch v := rr.(type) {
		case *dns.TXT:
			found = found || dnspublish.TXTValue(v) == r.Value
		case *dns.CNAME:
			found = found || dns.CanonicalName(v.Target) == r.Value
		}
	}
	if !found {
		return false, nil
	}
	return s.exists(ctx, zone, r.FQDN, set)
}

// exists sends an UPDATE without updates whose one prerequisite is that
// name holds exactly the RRset set: NOERROR means the zone's data holds it,
// NXRRSET that it does not (the answer came from a wildcard, or the RRset
// changed meanwhile).
func (s *session) exists(ctx context.Context, zone, name string, set []dns.RR) (bool, error) {
	for _, rr := range set {
		rr.Header().Name = name // a synthesised answer carries the query name already
	}
	m := new(dns.Msg)
	m.SetUpdate(zone)
	m.Used(set)
	_, err := s.exchange(ctx, m)
	var rc *RcodeError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &rc) && rc.TSIG == 0 && (rc.Rcode == dns.RcodeNXRrset || rc.Rcode == dns.RcodeNameError):
		return false, nil
	}
	return false, err
}
