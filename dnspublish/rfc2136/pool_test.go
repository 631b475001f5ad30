package rfc2136

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
)

// relay forwards TCP connections to a server, counting them; closeAll
// closes every open one, as a server does with idle connections.
type relay struct {
	ln       net.Listener
	mu       sync.Mutex
	accepted int
	open     []net.Conn
}

func startRelay(t *testing.T, upstream string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln}
	t.Cleanup(func() { ln.Close(); r.closeAll() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			r.mu.Lock()
			r.accepted++
			r.open = append(r.open, c, up)
			r.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return r
}

func (r *relay) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.open {
		c.Close()
	}
	r.open = nil
}

func (r *relay) connections() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accepted
}

// TestConnectionReuse: calls share one TCP connection, and a connection
// the server closed while it sat idle is replaced without the call failing.
func TestConnectionReuse(t *testing.T) {
	s := startBIND(t)
	r := startRelay(t, s.Addr)
	p := s.publisher(t, "example.com", func(o *Options) { o.Server = r.ln.Addr().String() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	name := "_acme-challenge.reuse.example.com."
	for i, v := range []string{"r1", "r2", "r3"} {
		if _, err := p.Add(ctx, "example.com", []dnspublish.Record{txt(name, v)}); err != nil {
			t.Fatalf("add %s: %v", v, err)
		}
		if got := r.connections(); got != 1 {
			t.Fatalf("after %d adds: %d connections, want 1 (reused)", i+1, got)
		}
	}
	r.closeAll() // the server drops the idle connection
	if _, err := p.Remove(ctx, "example.com", []dnspublish.Record{txt(name, "r1"), txt(name, "r2")}); err != nil {
		t.Fatalf("remove after the server closed the idle connection: %v", err)
	}
	if got := r.connections(); got != 2 {
		t.Fatalf("after the server closed the connection: %d connections, want 2", got)
	}
	equal(t, "rrset", s.rrset(t, "example.com", name, dns.TypeTXT), "60 r3")
}
