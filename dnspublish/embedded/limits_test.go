package embedded

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
)

// The embedded server is no UDP amplifier (issue 8 item 9): a UDP answer
// never exceeds 1,232 bytes whatever buffer the client claims (TC=1, the
// full answer over TCP), and ANY gets one synthesised HINFO (RFC 8482).
func TestUDPAnswerCapAndMinimalANY(t *testing.T) {
	st := newMemStore()
	s := serve(t, st, Options{})
	ctx := context.Background()
	name := "_acme-challenge.big.example." + zone
	var recs []dnspublish.Record
	for i := 0; i < 40; i++ {
		recs = append(recs, txt(name, fmt.Sprintf("%02d-%s", i, strings.Repeat("v", 90))))
	}
	if _, err := s.Add(ctx, zone, recs); err != nil {
		t.Fatal(err)
	}
	for _, qt := range []uint16{dns.TypeTXT, dns.TypeANY} {
		m := new(dns.Msg)
		m.SetQuestion(name, qt)
		m.SetEdns0(65000, false)
		conn, err := net.Dial("udp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		q, _ := m.Pack()
		conn.Write(q)
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 65535)
		n, err := conn.Read(buf)
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if n > MaxUDPSize {
			t.Errorf("%s over UDP: %d bytes, want at most %d", dns.TypeToString[qt], n, MaxUDPSize)
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil {
			t.Fatal(err)
		}
		if opt := r.IsEdns0(); opt == nil || opt.UDPSize() != MaxUDPSize {
			t.Errorf("%s: advertised buffer %v, want %d", dns.TypeToString[qt], opt, MaxUDPSize)
		}
		switch qt {
		case dns.TypeTXT:
			if !r.Truncated {
				t.Errorf("TXT: 40 values over UDP without TC=1")
			}
		case dns.TypeANY:
			if len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != dns.TypeHINFO {
				t.Errorf("ANY: %v, want one HINFO (RFC 8482)", r.Answer)
			}
		}
	}
	// The full answer over TCP.
	r := query(t, s.Addr(), name, dns.TypeTXT, "tcp")
	if len(r.Answer) != 40 || r.Truncated {
		t.Fatalf("TCP: %d answers (TC=%v), want 40", len(r.Answer), r.Truncated)
	}
	// ANY for a name that does not exist is still NXDOMAIN.
	nx := query(t, s.Addr(), "nothing."+zone, dns.TypeANY, "udp")
	if nx.Rcode != dns.RcodeNameError {
		t.Fatalf("ANY nothing: %s", dns.RcodeToString[nx.Rcode])
	}
}

// Past response_rate answers per second from one prefix, answers alternate
// between dropped and an empty TC=1 "slip"; TCP is not limited.
func TestResponseRateLimit(t *testing.T) {
	st := newMemStore()
	s := serve(t, st, Options{ResponseRate: 20})
	s.rrl.loopback = true
	const sent = 200
	conn, err := net.Dial("udp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	m := new(dns.Msg)
	m.SetQuestion(zone, dns.TypeSOA)
	q, _ := m.Pack()
	for i := 0; i < sent; i++ {
		conn.Write(q)
	}
	answers, slips := 0, 0
	buf := make([]byte, 2048)
	for {
		conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := conn.Read(buf)
		if err != nil {
			break
		}
		r := new(dns.Msg)
		if r.Unpack(buf[:n]) != nil {
			t.Fatal("bad answer")
		}
		if r.Truncated && len(r.Answer) == 0 {
			slips++
		} else {
			answers++
		}
	}
	// Burst 40 plus what refills while the queries arrive.
	if answers < 40 || answers > 80 || slips < (sent-answers)/2-5 || answers+slips >= sent {
		t.Fatalf("%d queries: %d answers, %d slips", sent, answers, slips)
	}
	if r := query(t, s.Addr(), zone, dns.TypeSOA, "tcp"); len(r.Answer) != 1 {
		t.Fatalf("TCP limited too: %v", r)
	}
}
