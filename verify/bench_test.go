package verify_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/testenv"
	"github.com/dcvd/dcvd/verify"
)

// BenchmarkWaitAll publishes 1000 TXT records (RFC 2136, one update each)
// in example.test (3 servers) and sub.example.test (1 server) and waits for
// all of them with one WaitAll, with and without MinSerial. It reports the
// wall time of WaitAll and the authoritative queries per record.
func BenchmarkWaitAll(b *testing.B) {
	tp := testenv.StartTopology(b, testenv.TopologyOptions{})
	for _, useSerial := range []bool{false, true} {
		b.Run(fmt.Sprintf("minserial=%v", useSerial), func(b *testing.B) {
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				var qs []verify.Query
				for i := range 1000 {
					zone := "example.test"
					if i%2 == 1 {
						zone = "sub.example.test"
					}
					name := fmt.Sprintf("_acme-challenge.b%d-%d.%s", time.Now().UnixNano()%1e6, i, zone)
					serial, err := tp.AddTXT(ctx, name, "bulk")
					if err != nil {
						b.Fatal(err)
					}
					q := verify.Query{Name: name, Value: "bulk"}
					if useSerial {
						q.MinSerial = serial
					}
					qs = append(qs, q)
				}
				c, err := verify.New(verify.Options{Resolvers: []string{tp.Resolver}})
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				reps, err := c.WaitAll(ctx, qs)
				if err != nil {
					b.Fatal(err)
				}
				d := time.Since(start)
				polls := 0
				for _, r := range reps {
					polls = max(polls, r.Polls)
				}
				st := c.Stats()
				b.ReportMetric(float64(d.Milliseconds()), "waitall-ms")
				b.ReportMetric(float64(st.Authoritative)/float64(len(qs)), "auth-queries/record")
				b.Logf("minserial=%v: 1000 records visible in %s, %d polls, %d authoritative + %d discovery queries",
					useSerial, d.Round(time.Millisecond), polls, st.Authoritative, st.Discovery)
				cancel()
			}
		})
	}
}
