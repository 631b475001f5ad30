// Package simdns is the authoritative DNS server built into the DNS-API
// simulators (sandbox/mijndomeinreseller, ...): it answers over UDP and TCP
// on loopback from whatever the simulator's state holds at the moment of
// the query, so a test that publishes through a simulated API verifies the
// result over DNS for real, as it would against the provider's name
// servers.
//
// Answers are authoritative (AA) for the source's zones and REFUSED for
// anything else; a CNAME is answered for every query type at its name (not
// chased); a name that exists without the type asked gets NODATA, a name
// that does not exist (not even as an empty non-terminal) NXDOMAIN, both
// with the SOA in the authority section; UDP answers larger than the
// client's buffer are truncated so the client retries over TCP.
package simdns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Source is the simulator's state as DNS sees it. Both methods are called
// for every query and must be safe for concurrent use.
type Source interface {
	// Zones lists the zone apexes served (canonical names).
	Zones() []string
	// RRs returns every record of zone, SOA and NS included.
	RRs(zone string) []dns.RR
}

// Server is a running simulator DNS server.
type Server struct {
	src    Source
	addr   string
	udp    *dns.Server
	tcp    *dns.Server
	closed sync.Once
}

// Start serves src on addr ("127.0.0.1:0" picks a port; UDP and TCP share
// it) until ctx ends or Close is called.
func Start(ctx context.Context, addr string, src Source) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var pc net.PacketConn
	var ln net.Listener
	var err error
	for i := 0; i < 20; i++ {
		pc, err = net.ListenPacket("udp", addr)
		if err != nil {
			return nil, fmt.Errorf("simdns: listen udp %s: %w", addr, err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		if !strings.HasSuffix(addr, ":0") {
			return nil, fmt.Errorf("simdns: listen tcp %s: %w", addr, err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("simdns: listen tcp %s: %w", addr, err)
	}
	s := &Server{src: src, addr: pc.LocalAddr().String()}
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: ln, Handler: h}
	started := make(chan struct{}, 2)
	s.udp.NotifyStartedFunc = func() { started <- struct{}{} }
	s.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	<-started
	<-started
	go func() { <-ctx.Done(); s.Close() }()
	return s, nil
}

// Addr is the "host:port" served.
func (s *Server) Addr() string { return s.addr }

// Close stops the server.
func (s *Server) Close() error {
	var err error
	s.closed.Do(func() { err = errors.Join(s.udp.Shutdown(), s.tcp.Shutdown()) })
	return err
}

func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := Answer(s.src, req)
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size := dns.MinMsgSize
		if o := req.IsEdns0(); o != nil {
			size = max(int(o.UDPSize()), dns.MinMsgSize)
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// Answer builds the response to req from src.
func Answer(src Source, req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	if len(req.Question) != 1 || req.Opcode != dns.OpcodeQuery {
		m.Rcode = dns.RcodeNotImplemented
		return m
	}
	q := req.Question[0]
	name := dns.CanonicalName(q.Name)
	zone := ""
	for _, z := range src.Zones() {
		if dns.IsSubDomain(z, name) && len(z) > len(zone) {
			zone = z
		}
	}
	if zone == "" || q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
		m.Rcode = dns.RcodeRefused
		return m
	}
	m.Authoritative = true
	var at []dns.RR
	var soa dns.RR
	exists := false
	for _, rr := range src.RRs(zone) {
		owner := dns.CanonicalName(rr.Header().Name)
		if rr.Header().Rrtype == dns.TypeSOA && owner == zone {
			soa = rr
		}
		if owner == name {
			at = append(at, rr)
			exists = true
		} else if dns.IsSubDomain(name, owner) {
			exists = true // empty non-terminal
		}
	}
	for _, rr := range at {
		if rr.Header().Rrtype == dns.TypeCNAME && q.Qtype != dns.TypeCNAME {
			m.Answer = []dns.RR{echo(rr, q.Name)}
			return m
		}
	}
	for _, rr := range at {
		if rr.Header().Rrtype == q.Qtype || q.Qtype == dns.TypeANY {
			m.Answer = append(m.Answer, echo(rr, q.Name))
		}
	}
	if len(m.Answer) > 0 {
		return m
	}
	if !exists {
		m.Rcode = dns.RcodeNameError
	}
	if soa != nil {
		m.Ns = []dns.RR{dns.Copy(soa)}
	}
	return m
}

// echo copies rr with the owner name in the case the client asked (0x20).
func echo(rr dns.RR, qname string) dns.RR {
	c := dns.Copy(rr)
	c.Header().Name = qname
	return c
}

// SOA and NS build the apex records a simulator serves for zone.
func SOA(zone string, serial uint32) dns.RR {
	return &dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 3600},
		Ns: "ns1." + zone, Mbox: "hostmaster." + zone, Serial: serial, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 60}
}

// NS is the apex NS record of zone, naming ns1.<zone>.
func NS(zone string) dns.RR {
	return &dns.NS{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 3600}, Ns: "ns1." + zone}
}
