package rfc2136

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
)

// Limits of one UPDATE message. A TCP message holds at most 65535 bytes;
// staying well below leaves room for prerequisites and the TSIG record.
const (
	maxRRsPerUpdate   = 1000
	maxBytesPerUpdate = 48 << 10
)

// Add inserts each record's value into its RRset in one UPDATE (more only
// beyond maxRRsPerUpdate records) and returns the zone's serial afterwards.
func (p *Publisher) Add(ctx context.Context, zone string, recs []dnspublish.Record) (dnspublish.Result, error) {
	return p.update(ctx, zone, recs, true)
}

// Remove deletes exactly each record's value from its RRset and returns the
// zone's serial afterwards. Other values at the same name stay.
func (p *Publisher) Remove(ctx context.Context, zone string, recs []dnspublish.Record) (dnspublish.Result, error) {
	return p.update(ctx, zone, recs, false)
}

func (p *Publisher) update(ctx context.Context, zone string, recs []dnspublish.Record, add bool) (dnspublish.Result, error) {
	start := time.Now()
	zone = dns.CanonicalName(zone)
	recs, err := p.prepare(zone, recs)
	if err != nil || len(recs) == 0 {
		return dnspublish.Result{}, err
	}
	s, err := p.dial(ctx)
	if err != nil {
		return dnspublish.Result{}, p.wrap("update", zone, err)
	}
	defer s.close()

	var rrs []dns.RR
	var conflicts map[string]string
	if add {
		rrs, conflicts, err = s.insertions(ctx, zone, recs)
		if err != nil {
			return dnspublish.Result{}, p.wrap("look up existing records in", zone, err)
		}
	} else {
		for _, r := range recs {
			rrs = append(rrs, r.RR())
		}
	}
	for _, chunk := range chunks(rrs) {
		m := new(dns.Msg)
		m.SetUpdate(zone)
		if add {
			prerequisites(m, chunk)
			m.Insert(chunk)
		} else {
			m.Remove(chunk)
		}
		if _, err := s.exchange(ctx, m); err != nil {
			var rc *RcodeError
			if errors.As(err, &rc) && (rc.Rcode == dns.RcodeYXRrset || rc.Rcode == dns.RcodeYXDomain) {
				rc.Hint = conflictHint(chunk, conflicts)
			}
			return dnspublish.Result{}, p.wrap("update", zone, err)
		}
	}

	var res dnspublish.Result
	serial, err := s.serial(ctx, zone)
	if err != nil {
		// The update itself succeeded; the verifier copes with an unknown serial.
		p.log.Warn("rfc2136: updated, but could not read the serial back", "backend", p.name, "err", p.wrap("read SOA serial of", zone, err))
	} else {
		res.Serial = serial
	}
	verb := "remove"
	if add {
		verb = "add"
	}
	p.log.Debug("rfc2136 update", "backend", p.name, "zone", zone, "server", p.server, "op", verb,
		"records", len(rrs), "serial", res.Serial, "took", time.Since(start))
	return res, nil
}

// prepare normalizes recs, applies the configured TTL, checks that each lies
// in zone and drops duplicates.
func (p *Publisher) prepare(zone string, recs []dnspublish.Record) ([]dnspublish.Record, error) {
	if !p.hasZone(zone) {
		return nil, fmt.Errorf("rfc2136 %q: zone %s is not one of this backend's zones (%s): %w",
			p.name, strings.TrimSuffix(zone, "."), strings.Join(p.zones, ", "), dnspublish.ErrNoZone)
	}
	out := make([]dnspublish.Record, 0, len(recs))
	seen := make(map[string]bool, len(recs))
	types := make(map[string]dnspublish.Type, len(recs))
	for _, r := range recs {
		n, err := r.Normalize()
		if err != nil {
			return nil, fmt.Errorf("rfc2136 %q: %w", p.name, err)
		}
		if !dns.IsSubDomain(zone, n.FQDN) {
			return nil, fmt.Errorf("rfc2136 %q: record %s is outside zone %s: %w", p.name, n.FQDN, zone, dnspublish.ErrNoZone)
		}
		if t, ok := types[n.FQDN]; ok && t != n.Type {
			return nil, fmt.Errorf("rfc2136 %q: %s: a name cannot hold both a CNAME and a TXT", p.name, n.FQDN)
		}
		types[n.FQDN] = n.Type
		n.TTL = p.ttl
		if !seen[n.Key()] {
			seen[n.Key()] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// chunks splits rrs into groups that fit one UPDATE message.
func chunks(rrs []dns.RR) [][]dns.RR {
	var out [][]dns.RR
	start, size := 0, 0
	for i, rr := range rrs {
		l := dns.Len(rr)
		if i > start && (i-start >= maxRRsPerUpdate || size+l > maxBytesPerUpdate) {
			out = append(out, rrs[start:i])
			start, size = i, 0
		}
		size += l
	}
	if start < len(rrs) {
		out = append(out, rrs[start:])
	}
	return out
}

// prerequisites guards the insertions in rrs (RFC 2136 §2.4): a TXT may only
// go where no CNAME is (a CNAME hides every other type), and a CNAME only at
// a name that holds nothing at all — so an update never silently does
// nothing and never replaces a CNAME that dcvd did not write.
func prerequisites(m *dns.Msg, rrs []dns.RR) {
	done := map[string]bool{}
	for _, rr := range rrs {
		h := rr.Header()
		if done[h.Name] {
			continue
		}
		done[h.Name] = true
		if h.Rrtype == dns.TypeCNAME {
			m.NameNotUsed([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: h.Name}}})
		} else {
			m.RRsetNotUsed([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: h.Name, Rrtype: dns.TypeCNAME}}})
		}
	}
}

// conflictHint explains a failed prerequisite with what the lookups saw.
func conflictHint(rrs []dns.RR, conflicts map[string]string) string {
	var names []string
	for _, rr := range rrs {
		if c, ok := conflicts[rr.Header().Name]; ok {
			names = append(names, strings.TrimSuffix(rr.Header().Name, ".")+" "+c)
			delete(conflicts, rr.Header().Name)
		}
	}
	if len(names) == 0 {
		return "a name already holds a CNAME, or a CNAME was to be added next to other records; dcvd never replaces records it did not write"
	}
	return strings.Join(names, "; ") + "; dcvd never replaces records it did not write"
}

// hasZone reports whether zone (canonical) is one of the configured zones.
func (p *Publisher) hasZone(zone string) bool {
	for _, z := range p.zones {
		if z == zone {
			return true
		}
	}
	return false
}
