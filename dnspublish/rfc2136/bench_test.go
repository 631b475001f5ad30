package rfc2136

import (
	"context"
	"fmt"
	"testing"

	"github.com/dcvd/dcvd/dnspublish"
)

// BenchmarkAddRemove100 adds 100 TXT records to one zone in one call and
// removes them again, against a real BIND: two UPDATE messages, 100 TTL
// lookups and two serial reads on one TCP connection per call.
func BenchmarkAddRemove100(b *testing.B) {
	s := startBIND(b)
	p := s.publisher(b, "example.com", nil)
	recs := make([]dnspublish.Record, 100)
	for i := range recs {
		recs[i] = txt(fmt.Sprintf("_acme-challenge.host%03d.example.com", i), fmt.Sprintf("token-%03d-0123456789abcdefghijklmnopqrstu", i))
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.Add(ctx, "example.com", recs); err != nil {
			b.Fatal(err)
		}
		if _, err := p.Remove(ctx, "example.com", recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/200, "µs/record")
}

// BenchmarkTransport compares one-record add+remove calls over UDP (one
// datagram per message) and TCP (one connection per call), to justify
// always using TCP.
func BenchmarkTransport(b *testing.B) {
	s := startBIND(b)
	rec := []dnspublish.Record{txt("_acme-challenge.example.com", "token-0123456789abcdefghijklmnopqrstuvwxyzABC")}
	for _, network := range []string{"udp", "tcp"} {
		b.Run(network, func(b *testing.B) {
			p := s.publisher(b, "example.com", nil)
			p.net = network
			ctx := context.Background()
			for b.Loop() {
				if _, err := p.Add(ctx, "example.com", rec); err != nil {
					b.Fatal(err)
				}
				if _, err := p.Remove(ctx, "example.com", rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
