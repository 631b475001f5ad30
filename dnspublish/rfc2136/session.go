package rfc2136

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// session is one connection to the server, used for every message of one
// Add, Remove or Present call, then kept for the next call (pool.go).
type session struct {
	p      *Publisher
	client *dns.Client
	conn   *dns.Conn
	used   time.Time // when it went back to the pool
	reused bool      // taken from the pool, no message sent yet
	broken bool      // a transport error: not reused
}

// dial returns a pooled connection, or a new one.
func (p *Publisher) dial(ctx context.Context) (*session, error) {
	if p.net == "tcp" {
		if s := p.pool.get(); s != nil {
			s.reused = true
			return s, nil
		}
	}
	return p.dialNew(ctx)
}

// dialNew opens a new connection.
func (p *Publisher) dialNew(ctx context.Context) (*session, error) {
	c := &dns.Client{Net: p.net, Timeout: p.timeout, TsigSecret: p.key.secrets()}
	if p.net == "udp" {
		c.UDPSize = dns.DefaultMsgSize
	}
	conn, err := c.DialContext(ctx, p.server)
	if err != nil {
		return nil, p.transportError(ctx, err)
	}
	return &session{p: p, client: c, conn: conn}, nil
}

// close returns a healthy TCP connection to the pool.
func (s *session) close() {
	if s.broken || s.p.net != "tcp" {
		s.conn.Close()
		return
	}
	s.reused = false
	s.p.pool.put(s)
}

// exchange signs m, sends it and returns the response, or an error naming
// the cause: ErrUnreachable, an *RcodeError, or a bad response signature.
// The first message on a connection taken from the pool is sent again on a
// new connection when the server had closed the old one (closedByPeer).
func (s *session) exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	reused := s.reused
	s.reused = false
	r, err := s.send(ctx, m)
	if err != nil && reused && closedByPeer(err) && ctx.Err() == nil {
		s.conn.Close()
		fresh, derr := s.p.dialNew(ctx)
		if derr != nil {
			s.broken = true
			return nil, derr
		}
		s.client, s.conn = fresh.client, fresh.conn
		if s.p.key != nil && len(m.Extra) > 0 {
			m.Extra = m.Extra[:len(m.Extra)-1] // the TSIG record of the first try
		}
		r, err = s.send(ctx, m)
	}
	if err != nil && r == nil {
		s.broken = true
	}
	return s.check(ctx, r, err)
}

func (s *session) send(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	s.p.key.sign(m)
	// A fresh dns.Conn over the same connection per message: dns.Conn
	// carries the previous request's MAC into the next signature (meant for
	// zone transfers), which servers reject as BADSIG.
	co := &dns.Conn{Conn: s.conn.Conn, UDPSize: s.conn.UDPSize}
	r, _, err := s.client.ExchangeWithConnContext(ctx, m, co)
	return r, err
}

// queryAll sends the queries one after the other on the session's
// connection. (Pipelining them — all written before any answer is read —
// measured slower against BIND, see the README.)
func (s *session) queryAll(ctx context.Context, qs []*dns.Msg) ([]*dns.Msg, []error) {
	out, errs := make([]*dns.Msg, len(qs)), make([]error, len(qs))
	for i, q := range qs {
		out[i], errs[i] = s.exchange(ctx, q)
		if errors.Is(errs[i], ErrUnreachable) {
			break // the connection is gone; the caller reports this error
		}
	}
	return out, errs
}

// check classifies a response and the error that came with it.
func (s *session) check(ctx context.Context, r *dns.Msg, err error) (*dns.Msg, error) {
	if r != nil {
		if t := r.IsTsig(); t != nil && t.Error != dns.RcodeSuccess {
			return r, &RcodeError{Rcode: r.Rcode, TSIG: int(t.Error), Key: strings.TrimSuffix(s.p.key.name, ".")}
		}
		if r.Rcode != dns.RcodeSuccess {
			return r, &RcodeError{Rcode: r.Rcode}
		}
	}
	if err != nil {
		if r != nil && (errors.Is(err, dns.ErrSig) || errors.Is(err, dns.ErrAuth) || errors.Is(err, dns.ErrTime)) {
			return r, fmt.Errorf("the response's TSIG signature does not verify: %w", err)
		}
		return nil, s.p.transportError(ctx, err)
	}
	if s.p.key != nil && r.IsTsig() == nil {
		return r, fmt.Errorf("the response is not signed although the request was (key %q)", strings.TrimSuffix(s.p.key.name, "."))
	}
	return r, nil
}

// transportError words a dial, read or write failure.
func (p *Publisher) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ErrUnreachable, ctx.Err())
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: no answer within %s", ErrUnreachable, p.timeout)
	}
	return fmt.Errorf("%w: %w", ErrUnreachable, err)
}

// wrap prefixes a cause with the backend, what was done, the zone and the
// server: `rfc2136 "bind": update example.com at 127.0.0.1:5353: REFUSED`.
func (p *Publisher) wrap(op, zone string, err error) error {
	return fmt.Errorf("rfc2136 %q: %s %s at %s: %w", p.name, op, strings.TrimSuffix(zone, "."), p.server, err)
}
