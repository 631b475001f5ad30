package verify

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Options configures a Checker. The zero value checks every authoritative
// server of the zone, found through the resolvers in /etc/resolv.conf.
type Options struct {
	// Mode is "authoritative" (default) or "wait": a fixed delay of Wait
	// without any query, for split-horizon or firewalled setups.
	Mode string
	// Wait is the delay of mode "wait".
	Wait time.Duration
	// Require is "all" (default): every authoritative address must serve
	// the value; or "quorum": at least Quorum addresses must.
	Require string
	Quorum  int
	// Timeout bounds Wait, WaitAll and WaitGone (default 10m).
	Timeout time.Duration
	// PollMin is the first interval between polls (default 50ms); it doubles
	// up to PollMax (default 5s).
	PollMin, PollMax time.Duration
	// QueryTimeout bounds one query (default 2s). A UDP query that times out
	// is retried over TCP with the same limit.
	QueryTimeout time.Duration
	// Resolvers ("host:port", port 53 when left out) are the recursive
	// resolvers used to find zone cuts, NS sets and NS addresses. Default:
	// the nameservers of /etc/resolv.conf.
	Resolvers []string
	// Recursive resolvers, when set, must also return the value; they are
	// asked only after the authoritative check passed.
	Recursive []string
	// Overrides maps a zone (longest suffix of the record name wins; "."
	// matches every name) to the "addr:port" servers to ask instead of the
	// zone's NS addresses: hidden primaries, blocked port 53. The resolvers
	// are then not used for that name at all.
	Overrides map[string][]string
	// Concurrency bounds how many records WaitAll checks at the same time
	// (default 256); MaxInFlight bounds the queries in flight (default 256).
	Concurrency int
	MaxInFlight int
	Logger      *slog.Logger

	// SkipDNSSEC turns the DNSSEC checks off. By default, in a zone whose
	// parent holds a DS set, every serving answer must carry an RRSIG that
	// validates with the zone's DNSKEY set (itself signed by a key matching
	// the DS) inside its validity window; a server whose answer does not is
	// "bogus": not visible yet.
	SkipDNSSEC bool
	// OptionalIPv6 (config require_ipv6 = false) leaves IPv6 addresses this
	// machine cannot reach out of the verdict; they are still reported.
	// Default: such an address counts as not serving.
	OptionalIPv6 bool
	// Perspectives are further vantage points (a recursive resolver address
	// or a DoH URL) asked after the authoritative check passed; at least
	// PerspectiveQuorum of them must serve the value (default: the CAs'
	// multi-perspective rule, n−1 of n, n−2 of 6 or more).
	Perspectives      []Perspective
	PerspectiveQuorum int
	// HTTPClient is used for DoH perspectives (default: a client with
	// QueryTimeout).
	HTTPClient *http.Client
}

// Perspective is one extra vantage point: Addr ("host:port" of a recursive
// resolver) or URL (an RFC 8484 DoH endpoint, POST application/dns-message).
type Perspective struct {
	Name string
	Addr string
	URL  string
}

// Defaults.
const (
	DefaultTimeout      = 10 * time.Minute
	DefaultPollMin      = 50 * time.Millisecond
	DefaultPollMax      = 5 * time.Second
	DefaultQueryTimeout = 2 * time.Second
	// MaxHops is the longest CNAME chain followed.
	MaxHops = 16
)

// Checker checks DCV records. It is safe for concurrent use; zone cuts, NS
// sets and addresses are cached inside it.
type Checker struct {
	opts      Options
	log       *slog.Logger
	resolvers []string
	resErr    error
	overrides map[string]override // by canonical zone
	cache     *cache
	inflight  chan struct{}
	tcpOnly   *cache   // addr -> true: UDP timed out recently
	udpOK     sync.Map // addr -> *atomic.Int64: when it last answered over UDP (Unix ns)
	udp       udpPool  // idle UDP sockets per address (exchange.go)
	stats     counters
	noIPv6    bool        // tests: behave as if this machine had no IPv6
	v6warned  atomic.Bool // "IPv6 unreachable" logged once per Checker
	doh       *http.Client
}

type override struct {
	zone  string
	addrs []string
}

type counters struct {
	authoritative, discovery, recursive atomic.Int64
}

// Stats counts the queries a Checker sent since New.
type Stats struct {
	Authoritative int64 // to authoritative servers while checking records
	Discovery     int64 // zone cuts, NS sets, addresses, delegation probes
	Recursive     int64 // to Options.Recursive
}

// Stats returns the query counters.
func (c *Checker) Stats() Stats {
	return Stats{c.stats.authoritative.Load(), c.stats.discovery.Load(), c.stats.recursive.Load()}
}

// New validates opts, fills in defaults and returns a Checker. It does no
// network I/O.
func New(opts Options) (*Checker, error) {
	switch opts.Mode {
	case "", "authoritative":
		opts.Mode = "authoritative"
	case "wait":
		if opts.Wait <= 0 {
			return nil, fmt.Errorf("verify: mode \"wait\" needs a positive wait duration")
		}
	default:
		return nil, fmt.Errorf("verify: mode %q: want \"authoritative\" or \"wait\"", opts.Mode)
	}
	switch opts.Require {
	case "", "all":
		opts.Require = "all"
	case "quorum":
		if opts.Quorum < 1 {
			return nil, fmt.Errorf("verify: require \"quorum\" needs quorum >= 1, got %d", opts.Quorum)
		}
	default:
		return nil, fmt.Errorf("verify: require %q: want \"all\" or \"quorum\"", opts.Require)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.PollMin <= 0 {
		opts.PollMin = DefaultPollMin
	}
	if opts.PollMax <= 0 {
		opts.PollMax = DefaultPollMax
	}
	if opts.PollMax < opts.PollMin {
		opts.PollMax = opts.PollMin
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = DefaultQueryTimeout
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 256
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 256
	}
	opts.Perspectives = append([]Perspective(nil), opts.Perspectives...)
	c := &Checker{opts: opts, log: opts.Logger, cache: newCache(), tcpOnly: newCache()}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.inflight = make(chan struct{}, opts.MaxInFlight)
	var err error
	if c.resolvers, err = hostPorts("resolver", opts.Resolvers); err != nil {
		return nil, err
	}
	if opts.Recursive, err = hostPorts("recursive resolver", opts.Recursive); err != nil {
		return nil, err
	}
	c.opts.Recursive = opts.Recursive
	for i, p := range opts.Perspectives {
		switch {
		case (p.Addr == "") == (p.URL == ""):
			return nil, fmt.Errorf("verify: perspective %d (%q): set exactly one of address and url", i+1, p.Name)
		case p.URL != "":
			u, err := url.Parse(p.URL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return nil, fmt.Errorf("verify: perspective %d (%q): url %q: want an https:// DoH URL", i+1, p.Name, p.URL)
			}
		default:
			hp, err := hostPorts("perspective", []string{p.Addr})
			if err != nil {
				return nil, err
			}
			c.opts.Perspectives[i].Addr = hp[0]
		}
		if p.Name == "" {
			c.opts.Perspectives[i].Name = p.Addr + p.URL
		}
	}
	if n := len(opts.Perspectives); opts.PerspectiveQuorum > n {
		return nil, fmt.Errorf("verify: perspective_quorum %d is more than the %d perspectives", opts.PerspectiveQuorum, n)
	}
	c.doh = opts.HTTPClient
	if c.doh == nil {
		c.doh = &http.Client{Timeout: opts.QueryTimeout}
	}
	for zone, addrs := range opts.Overrides {
		if _, ok := dns.IsDomainName(zone); !ok || zone == "" {
			return nil, fmt.Errorf("verify: override zone %q is not a domain name", zone)
		}
		hp, err := hostPorts("override "+zone, addrs)
		if err != nil {
			return nil, err
		}
		if len(hp) == 0 {
			return nil, fmt.Errorf("verify: override %q lists no servers", zone)
		}
		if c.overrides == nil {
			c.overrides = map[string]override{}
		}
		z := dns.CanonicalName(zone)
		c.overrides[z] = override{zone: z, addrs: hp}
	}
	if len(c.resolvers) == 0 && opts.Mode == "authoritative" {
		cfg, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			c.resErr = fmt.Errorf("no resolvers configured and /etc/resolv.conf unreadable: %w", err)
		} else {
			for _, s := range cfg.Servers {
				c.resolvers = append(c.resolvers, net.JoinHostPort(s, cfg.Port))
			}
			if len(c.resolvers) == 0 {
				c.resErr = fmt.Errorf("no resolvers configured and none in /etc/resolv.conf")
			}
		}
	}
	return c, nil
}

// hostPorts canonicalises "host[:port]" strings, adding port 53.
func hostPorts(what string, in []string) ([]string, error) {
	var out []string
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(s); err != nil {
			if ip := net.ParseIP(strings.Trim(s, "[]")); ip != nil || !strings.Contains(s, ":") {
				s = net.JoinHostPort(strings.Trim(s, "[]"), "53")
			} else {
				return nil, fmt.Errorf("verify: %s %q: want host:port", what, s)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// overrideFor returns the override servers for name, if any.
func (c *Checker) overrideFor(name string) (override, bool) {
	if len(c.overrides) == 0 {
		return override{}, false
	}
	// The longest override zone that name is in: walk up from the name,
	// one map lookup per label (thousands of overrides stay cheap).
	name = dns.CanonicalName(name)
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		if o, ok := c.overrides[name[off:]]; ok {
			return o, true
		}
	}
	o, ok := c.overrides["."]
	return o, ok
}
