package rfc2136

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// Connections are kept open between calls: a step writing to a thousand
// zones of one server would otherwise open two TCP connections per zone (a
// probe and an update), and a server with a short listen queue (BIND's
// holds 10) drops the handshakes of a burst, each costing a one-second
// retransmission. Idle connections are closed after idleMax, well within
// the idle timeouts of BIND (30 s), Knot (10 s) and PowerDNS.
const (
	poolMax = 16
	idleMax = 4 * time.Second
)

type pool struct {
	mu    sync.Mutex
	idle  []*session
	timer *time.Timer
}

// get returns an idle connection that is not stale, or nil.
func (p *pool) get() *session {
	p.mu.Lock()
	defer p.mu.Unlock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		s := p.idle[n-1]
		p.idle = p.idle[:n-1]
		if time.Since(s.used) < idleMax {
			return s
		}
		s.conn.Close()
	}
	return nil
}

// put keeps s for the next call, or closes it when the pool is full.
func (p *pool) put(s *session) {
	s.used = time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) >= poolMax {
		s.conn.Close()
		return
	}
	p.idle = append(p.idle, s)
	if p.timer == nil {
		p.timer = time.AfterFunc(idleMax, p.sweep)
	}
}

// sweep closes the connections idle for idleMax.
func (p *pool) sweep() {
	p.mu.Lock()
	defer p.mu.Unlock()
	kept := p.idle[:0]
	for _, s := range p.idle {
		if time.Since(s.used) < idleMax {
			kept = append(kept, s)
		} else {
			s.conn.Close()
		}
	}
	clear(p.idle[len(kept):])
	p.idle = kept
	if len(p.idle) > 0 {
		p.timer.Reset(idleMax)
	} else {
		p.timer = nil
	}
}

// closedByPeer reports whether err means the server had closed the
// connection before the message was read: a message sent on a reused
// connection that fails this way was never acted on, and is sent again on
// a new one.
func closedByPeer(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return true
	}
	return false
}
