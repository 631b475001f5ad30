package embedded

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
)

// snapshot is an immutable view of every zone, swapped atomically on
// reload; queries never wait for the store.
type snapshot struct {
	serial uint32
	sum    [sha256.Size]byte // of the records served, to notice changes
	zones  []*zoneData       // longest apex first
}

// zoneData is one zone's records by lower-case owner name.
type zoneData struct {
	apex  string
	soa   *dns.SOA
	nodes map[string][]dns.RR
	// exists holds every name with records and every empty non-terminal
	// (an ancestor of such a name inside the zone): those get NODATA, all
	// other names NXDOMAIN.
	exists map[string]bool
}

// reload reads the store and, when the records changed, installs a new
// snapshot with a higher serial. It returns the snapshot being served.
//
// Serials are time based: the first load gets the current Unix time, each
// change max(previous+1, now). They survive restarts without being stored,
// except that a restart within seconds of a burst of changes may serve a
// serial lower than before the restart — harmless, as this server has no
// secondaries that compare serials.
func (p *Publisher) reload(ctx context.Context) (*snapshot, error) {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	recs, err := p.store.Records(ctx, p.name)
	if err != nil {
		return nil, fmt.Errorf("embedded %q: read records: %w", p.name, err)
	}
	next := p.build(recs)
	prev := p.snap.Load()
	now := uint32(time.Now().Unix())
	switch {
	case prev == nil:
		next.serial = now
	case prev.sum == next.sum:
		return prev, nil
	default:
		next.serial = max(prev.serial+1, now)
	}
	for _, z := range next.zones {
		z.soa.Serial = next.serial
	}
	p.snap.Store(next)
	return next, nil
}

// build indexes recs into zones. Records outside every zone (left from an
// earlier configuration) are ignored; at a name holding a CNAME no other
// record is served, as DNS requires.
func (p *Publisher) build(recs []dnspublish.Record) *snapshot {
	s := &snapshot{}
	byApex := map[string]*zoneData{}
	for _, zc := range p.zones {
		soa := zc.soa
		z := &zoneData{apex: zc.apex, soa: &soa, nodes: map[string][]dns.RR{}, exists: map[string]bool{zc.apex: true}}
		z.nodes[zc.apex] = append([]dns.RR{z.soa}, zc.ns...)
		for name, rrs := range zc.glue {
			z.add(name, rrs...)
		}
		s.zones = append(s.zones, z)
		byApex[zc.apex] = z
	}
	var keys []string
	seen := map[string]bool{}
	for _, r := range recs {
		n, err := r.Normalize()
		if err != nil {
			continue
		}
		zc := p.zoneOf(n.FQDN)
		if zc == nil || seen[n.Key()] || (n.Type == dnspublish.CNAME && n.FQDN == zc.apex) {
			continue
		}
		seen[n.Key()] = true
		n.TTL = p.ttl
		byApex[zc.apex].add(n.FQDN, n.RR())
		keys = append(keys, n.Key())
	}
	for _, z := range s.zones {
		for name, rrs := range z.nodes {
			z.nodes[name] = cnameRule(rrs)
		}
	}
	sort.Strings(keys)
	s.sum = sha256.Sum256([]byte(strings.Join(keys, "\n")))
	return s
}

func (z *zoneData) add(name string, rrs ...dns.RR) {
	z.nodes[name] = append(z.nodes[name], rrs...)
	for n := name; n != z.apex && !z.exists[n]; {
		z.exists[n] = true
		i, end := dns.NextLabel(n, 0)
		if end {
			break
		}
		n = n[i:]
	}
}

// cnameRule keeps only the first CNAME when a name holds one: two backends'
// worth of challenges at one name cannot be served together.
func cnameRule(rrs []dns.RR) []dns.RR {
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeCNAME {
			return []dns.RR{rr}
		}
	}
	return rrs
}

// zoneFor returns the zone holding the lower-case name, or nil.
func (s *snapshot) zoneFor(name string) *zoneData {
	for _, z := range s.zones {
		if dns.IsSubDomain(z.apex, name) {
			return z
		}
	}
	return nil
}

// sortZones orders zones longest (most labels) first, so the first match is
// the most specific.
func sortZones(zs []zoneConfig) {
	sort.SliceStable(zs, func(i, j int) bool {
		ci, cj := dns.CountLabel(zs[i].apex), dns.CountLabel(zs[j].apex)
		if ci != cj {
			return ci > cj
		}
		return zs[i].apex < zs[j].apex
	})
}
