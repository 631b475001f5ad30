package verify

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// ednsSize is the EDNS0 UDP payload size advertised (the DNS flag day 2020
// value: no IP fragmentation).
const ednsSize = 1232

// tcpOnlyTTL is how long an address whose UDP timed out is asked over TCP
// directly.
const tcpOnlyTTL = 5 * time.Minute

// udpRecent: a UDP timeout from an address that answered over UDP this
// recently is a stall (a server busy with a burst of updates, a lost
// datagram), not UDP being blocked: that query is retried over TCP, but
// the address is not switched to TCP for tcpOnlyTTL. Switching it would
// send every later query over a new TCP connection, which a busy server
// (BIND's listen queue holds 10) answers far slower.
const udpRecent = 30 * time.Second

// noteUDP records that addr just answered over UDP.
func (c *Checker) noteUDP(addr string) {
	v, ok := c.udpOK.Load(addr)
	if !ok {
		v, _ = c.udpOK.LoadOrStore(addr, new(atomic.Int64))
	}
	v.(*atomic.Int64).Store(time.Now().UnixNano())
}

// answeredUDPSince reports whether addr answered a UDP query after t.
func (c *Checker) answeredUDPSince(addr string, t time.Time) bool {
	v, ok := c.udpOK.Load(addr)
	return ok && v.(*atomic.Int64).Load() > t.UnixNano()
}

// exchanged is the outcome of one question to one server.
type exchanged struct {
	msg       *dns.Msg
	rtt       time.Duration
	transport string // "udp" or "tcp"
	note      string // why TCP was used
	queries   int    // messages sent (a TCP retry is a second one)
	err       error
}

// newQuestion returns a query for name/qtype with EDNS0; rd sets the
// recursion-desired bit (false for authoritative servers).
func newQuestion(name string, qtype uint16, rd bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = rd
	m.SetEdns0(ednsSize, false)
	return m
}

// setDO asks for DNSSEC records (DO bit) and, for resolvers, unvalidated
// data (CD bit), so a validating resolver hands over what it would reject
// and dcvd can say why.
func setDO(m *dns.Msg) *dns.Msg {
	m.IsEdns0().SetDo()
	m.CheckingDisabled = m.RecursionDesired
	return m
}

// exchange asks addr over UDP and falls back to TCP when the answer is
// truncated or UDP times out.
func (c *Checker) exchange(ctx context.Context, addr string, m *dns.Msg) exchanged {
	select {
	case c.inflight <- struct{}{}:
	case <-ctx.Done():
		return exchanged{err: ctx.Err()}
	}
	defer func() { <-c.inflight }()

	var res exchanged
	if c.noIPv6 && isIPv6Addr(addr) {
		res.err, res.transport = errNoIPv6, "udp"
		return res
	}
	start := time.Now()
	udpTimedOut := false
	if _, tcp := c.tcpOnly.peek(addr); tcp {
		res.note = "no UDP answer within " + c.opts.QueryTimeout.String() + " earlier; asked over TCP directly"
	} else {
		r, err := c.exchangeNet(ctx, "udp", addr, m)
		res.queries++
		switch {
		case err == nil && !r.Truncated:
			res.msg, res.transport, res.rtt = r, "udp", time.Since(start)
			c.noteUDP(addr)
			return res
		case err == nil:
			res.note = "truncated over UDP; retried over TCP"
		case isTimeout(err) && ctx.Err() == nil:
			res.note = "no UDP answer within " + c.opts.QueryTimeout.String() + "; retried over TCP"
			if !c.answeredUDPSince(addr, start.Add(-udpRecent)) {
				c.tcpOnly.set(addr, true, tcpOnlyTTL)
			}
			udpTimedOut = true
		default:
			res.err, res.transport, res.rtt = err, "udp", time.Since(start)
			return res
		}
	}
	tcpStart := time.Now()
	r, err := c.exchangeNet(ctx, "tcp", addr, m)
	res.queries++
	res.msg, res.err, res.transport, res.rtt = r, err, "tcp", time.Since(tcpStart)
	if udpTimedOut {
		res.rtt = time.Since(start) // include the UDP wait: that is what it cost
	}
	return res
}

func (c *Checker) exchangeNet(ctx context.Context, network, addr string, m *dns.Msg) (*dns.Msg, error) {
	cl := &dns.Client{Net: network, Timeout: c.opts.QueryTimeout, UDPSize: ednsSize}
	ctx, cancel := context.WithTimeout(ctx, c.opts.QueryTimeout)
	defer cancel()
	if network != "udp" {
		r, _, err := cl.ExchangeContext(ctx, m, addr)
		return r, err
	}
	// UDP sockets are reused: a query takes a connected socket of addr
	// from the pool (or opens one), and gives it back once answered. A
	// socket whose query failed is closed, so no late answer is ever read
	// as the next query's.
	co := c.udp.get(addr)
	if co == nil {
		var err error
		if co, err = cl.DialContext(ctx, addr); err != nil {
			return nil, err
		}
	}
	r, _, err := cl.ExchangeWithConnContext(ctx, m, co)
	if err != nil {
		co.Close()
		return r, err
	}
	c.udp.put(addr, co)
	return r, nil
}

// udpPool keeps connected UDP sockets per address between queries: a
// socket per query costs a socket, a connect and a close each time, and
// thousands of names mean thousands of queries to the same few servers.
type udpPool struct {
	mu   sync.Mutex
	idle map[string][]*dns.Conn
}

// udpPoolMax bounds the idle sockets kept per address.
const udpPoolMax = 64

func (p *udpPool) get(addr string) *dns.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.idle[addr]
	if len(list) == 0 {
		return nil
	}
	co := list[len(list)-1]
	p.idle[addr] = list[:len(list)-1]
	return co
}

func (p *udpPool) put(addr string, co *dns.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.idle == nil {
		p.idle = map[string][]*dns.Conn{}
	}
	if len(p.idle[addr]) >= udpPoolMax {
		co.Close()
		return
	}
	p.idle[addr] = append(p.idle[addr], co)
}

func isTimeout(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}
