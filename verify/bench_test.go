package verify_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

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

// servedSigned reports whether addr serves value at name with an RRSIG over
// the TXT RRset (asked with DO, RD=0).
func servedSigned(ctx context.Context, addr, name, value string) bool {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	m.RecursionDesired = false
	m.SetEdns0(1232, true)
	r, _, err := (&dns.Client{Timeout: time.Second}).ExchangeContext(ctx, m, addr)
	if err != nil || r.Rcode != dns.RcodeSuccess {
		return false
	}
	served, signed := false, false
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.TXT:
			served = served || strings.Join(rr.Txt, "") == value
		case *dns.RRSIG:
			signed = signed || rr.TypeCovered == dns.TypeTXT
		}
	}
	return served && signed
}

// BenchmarkVisibleLatencySigned is the latency benchmark with DNSSEC checks
// on, in the signed zone signed.test (BIND primary signing RFC 2136 updates
// with dnssec-policy; NSD and Knot secondaries by NOTIFY + IXFR, Knot through
// the delay proxy): the time from "served and signed by every authoritative
// server" (ground truth: every address polled each millisecond with DO) to
// verify.Wait reporting visible with every answer validated (secure). One
// checker for b.N records, as in the daemon. Target: median ≤ 100 ms.
func BenchmarkVisibleLatencySigned(b *testing.B) {
	for _, delay := range []time.Duration{0, 300 * time.Millisecond} {
		b.Run(fmt.Sprintf("transfer-delay=%s", delay), func(b *testing.B) {
			tp := testenv.StartTopology(b, testenv.TopologyOptions{TransferDelay: delay})
			addrs := tp.SignedServers()
			c, err := verify.New(verify.Options{Resolvers: []string{tp.Resolver}, Timeout: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			var lat []time.Duration
			for i := 0; b.Loop(); i++ {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				name := fmt.Sprintf("_acme-challenge.s%d-%d.signed.test", time.Now().UnixNano()%1e6, i)
				value := fmt.Sprintf("sv%d", i)
				if _, err := tp.AddTXT(ctx, name, value); err != nil {
					b.Fatal(err)
				}
				truth := make(chan time.Time, 1)
				go func() {
					pending := map[string]bool{}
					for _, a := range addrs {
						pending[a] = true
					}
					for len(pending) > 0 && ctx.Err() == nil {
						for a := range pending {
							if servedSigned(ctx, a, name, value) {
								delete(pending, a)
							}
						}
						if len(pending) > 0 {
							time.Sleep(time.Millisecond)
						}
					}
					truth <- time.Now()
				}()
				r, err := c.Wait(ctx, verify.Query{Name: name, Value: value})
				visible := time.Now()
				if err != nil {
					b.Fatal(err)
				}
				for _, s := range r.Servers {
					if s.DNSSEC != verify.Secure {
						b.Fatalf("%s: %s, want secure", s.Addr, s.DNSSEC)
					}
				}
				all := <-truth
				cancel()
				lat = append(lat, visible.Sub(all))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			med, p90 := lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*9/10)]
			b.ReportMetric(float64(med.Microseconds())/1000, "median-ms")
			b.ReportMetric(float64(p90.Microseconds())/1000, "p90-ms")
			b.Logf("signed, transfer delay %s: n=%d median %s p90 %s min %s max %s", delay, len(lat), med, p90, lat[0], lat[len(lat)-1])
		})
	}
}
