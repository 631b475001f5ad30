package scheduler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/testenv"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/store"
)

// benchProvider is a CA account with n challenges spread over zones, ten
// names per order. Like the DigiCert simulator it validates a challenge only
// after looking its TXT up at the DNS server for real.
type benchProvider struct {
	chs  []providers.Challenge
	addr string
}

func newBenchProvider(prefix string, n int, zones []string, addr string) *benchProvider {
	p := &benchProvider{addr: addr}
	for i := 0; i < n; i++ {
		z := zones[i%len(zones)]
		name := fmt.Sprintf("n%d.%s", i/len(zones), z)
		p.chs = append(p.chs, providers.Challenge{
			Order:      fmt.Sprintf("%s-%d", prefix, i/10),
			Name:       name,
			OrderNames: []string{name},
			Record:     dnspublish.Record{FQDN: "_dnsauth." + name, Type: dnspublish.TXT, Value: fmt.Sprintf("%s-%08d-random-value", prefix, i)},
		})
	}
	return p
}

func (p *benchProvider) Name() string { return "bench" }
func (p *benchProvider) Discover(context.Context) ([]providers.Challenge, error) {
	return p.chs, nil
}
func (p *benchProvider) Submit(ctx context.Context, _ string, chs []providers.Challenge) ([]providers.Outcome, error) {
	out := make([]providers.Outcome, len(chs))
	c := &dns.Client{Timeout: 2 * time.Second}
	for i, ch := range chs {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(ch.Record.FQDN), dns.TypeTXT)
		r, _, err := c.ExchangeContext(ctx, m, p.addr)
		if err != nil {
			return nil, err
		}
		out[i].Status = providers.NotVisible
		for _, rr := range r.Answer {
			if t, ok := rr.(*dns.TXT); ok && strings.Join(t.Txt, "") == ch.Record.Value {
				out[i].Status = providers.Validated
			}
		}
	}
	return out, nil
}
func (p *benchProvider) Poll(ctx context.Context, order string, chs []providers.Challenge) ([]providers.Outcome, error) {
	return p.Submit(ctx, order, chs)
}

// peakRSS is the process's peak resident set (VmHWM) in bytes.
func peakRSS() float64 { return float64(testenv.PeakRSS("self")) }

// BenchmarkPipeline drives N challenges across 100 zones on a local BIND
// through the whole pipeline: discover, RFC 2136 add (one UPDATE per zone),
// verify at the authoritative server, submit (the CA looks the record up),
// RFC 2136 remove, with the SQLite store. One op is one complete RunOnce;
// challenges/s and the process's peak RSS are reported.
//
//	go test ./scheduler -run '^$' -bench BenchmarkPipeline -benchtime 1x
func BenchmarkPipeline(b *testing.B) {
	zones := zoneNames(100)
	var bz []testenv.BINDZone
	for _, z := range zones {
		bz = append(bz, testenv.BINDZone{Name: z})
	}
	bind := testenv.StartBIND(b, testenv.BINDOptions{Zones: bz})
	spec := envSpec{BindAddr: bind.Addr, KeyName: bind.Key.Name, KeySecret: bind.Key.Secret, Zones: zones}
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("challenges=%d", n), func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s := spec
				s.DB = filepath.Join(b.TempDir(), "state.db")
				p := newBenchProvider(fmt.Sprintf("b%d-%d", n, i), n, zones, bind.Addr)
				eng, st := s.engine(b, slog.New(slog.NewTextHandler(io.Discard, nil)), p)
				var mu sync.Mutex
				steps := map[string][3]float64{}
				eng.trace = func(what string, rows int, took time.Duration) {
					what, _, _ = strings.Cut(what, " ")
					mu.Lock()
					v := steps[what]
					steps[what] = [3]float64{v[0] + 1, v[1] + float64(rows), v[2] + took.Seconds()}
					mu.Unlock()
				}
				defer func() {
					for k, v := range steps {
						b.Logf("step %-8s calls %5.0f rows %6.0f busy %6.2fs", k, v[0], v[1], v[2])
					}
				}()
				b.StartTimer()
				start := time.Now()
				sum, err := eng.RunOnce(context.Background())
				total += time.Since(start)
				b.StopTimer()
				if err != nil || sum.ByState[store.Cleaned] != n {
					b.Fatalf("run: %s, %v; first failure %+v", sum, err, first(sum.Failed, sum.Pending))
				}
				st.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "challenges/s")
			b.ReportMetric(peakRSS()/(1<<20), "peak-RSS-MB")
		})
	}
}

func first(lists ...[]store.Challenge) any {
	for _, l := range lists {
		if len(l) > 0 {
			return l[0]
		}
	}
	return nil
}
