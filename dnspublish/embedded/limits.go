package embedded

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/time/rate"
)

// Amplification limits. A UDP answer goes to whatever address the query
// claims to come from, so a server that answers small queries with large
// responses is a weapon. The embedded server therefore
//   - never answers over UDP with more than MaxUDPSize bytes, whatever
//     buffer the client advertises (it advertises MaxUDPSize itself, the
//     DNS Flag Day 2020 value); longer answers are truncated with TC=1 and
//     the client asks again over TCP;
//   - answers ANY minimally (RFC 8482): one synthesised HINFO record;
//   - limits the UDP answers per source prefix (/24 for IPv4, /56 for
//     IPv6) to response_rate per second with a burst of twice that. Past
//     the limit every second answer "slips" as an empty truncated answer
//     (a real client retries over TCP, which is not limited) and the other
//     is dropped. Loopback sources are not limited (they cannot be spoofed
//     from the network).
const (
	MaxUDPSize          = 1232
	DefaultResponseRate = 200
)

// rrl is the per-prefix response rate limiter.
type rrl struct {
	rate     rate.Limit
	burst    int
	loopback bool // limit loopback sources too (tests)

	mu      sync.Mutex
	buckets map[netip.Prefix]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	slip bool
	seen time.Time
}

func newRRL(perSecond int) *rrl {
	if perSecond <= 0 {
		return nil
	}
	return &rrl{rate: rate.Limit(perSecond), burst: 2 * perSecond, buckets: map[netip.Prefix]*bucket{}}
}

// verdict for one UDP answer.
type verdict int

const (
	send verdict = iota
	slip         // send an empty answer with TC=1
	drop
)

func (l *rrl) check(addr net.Addr, now time.Time) verdict {
	if l == nil {
		return send
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return send
	}
	ip, ok := netip.AddrFromSlice(ua.IP)
	if !ok {
		return send
	}
	ip = ip.Unmap()
	if ip.IsLoopback() && !l.loopback {
		return send
	}
	bits := 24
	if ip.Is6() {
		bits = 56
	}
	pfx, _ := ip.Prefix(bits)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > time.Minute {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b := l.buckets[pfx]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[pfx] = b
	}
	b.seen = now
	if b.lim.AllowN(now, 1) {
		return send
	}
	b.slip = !b.slip
	if b.slip {
		return slip
	}
	return drop
}

// udpSize is the largest UDP answer for req: 512 without EDNS, else the
// client's buffer, never more than MaxUDPSize.
func udpSize(req *dns.Msg) int {
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		size = max(int(opt.UDPSize()), dns.MinMsgSize)
	}
	return min(size, MaxUDPSize)
}
