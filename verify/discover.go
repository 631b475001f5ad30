package verify

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// server is one authoritative address.
type server struct {
	Host string // NS host name; "" for an override address
	Addr string // "ip:port"
	// Delegation is DelegParentOnly or DelegZoneOnly when the host is in
	// only one of the parent's delegation and the zone's own NS set.
	Delegation string
}

// zoneInfo is a zone cut with the addresses to ask.
type zoneInfo struct {
	Zone       string
	NS         []string // NS host names (empty with an override)
	Servers    []server
	Unresolved []string // NS hosts without any A/AAAA
	Override   bool
	ParentNS   []string // the parent's delegation NS set (when learnt)
	ZoneNS     []string // the zone's own NS set, from its servers
	DelegNote  string   // why the delegation was not compared
	ttl        time.Duration
}

// maxDelegationProbes bounds the delegations followed below the zone found
// by the SOA walk (sub-zone, then a delegated _acme-challenge, ...).
const maxDelegationProbes = 8

// nameCacheTTL bounds how long the zone found for one name is remembered.
const nameCacheTTL = 15 * time.Second

// zoneFor returns the zone of name and its authoritative addresses.
func (c *Checker) zoneFor(ctx context.Context, name string) (*zoneInfo, error) {
	v, err := c.cache.get(ctx, "for:"+name, func() (any, time.Duration, error) {
		zi, err := c.findZone(ctx, name)
		if err != nil {
			return nil, 0, err
		}
		if !zi.Override {
			zi = c.withDelegation(ctx, zi)
		}
		// One entry per name checked: kept for the polls of one wait, not
		// for the zone's whole TTL (the zone's own entries are).
		return zi, min(zi.ttl, nameCacheTTL), nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*zoneInfo), nil
}

func (c *Checker) findZone(ctx context.Context, name string) (*zoneInfo, error) {
	if ov, ok := c.overrideFor(name); ok {
		return c.overrideZone(ctx, name, ov)
	}
	if c.resErr != nil {
		return nil, fmt.Errorf("find zone of %s: %w", name, c.resErr)
	}
	// Walk from the parent: the challenge name itself is asked only at the
	// authoritative servers (below), never at a resolver.
	start := name
	if p := parentName(name); p != "." {
		start = p
	}
	zone, err := c.walkSOA(ctx, start)
	if err != nil {
		return nil, err
	}
	zi, err := c.zoneData(ctx, zone)
	if err != nil {
		return nil, err
	}
	for i := 0; i < maxDelegationProbes && zi.Zone != name; i++ {
		cut := c.probeCut(ctx, name, zi)
		if cut == zi.Zone {
			break
		}
		c.log.Debug("verify: delegation below zone", "name", name, "zone", zi.Zone, "cut", cut)
		if zi, err = c.zoneData(ctx, cut); err != nil {
			return nil, err
		}
	}
	return zi, nil
}

// walkSOA finds the zone apex at or above start through the resolvers.
func (c *Checker) walkSOA(ctx context.Context, start string) (string, error) {
	v, err := c.cache.get(ctx, "cut:"+start, func() (any, time.Duration, error) {
		for n := start; ; n = parentName(n) {
			if n != start {
				// Many records share their upper names: reuse a walk
				// that already started there.
				if v, ok := c.cache.peek("cut:" + n); ok {
					return v, time.Minute, nil
				}
			}
			r, srv, err := c.resolve(ctx, n, dns.TypeSOA)
			if err != nil {
				return nil, 0, fmt.Errorf("find zone of %s: SOA %s: %w", start, n, err)
			}
			switch r.Rcode {
			case dns.RcodeNameError:
			case dns.RcodeSuccess:
				if hasCNAME(r.Answer, n) {
					break // a CNAME cannot sit at an apex: go up
				}
				for _, rr := range r.Answer {
					if soa, ok := rr.(*dns.SOA); ok && strings.EqualFold(soa.Hdr.Name, n) {
						ttl := time.Duration(soa.Hdr.Ttl) * time.Second
						if n != start {
							c.cache.set("cut:"+n, n, min(max(ttl, minCacheTTL), maxCacheTTL))
						}
						return n, ttl, nil
					}
				}
			default:
				return nil, 0, fmt.Errorf("find zone of %s: SOA %s at resolver %s: %s", start, n, srv, dns.RcodeToString[r.Rcode])
			}
			if n == "." {
				return nil, 0, fmt.Errorf("find zone of %s: no SOA found up to the root", start)
			}
		}
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// zoneData looks up the NS set of zone and every address of every NS host.
func (c *Checker) zoneData(ctx context.Context, zone string) (*zoneInfo, error) {
	v, err := c.cache.get(ctx, "zone:"+zone, func() (any, time.Duration, error) {
		r, srv, err := c.resolve(ctx, zone, dns.TypeNS)
		if err != nil {
			return nil, 0, fmt.Errorf("NS %s: %w", zone, err)
		}
		if r.Rcode != dns.RcodeSuccess {
			return nil, 0, fmt.Errorf("NS %s at resolver %s: %s", zone, srv, dns.RcodeToString[r.Rcode])
		}
		zi := &zoneInfo{Zone: zone, ttl: maxCacheTTL}
		for _, rr := range r.Answer {
			if ns, ok := rr.(*dns.NS); ok && strings.EqualFold(ns.Hdr.Name, zone) {
				zi.NS = append(zi.NS, dns.CanonicalName(ns.Ns))
				zi.ttl = min(zi.ttl, time.Duration(ns.Hdr.Ttl)*time.Second)
			}
		}
		if len(zi.NS) == 0 {
			return nil, 0, fmt.Errorf("NS %s at resolver %s: empty NS set", zone, srv)
		}
		sort.Strings(zi.NS)
		var (
			mu   sync.Mutex
			wg   sync.WaitGroup
			errs []error
		)
		for _, host := range zi.NS {
			for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
				wg.Go(func() {
					addrs, ttl, err := c.hostAddrs(ctx, host, qt)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err)
						return
					}
					for _, a := range addrs {
						zi.Servers = append(zi.Servers, server{Host: host, Addr: a})
					}
					if len(addrs) > 0 {
						zi.ttl = min(zi.ttl, ttl)
					}
				})
			}
		}
		wg.Wait()
		sort.Slice(zi.Servers, func(i, j int) bool {
			a, b := zi.Servers[i], zi.Servers[j]
			if a.Host != b.Host {
				return a.Host < b.Host
			}
			return a.Addr < b.Addr
		})
		for _, host := range zi.NS {
			found := false
			for _, s := range zi.Servers {
				found = found || s.Host == host
			}
			if !found {
				zi.Unresolved = append(zi.Unresolved, host)
			}
		}
		if len(zi.Servers) == 0 {
			return nil, 0, fmt.Errorf("zone %s: no address for any NS (%s): %w", zone, strings.Join(zi.NS, ", "), errors.Join(errs...))
		}
		return zi, zi.ttl, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*zoneInfo), nil
}

// hostAddrs returns the A or AAAA addresses of host as "ip:53".
func (c *Checker) hostAddrs(ctx context.Context, host string, qtype uint16) ([]string, time.Duration, error) {
	r, srv, err := c.resolve(ctx, host, qtype)
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: %w", dns.TypeToString[qtype], host, err)
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return nil, 0, fmt.Errorf("%s %s at resolver %s: %s", dns.TypeToString[qtype], host, srv, dns.RcodeToString[r.Rcode])
	}
	var out []string
	ttl := maxCacheTTL
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String()+":53")
			ttl = min(ttl, time.Duration(rr.Hdr.Ttl)*time.Second)
		case *dns.AAAA:
			out = append(out, "["+rr.AAAA.String()+"]:53")
			ttl = min(ttl, time.Duration(rr.Hdr.Ttl)*time.Second)
		}
	}
	return out, ttl, nil
}

// probeCut asks zi's servers (RD=0) for the SOA of name and returns the zone
// cut that answer reveals: a referral names a delegated child, an SOA at
// name makes name an apex, anything else keeps zi.Zone.
func (c *Checker) probeCut(ctx context.Context, name string, zi *zoneInfo) string {
	for _, s := range zi.Servers {
		ex := c.exchange(ctx, s.Addr, newQuestion(name, dns.TypeSOA, false))
		c.stats.discovery.Add(int64(ex.queries))
		if ex.err != nil || (ex.msg.Rcode != dns.RcodeSuccess && ex.msg.Rcode != dns.RcodeNameError) {
			continue
		}
		return cutFromAnswer(ex.msg, name, zi.Zone)
	}
	return zi.Zone
}

// cutFromAnswer reads the zone cut of name from an authoritative server's
// answer to an SOA query for name.
func cutFromAnswer(r *dns.Msg, name, zone string) string {
	if r.Authoritative {
		for _, rr := range r.Answer {
			if soa, ok := rr.(*dns.SOA); ok && strings.EqualFold(soa.Hdr.Name, name) {
				return dns.CanonicalName(name)
			}
		}
		for _, rr := range r.Ns {
			if soa, ok := rr.(*dns.SOA); ok && dns.IsSubDomain(soa.Hdr.Name, name) {
				return dns.CanonicalName(soa.Hdr.Name)
			}
		}
		return zone
	}
	for _, rr := range r.Ns {
		if ns, ok := rr.(*dns.NS); ok {
			d := dns.CanonicalName(ns.Hdr.Name)
			if d != zone && dns.IsSubDomain(zone, d) && dns.IsSubDomain(d, name) {
				return d
			}
		}
	}
	return zone
}

// overrideZone finds the zone of name by asking the override servers
// directly, walking up from name: an answer that is a CNAME (a CNAME cannot
// sit at a zone apex) or carries no SOA moves one label up. When none of
// them answers usefully the override's own zone is used (it cannot be "."
// then).
func (c *Checker) overrideZone(ctx context.Context, name string, ov override) (*zoneInfo, error) {
	zi := &zoneInfo{Zone: ov.zone, Override: true, ttl: time.Minute}
	for _, a := range ov.addrs {
		zi.Servers = append(zi.Servers, server{Addr: a})
	}
	var last string
	for q := name; dns.IsSubDomain(ov.zone, q); {
		for _, a := range ov.addrs {
			ex := c.exchange(ctx, a, newQuestion(q, dns.TypeSOA, false))
			c.stats.discovery.Add(int64(ex.queries))
			switch {
			case ex.err != nil:
				last = fmt.Sprintf("%s: %v", a, ex.err)
				continue
			case ex.msg.Rcode != dns.RcodeSuccess && ex.msg.Rcode != dns.RcodeNameError:
				last = fmt.Sprintf("%s: %s", a, dns.RcodeToString[ex.msg.Rcode])
				continue
			}
			if cut := cutFromAnswer(ex.msg, q, ""); cut != "" {
				zi.Zone = cut
				return zi, nil
			}
			last = fmt.Sprintf("%s: no SOA for %s", a, q)
			break // the servers agree on the data; go up a label
		}
		if q == "." || ctx.Err() != nil {
			break
		}
		off, end := dns.NextLabel(q, 0)
		if end {
			q = "."
		} else {
			q = q[off:]
		}
	}
	if ov.zone == "." {
		return nil, fmt.Errorf("find zone of %s at override servers %s: no SOA in the answers (last: %s)", name, strings.Join(ov.addrs, ", "), last)
	}
	return zi, nil
}

// resolve asks the resolvers in order (RD=1) and returns the first answer
// with rcode NOERROR or NXDOMAIN, else the last answer received, naming the
// resolver that gave it.
func (c *Checker) resolve(ctx context.Context, name string, qtype uint16) (*dns.Msg, string, error) {
	return c.resolveMsg(ctx, name, qtype, false)
}

func (c *Checker) resolveMsg(ctx context.Context, name string, qtype uint16, do bool) (*dns.Msg, string, error) {
	var (
		last    *dns.Msg
		lastSrv string
		errs    []error
	)
	for _, srv := range c.resolvers {
		m := newQuestion(name, qtype, true)
		if do {
			setDO(m)
		}
		ex := c.exchange(ctx, srv, m)
		c.stats.discovery.Add(int64(ex.queries))
		if ex.err != nil {
			errs = append(errs, fmt.Errorf("resolver %s: %w", srv, ex.err))
			continue
		}
		if ex.msg.Rcode == dns.RcodeSuccess || ex.msg.Rcode == dns.RcodeNameError {
			return ex.msg, srv, nil
		}
		last, lastSrv = ex.msg, srv
	}
	if last != nil {
		return last, lastSrv, nil
	}
	if len(errs) == 0 {
		return nil, "", errors.New("no resolvers configured")
	}
	return nil, "", errors.Join(errs...)
}

func hasCNAME(rrs []dns.RR, name string) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeCNAME && strings.EqualFold(rr.Header().Name, name) {
			return true
		}
	}
	return false
}

// parentName returns the name one label up ("." for a TLD and the root).
func parentName(name string) string {
	off, end := dns.NextLabel(name, 0)
	if end || off >= len(name) {
		return "."
	}
	return name[off:]
}
