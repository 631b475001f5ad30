package verify

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Delegation roles of a server (ServerResult.Delegation). A CA's
// perspective may ask any server of either set, so both must serve the
// record.
const (
	// DelegParentOnly: the parent delegates to this host but the zone's own
	// NS set does not list it (stale delegation: an old server the
	// registrar still points at).
	DelegParentOnly = "parent-only"
	// DelegZoneOnly: the zone's NS set lists this host but the parent does
	// not delegate to it (lame on the parent side: resolvers that take the
	// zone's NS set still ask it).
	DelegZoneOnly = "zone-only"
)

// withDelegation compares the parent's delegation NS set of zi.Zone (a
// referral from the parent's servers, RD=0) with the zone's own NS set (an
// authoritative answer from its servers) and returns zi with the union of
// both: hosts in only one set are added and marked. When either set cannot
// be read, zi is returned with DelegNote saying why.
func (c *Checker) withDelegation(ctx context.Context, zi *zoneInfo) *zoneInfo {
	if zi.Zone == "." {
		return zi
	}
	// Once per zone (every record of the zone shares it), for the zone
	// data's TTL.
	v, _ := c.cache.get(ctx, "deleg:"+zi.Zone, func() (any, time.Duration, error) {
		return c.compareDelegation(ctx, zi), zi.ttl, nil
	})
	if v == nil {
		return zi
	}
	return v.(*zoneInfo)
}

func (c *Checker) compareDelegation(ctx context.Context, zi *zoneInfo) *zoneInfo {
	out := *zi
	out.Servers = append([]server(nil), zi.Servers...)
	parentNS, glue, err := c.parentNS(ctx, zi.Zone)
	if err != nil {
		out.DelegNote = "parent delegation not checked: " + err.Error()
	}
	zoneNS, err := c.zoneOwnNS(ctx, zi)
	if err != nil && out.DelegNote == "" {
		out.DelegNote = "zone NS set not read from its servers: " + err.Error()
	}
	out.ParentNS, out.ZoneNS = parentNS, zoneNS
	if len(parentNS) == 0 || len(zoneNS) == 0 {
		return &out
	}
	inParent, inZone := setOf(parentNS), setOf(zoneNS)
	all := setOf(zi.NS)
	for _, h := range append(append([]string(nil), parentNS...), zoneNS...) {
		all[h] = true
	}
	out.NS = nil
	for h := range all {
		out.NS = append(out.NS, h)
	}
	sort.Strings(out.NS)
	known := setOf(zi.NS)
	for _, h := range out.NS {
		if known[h] {
			continue
		}
		addrs := glue[h]
		if len(addrs) == 0 {
			for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
				a, _, err := c.hostAddrs(ctx, h, qt)
				if err == nil {
					addrs = append(addrs, a...)
				}
			}
		}
		if len(addrs) == 0 {
			out.Unresolved = append(out.Unresolved, h)
		}
		for _, a := range addrs {
			out.Servers = append(out.Servers, server{Host: h, Addr: a})
		}
	}
	for i := range out.Servers {
		h := out.Servers[i].Host
		switch {
		case inParent[h] && !inZone[h]:
			out.Servers[i].Delegation = DelegParentOnly
		case inZone[h] && !inParent[h]:
			out.Servers[i].Delegation = DelegZoneOnly
		}
	}
	sort.Slice(out.Servers, func(i, j int) bool {
		a, b := out.Servers[i], out.Servers[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		return a.Addr < b.Addr
	})
	return &out
}

func setOf(ss []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range ss {
		m[s] = true
	}
	return m
}

// parentNS asks the servers of zone's parent for zone's NS set (RD=0) and
// returns the delegation with the glue addresses it carries.
func (c *Checker) parentNS(ctx context.Context, zone string) ([]string, map[string][]string, error) {
	parent, err := c.walkSOA(ctx, parentName(zone))
	if err != nil {
		return nil, nil, err
	}
	pz, err := c.zoneData(ctx, parent)
	if err != nil {
		return nil, nil, err
	}
	r, err := c.firstAnswer(ctx, pz.Servers, zone, func(m *dns.Msg) bool {
		return len(nsNames(m.Ns, zone)) > 0 || (m.Authoritative && len(nsNames(m.Answer, zone)) > 0)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("NS %s at the servers of %s: %w", zone, parent, err)
	}
	ns := nsNames(r.Ns, zone)
	if len(ns) == 0 {
		ns = nsNames(r.Answer, zone)
	}
	glue := map[string][]string{}
	for _, rr := range r.Extra {
		name := dns.CanonicalName(rr.Header().Name)
		switch rr := rr.(type) {
		case *dns.A:
			glue[name] = append(glue[name], rr.A.String()+":53")
		case *dns.AAAA:
			glue[name] = append(glue[name], "["+rr.AAAA.String()+"]:53")
		}
	}
	return ns, glue, nil
}

// zoneOwnNS asks the zone's servers for its NS set (RD=0, authoritative).
func (c *Checker) zoneOwnNS(ctx context.Context, zi *zoneInfo) ([]string, error) {
	r, err := c.firstAnswer(ctx, zi.Servers, zi.Zone, func(m *dns.Msg) bool {
		return m.Authoritative && len(nsNames(m.Answer, zi.Zone)) > 0
	})
	if err != nil {
		return nil, err
	}
	return nsNames(r.Answer, zi.Zone), nil
}

// firstAnswer asks every server at once for zone's NS set and returns the
// first answer accepted by ok; the other queries are abandoned.
func (c *Checker) firstAnswer(ctx context.Context, servers []server, zone string, ok func(*dns.Msg) bool) (*dns.Msg, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type res struct {
		m   *dns.Msg
		err error
	}
	ch := make(chan res, len(servers))
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() {
			ex := c.exchange(ctx, s.Addr, newQuestion(zone, dns.TypeNS, false))
			c.stats.discovery.Add(int64(ex.queries))
			switch {
			case ex.err != nil:
				ch <- res{err: fmt.Errorf("%s: %v", s.Addr, ex.err)}
			case !ok(ex.msg):
				ch <- res{err: fmt.Errorf("%s: %s without the NS set", s.Addr, dns.RcodeToString[ex.msg.Rcode])}
			default:
				ch <- res{m: ex.msg}
			}
		})
	}
	var errs []string
	for range servers {
		r := <-ch
		if r.m != nil {
			return r.m, nil
		}
		errs = append(errs, r.err.Error())
	}
	wg.Wait()
	if len(errs) == 0 {
		return nil, fmt.Errorf("no servers")
	}
	return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
}

// nsNames returns the NS targets owned by zone in rrs, sorted.
func nsNames(rrs []dns.RR, zone string) []string {
	var out []string
	for _, rr := range rrs {
		if ns, ok := rr.(*dns.NS); ok && strings.EqualFold(ns.Hdr.Name, zone) {
			out = append(out, dns.CanonicalName(ns.Ns))
		}
	}
	sort.Strings(out)
	return out
}
