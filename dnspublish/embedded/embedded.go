// Package embedded makes dcvd the authoritative name server of a small zone
// delegated to it (say dcv.example.net), so that DCV records can be
// published without write access to any other DNS server.
//
// Each validated domain points at the zone once, with a CNAME that never
// changes:
//
//	_acme-challenge.example.com.  CNAME  _acme-challenge.example.com.dcv.example.net.
//	_dnsauth.example.org.         CNAME  _dnsauth.example.org.dcv.example.net.
//
// and dcvd publishes the ever-changing TXT values at the targets.
//
// Records live in the state store (dnspublish.RecordStore), not in memory:
// they survive a restart, and a hook process sharing the state database can
// publish while the daemon serves — the server reloads the store every
// reload_interval (default 250 ms) and serves what changed within a second.
// Opening the publisher binds no socket; the daemon runs Serve (the
// dnspublish.Server interface).
//
// The server answers only for its zones (everything else is REFUSED), with
// the AA bit, correct NXDOMAIN/NODATA (SOA in the authority section),
// CNAMEs for any query type, case-insensitive names echoed in the case
// asked (DNS 0x20), over UDP (truncated to the client's EDNS buffer size,
// so the client retries over TCP) and TCP.
package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
)

// Type is the value of `type` in a [[dns]] table.
const Type = "embedded"

// Defaults for options left empty.
const (
	DefaultListen         = "127.0.0.1:5353"
	DefaultReloadInterval = 250 * time.Millisecond
	nsTTL                 = 3600
)

// Options are the keys of a [[dns]] table with type = "embedded".
type Options struct {
	// Listen is the "host:port" served over both UDP and TCP
	// (default "127.0.0.1:5353"; in production usually ":53").
	Listen string `toml:"listen"`
	// NS are the host names of the zone's name servers, as delegated in the
	// parent zone. Default: "ns.<zone>" for each zone.
	NS []string `toml:"ns"`
	// Addresses are served as A/AAAA records for NS host names inside the
	// zone (the same addresses as the glue in the parent). Default: none.
	Addresses []string `toml:"addresses"`
	// Hostmaster is the SOA contact, "hostmaster@example.net" or
	// "hostmaster.example.net". Default: "hostmaster.<zone>".
	Hostmaster string `toml:"hostmaster"`
	// TTL of the DCV records, the SOA and negative answers (default 60).
	TTL uint32 `toml:"ttl"`
	// ReloadInterval is how often the store is re-read for records written
	// by other processes (default "250ms").
	ReloadInterval dnspublish.Duration `toml:"reload_interval"`
	// ResponseRate limits UDP answers per second per source prefix (/24,
	// /56); see limits.go. 0 means DefaultResponseRate (200), -1 turns the
	// limit off.
	ResponseRate int `toml:"response_rate"`
}

// Spec describes the embedded backend to the configuration loader.
func Spec() dnspublish.Spec { return dnspublish.SpecFor(Type, New) }

// Publisher stores records in the RecordStore and serves them.
type Publisher struct {
	name   string
	zones  []zoneConfig // longest first
	ttl    uint32
	listen string
	every  time.Duration
	store  dnspublish.RecordStore
	log    *slog.Logger
	rrl    *rrl // nil: unlimited

	reloadMu sync.Mutex // one reload at a time: serials increase in order
	snap     atomic.Pointer[snapshot]
	addr     atomic.Pointer[string] // bound address while serving
}

var (
	_ dnspublish.Publisher = (*Publisher)(nil)
	_ dnspublish.Server    = (*Publisher)(nil)
)

// zoneConfig is the fixed part of a zone: apex, SOA and NS records.
type zoneConfig struct {
	apex string
	soa  dns.SOA // Serial filled in per snapshot
	ns   []dns.RR
	glue map[string][]dns.RR // in-zone NS host name → A/AAAA
}

// New validates o and returns a Publisher. It binds no socket.
func New(base dnspublish.Base, o Options) (*Publisher, error) {
	fail := func(format string, a ...any) (*Publisher, error) {
		return nil, fmt.Errorf("embedded %q: %s", base.Name, fmt.Sprintf(format, a...))
	}
	if base.State == nil {
		return fail("no state store to keep records in")
	}
	p := &Publisher{
		name:   base.Name,
		ttl:    o.TTL,
		listen: o.Listen,
		every:  o.ReloadInterval.Or(DefaultReloadInterval),
		store:  base.State,
		log:    base.Logger,
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.ttl == 0 {
		p.ttl = dnspublish.DefaultTTL
	}
	switch {
	case o.ResponseRate == 0:
		p.rrl = newRRL(DefaultResponseRate)
	case o.ResponseRate > 0:
		p.rrl = newRRL(o.ResponseRate)
	case o.ResponseRate < -1:
		return fail("response_rate %d: want a number of answers per second, 0 for the default or -1 for none", o.ResponseRate)
	}
	if p.listen == "" {
		p.listen = DefaultListen
	}
	if _, _, err := net.SplitHostPort(p.listen); err != nil {
		return fail("listen %q: want \"host:port\"", p.listen)
	}
	if len(base.Zones) == 0 {
		return fail("no zones configured (the zone delegated to dcvd, e.g. dcv.example.net)")
	}
	var addrs []netip.Addr
	for _, a := range o.Addresses {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return fail("addresses: %q is not an IP address", a)
		}
		addrs = append(addrs, ip.Unmap())
	}
	for _, n := range o.NS {
		if _, ok := dns.IsDomainName(n); !ok || n == "" {
			return fail("ns: %q is not a host name", n)
		}
	}
	for _, z := range base.Zones {
		if _, ok := dns.IsDomainName(z); !ok || z == "" || z == "." {
			return fail("zone %q is not a domain name", z)
		}
		zc, err := newZoneConfig(dns.CanonicalName(z), o, p.ttl, addrs)
		if err != nil {
			return fail("zone %s: %v", z, err)
		}
		p.zones = append(p.zones, zc)
	}
	sortZones(p.zones)
	for i := 1; i < len(p.zones); i++ {
		if p.zones[i].apex == p.zones[i-1].apex {
			return fail("zone %s listed twice", p.zones[i].apex)
		}
	}
	return p, nil
}

func newZoneConfig(apex string, o Options, ttl uint32, addrs []netip.Addr) (zoneConfig, error) {
	zc := zoneConfig{apex: apex, glue: map[string][]dns.RR{}}
	names := o.NS
	if len(names) == 0 {
		names = []string{"ns." + apex}
	}
	for _, n := range names {
		n = dns.CanonicalName(n)
		zc.ns = append(zc.ns, &dns.NS{Hdr: hdr(apex, dns.TypeNS, nsTTL), Ns: n})
		if dns.IsSubDomain(apex, n) {
			for _, a := range addrs {
				if a.Is4() {
					zc.glue[n] = append(zc.glue[n], &dns.A{Hdr: hdr(n, dns.TypeA, nsTTL), A: a.AsSlice()})
				} else {
					zc.glue[n] = append(zc.glue[n], &dns.AAAA{Hdr: hdr(n, dns.TypeAAAA, nsTTL), AAAA: a.AsSlice()})
				}
			}
		}
	}
	mbox, err := mailbox(o.Hostmaster, apex)
	if err != nil {
		return zc, err
	}
	zc.soa = dns.SOA{
		Hdr:     hdr(apex, dns.TypeSOA, ttl),
		Ns:      zc.ns[0].(*dns.NS).Ns,
		Mbox:    mbox,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		// The negative-caching TTL: short, so that a resolver that asked
		// before the record was published asks again soon.
		Minttl: ttl,
	}
	return zc, nil
}

// mailbox turns "hostmaster@example.net" or "hostmaster.example.net" into
// the SOA RNAME form "hostmaster.example.net.".
func mailbox(s, apex string) (string, error) {
	if s == "" {
		return "hostmaster." + apex, nil
	}
	if local, domain, ok := strings.Cut(s, "@"); ok {
		s = strings.ReplaceAll(local, ".", `\.`) + "." + domain
	}
	if _, ok := dns.IsDomainName(s); !ok {
		return "", fmt.Errorf("hostmaster %q is not a mail address", s)
	}
	return dns.CanonicalName(s), nil
}

func hdr(name string, t uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
}

// Name is the configured backend name.
func (p *Publisher) Name() string { return p.name }

// Zones are the zones this server is authoritative for.
func (p *Publisher) Zones() []string {
	out := make([]string, len(p.zones))
	for i, z := range p.zones {
		out[i] = z.apex
	}
	return out
}

// Add stores the records. While this publisher is serving (Serve runs in
// this process), the change is live when Add returns and Result.Serial is
// the serial that serves it; otherwise the serial is unknown (zero) and the
// serving process picks the change up within its reload interval.
func (p *Publisher) Add(ctx context.Context, zone string, recs []dnspublish.Record) (dnspublish.Result, error) {
	return p.write(ctx, zone, recs, "add", p.store.AddRecords)
}

// Remove deletes exactly these values from the store; the serial is as for Add.
func (p *Publisher) Remove(ctx context.Context, zone string, recs []dnspublish.Record) (dnspublish.Result, error) {
	return p.write(ctx, zone, recs, "remove", p.store.RemoveRecords)
}

func (p *Publisher) write(ctx context.Context, zone string, recs []dnspublish.Record, op string,
	fn func(context.Context, string, []dnspublish.Record) error) (dnspublish.Result, error) {
	zone = dns.CanonicalName(zone)
	if p.zoneOf(zone) == nil || p.zoneOf(zone).apex != zone {
		return dnspublish.Result{}, fmt.Errorf("embedded %q: %s: zone %s is not served here: %w", p.name, op, zone, dnspublish.ErrNoZone)
	}
	norm := make([]dnspublish.Record, 0, len(recs))
	for _, r := range recs {
		n, err := r.Normalize()
		if err != nil {
			return dnspublish.Result{}, fmt.Errorf("embedded %q: %s: %w", p.name, op, err)
		}
		if z := p.zoneOf(n.FQDN); z == nil || z.apex != zone {
			return dnspublish.Result{}, fmt.Errorf("embedded %q: %s: record %s is outside zone %s", p.name, op, n.FQDN, zone)
		}
		if n.Type == dnspublish.CNAME && n.FQDN == zone {
			return dnspublish.Result{}, fmt.Errorf("embedded %q: %s: a CNAME cannot be at the zone apex %s", p.name, op, zone)
		}
		norm = append(norm, n)
	}
	if len(norm) == 0 {
		return dnspublish.Result{}, nil
	}
	if op == "add" {
		have, err := p.store.Records(ctx, p.name)
		if err != nil {
			return dnspublish.Result{}, fmt.Errorf("embedded %q: %s %d records in %s: store: %w", p.name, op, len(norm), strings.TrimSuffix(zone, "."), err)
		}
		if err := p.cnameGuard(zone, norm, have); err != nil {
			return dnspublish.Result{}, fmt.Errorf("embedded %q: %s: %w", p.name, op, err)
		}
	}
	if err := fn(ctx, p.name, norm); err != nil {
		return dnspublish.Result{}, fmt.Errorf("embedded %q: %s %d records in %s: store: %w", p.name, op, len(norm), strings.TrimSuffix(zone, "."), err)
	}
	if p.addr.Load() == nil {
		// Not serving here (a hook process): the daemon serving the store
		// picks the change up within a reload interval and gives it its own
		// serial, which this process cannot know.
		p.log.Debug("embedded "+op, "backend", p.name, "zone", zone, "records", len(norm), "serial", "unknown")
		return dnspublish.Result{}, nil
	}
	snap, err := p.reload(ctx)
	if err != nil {
		// Stored; the serving loop will pick it up. The serial is unknown.
		p.log.Warn("embedded: stored, but could not reload", "backend", p.name, "err", err)
		return dnspublish.Result{}, nil
	}
	p.log.Debug("embedded "+op, "backend", p.name, "zone", zone, "records", len(norm), "serial", snap.serial)
	return dnspublish.Result{Serial: snap.serial}, nil
}

// zoneOf returns the zone holding name (longest match), or nil.
func (p *Publisher) zoneOf(name string) *zoneConfig {
	for i := range p.zones {
		if dns.IsSubDomain(p.zones[i].apex, name) {
			return &p.zones[i]
		}
	}
	return nil
}

// cnameGuard refuses additions that would put a TXT and a CNAME at one
// owner name, or a second CNAME target there (DNS allows no other data
// next to a CNAME; the server would silently hide one of them). It checks
// recs against each other, against what the store holds, and against the
// glue names of the zone.
func (p *Publisher) cnameGuard(zone string, recs, have []dnspublish.Record) error {
	// at maps an owner name to "CNAME target" or "TXT".
	at := map[string]string{}
	for name := range p.zoneOf(zone).glue {
		at[name] = "address records"
	}
	note := func(r dnspublish.Record) string {
		if r.Type == dnspublish.CNAME {
			return "a CNAME to " + strings.TrimSuffix(r.Value, ".")
		}
		return "TXT records"
	}
	for _, r := range have {
		if n, err := r.Normalize(); err == nil && dns.IsSubDomain(zone, n.FQDN) {
			if _, ok := at[n.FQDN]; !ok || n.Type == dnspublish.CNAME {
				at[n.FQDN] = note(n)
			}
		}
	}
	for _, r := range recs {
		cur, ok := at[r.FQDN]
		switch {
		case !ok || cur == note(r):
			at[r.FQDN] = note(r)
		default:
			return fmt.Errorf("%s already holds %s, cannot add %s: a CNAME shares its name with nothing",
				strings.TrimSuffix(r.FQDN, "."), cur, note(r))
		}
	}
	return nil
}
