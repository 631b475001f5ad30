package verify

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/miekg/dns"
)

// ednsSize is the EDNS0 UDP payload size advertised (the DNS flag day 2020
// value: no IP fragmentation).
const ednsSize = 1232

// tcpOnlyTTL is how long an address whose UDP timed out is asked over TCP
// directly.
const tcpOnlyTTL = 5 * time.Minute

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
			return res
		case err == nil:
			res.note = "truncated over UDP; retried over TCP"
		case isTimeout(err) && ctx.Err() == nil:
			res.note = "no UDP answer within " + c.opts.QueryTimeout.String() + "; retried over TCP"
			c.tcpOnly.set(addr, true, tcpOnlyTTL)
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
	r, _, err := cl.ExchangeContext(ctx, m, addr)
	return r, err
}

func isTimeout(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}
