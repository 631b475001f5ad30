package testenv

import (
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FaultKind selects how a FaultServer misbehaves.
type FaultKind string

const (
	// FaultRefused answers every query with REFUSED.
	FaultRefused FaultKind = "refused"
	// FaultServfail answers every query with SERVFAIL.
	FaultServfail FaultKind = "servfail"
	// FaultTCPOnly holds the UDP port and never answers on it (a firewall
	// dropping UDP); over TCP it forwards to Upstream.
	FaultTCPOnly FaultKind = "tcp-only"
	// FaultTruncate answers over UDP with an empty, truncated (TC) reply;
	// over TCP it forwards to Upstream.
	FaultTruncate FaultKind = "truncate"
	// FaultDead drops UDP and accepts TCP connections without ever
	// answering: every query times out.
	FaultDead FaultKind = "dead"
)

// FaultServer is a misbehaving DNS server on addr (UDP and TCP).
type FaultServer struct {
	Addr string
	Kind FaultKind
}

// StartFaultServer starts a FaultServer of kind on addr ("127.0.0.6:53").
// Upstream ("127.0.0.2:53") is the real server answered from over TCP for
// FaultTCPOnly and FaultTruncate.
func StartFaultServer(t testing.TB, kind FaultKind, addr, upstream string) *FaultServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("fault server %s: %v", kind, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		t.Fatalf("fault server %s: %v", kind, err)
	}
	forward := forwardTCP(upstream)
	rcode := func(code int) dns.Handler {
		return dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
			m := new(dns.Msg)
			m.SetRcode(req, code)
			w.WriteMsg(m)
		})
	}
	var closers []io.Closer
	var wg sync.WaitGroup
	discardUDP := func() {
		closers = append(closers, pc)
		wg.Go(func() {
			buf := make([]byte, 65535)
			for {
				if _, _, err := pc.ReadFrom(buf); err != nil {
					return
				}
			}
		})
	}
	switch kind {
	case FaultRefused, FaultServfail:
		code := dns.RcodeRefused
		if kind == FaultServfail {
			code = dns.RcodeServerFailure
		}
		serveDNS(t, &dns.Server{PacketConn: pc, Handler: rcode(code)})
		serveDNS(t, &dns.Server{Listener: ln, Handler: rcode(code)})
	case FaultTCPOnly:
		discardUDP()
		serveDNS(t, &dns.Server{Listener: ln, Handler: forward})
	case FaultTruncate:
		serveDNS(t, &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(req)
			m.Authoritative = true
			m.Truncated = true
			w.WriteMsg(m)
		})})
		serveDNS(t, &dns.Server{Listener: ln, Handler: forward})
	case FaultDead:
		discardUDP()
		closers = append(closers, ln)
		var mu sync.Mutex
		var conns []net.Conn
		wg.Go(func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					mu.Lock()
					for _, c := range conns {
						c.Close()
					}
					mu.Unlock()
					return
				}
				mu.Lock()
				conns = append(conns, c) // held open, never read
				mu.Unlock()
			}
		})
	default:
		t.Fatalf("unknown fault kind %q", kind)
	}
	t.Cleanup(func() {
		for _, c := range closers {
			c.Close()
		}
		wg.Wait()
	})
	return &FaultServer{Addr: addr, Kind: kind}
}

// serveDNS serves s (its PacketConn or Listener already open) from the
// moment it returns until the test ends.
func serveDNS(t testing.TB, s *dns.Server) {
	started := make(chan struct{})
	s.NotifyStartedFunc = func() { close(started) }
	done := make(chan struct{})
	go func() { defer close(done); s.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { s.Shutdown(); <-done })
}

// forwardTCP answers every query with upstream's answer, asked over TCP
// (SERVFAIL when upstream does not answer).
func forwardTCP(upstream string) dns.HandlerFunc {
	return func(w dns.ResponseWriter, req *dns.Msg) {
		c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
		resp, _, err := c.Exchange(req, upstream)
		if err != nil {
			m := new(dns.Msg)
			m.SetRcode(req, dns.RcodeServerFailure)
			w.WriteMsg(m)
			return
		}
		resp.Id = req.Id
		w.WriteMsg(resp)
	}
}

// QueryCounter is a DNS server on Addr (UDP and TCP) that forwards every
// query to an upstream server and counts the questions it was asked.
type QueryCounter struct {
	Addr string // "127.0.0.1:port"
	mu   sync.Mutex
	seen map[string]int
	fail map[string]int // questions still to answer with SERVFAIL
}

// FailNext makes the next n questions for qname and qtype fail with
// SERVFAIL (a server that stumbled) instead of being forwarded; they are
// counted all the same.
func (q *QueryCounter) FailNext(qname string, qtype uint16, n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.fail[dns.CanonicalName(qname)+" "+dns.TypeToString[qtype]] += n
}

// Count returns how many times qname (any case, with or without the final
// dot) was asked for qtype.
func (q *QueryCounter) Count(qname string, qtype uint16) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.seen[dns.CanonicalName(qname)+" "+dns.TypeToString[qtype]]
}

// StartQueryCounter starts a QueryCounter on a free loopback port in front
// of upstream.
func StartQueryCounter(t testing.TB, upstream string) *QueryCounter {
	t.Helper()
	q := &QueryCounter{seen: map[string]int{}, fail: map[string]int{}}
	forward := forwardTCP(upstream)
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		if len(req.Question) == 1 {
			k := dns.CanonicalName(req.Question[0].Name) + " " + dns.TypeToString[req.Question[0].Qtype]
			q.mu.Lock()
			q.seen[k]++
			failing := q.fail[k] > 0
			if failing {
				q.fail[k]--
			}
			q.mu.Unlock()
			if failing {
				m := new(dns.Msg)
				m.SetRcode(req, dns.RcodeServerFailure)
				w.WriteMsg(m)
				return
			}
		}
		forward(w, req)
	})
	q.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t, "127.0.0.1")))
	pc, err := net.ListenPacket("udp", q.Addr)
	if err != nil {
		t.Fatalf("query counter: %v", err)
	}
	ln, err := net.Listen("tcp", q.Addr)
	if err != nil {
		pc.Close()
		t.Fatalf("query counter: %v", err)
	}
	serveDNS(t, &dns.Server{PacketConn: pc, Handler: h})
	serveDNS(t, &dns.Server{Listener: ln, Handler: h})
	return q
}

// DelayProxy relays UDP datagrams and TCP connections from Addr to an
// upstream server, holding each datagram and each new connection for a
// delay first. Put it between a secondary and its primary to make zone
// transfers (SOA refresh query and IXFR) arrive late.
type DelayProxy struct {
	Addr string // "127.0.0.1:port"
	mu   sync.Mutex
	d    time.Duration
}

// SetDelay changes the delay for datagrams and connections from now on.
func (p *DelayProxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.d = d
	p.mu.Unlock()
}

func (p *DelayProxy) delay() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.d
}

// StartDelayProxy listens on a free port of host and relays to upstream.
func StartDelayProxy(t testing.TB, host, upstream string, d time.Duration) *DelayProxy {
	t.Helper()
	port := FreePort(t, host)
	addr := net.JoinHostPort(host, itoa(port))
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &DelayProxy{Addr: addr, d: d}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pkt := append([]byte(nil), buf[:n]...)
			wg.Go(func() {
				select {
				case <-time.After(p.delay()):
				case <-done:
					return
				}
				up, err := net.Dial("udp", upstream)
				if err != nil {
					return
				}
				defer up.Close()
				up.SetDeadline(time.Now().Add(3 * time.Second))
				if _, err := up.Write(pkt); err != nil {
					return
				}
				resp := make([]byte, 65535)
				m, err := up.Read(resp)
				if err != nil {
					return
				}
				pc.WriteTo(resp[:m], from)
			})
		}
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				select {
				case <-time.After(p.delay()):
				case <-done:
					return
				}
				up, err := net.Dial("tcp", upstream)
				if err != nil {
					return
				}
				defer up.Close()
				go func() {
					io.Copy(up, c)
					up.(*net.TCPConn).CloseWrite()
				}()
				io.Copy(c, up)
			})
		}
	})
	t.Cleanup(func() {
		close(done)
		pc.Close()
		ln.Close()
		wg.Wait()
	})
	return p
}

func itoa(i int) string { return strconv.Itoa(i) }
