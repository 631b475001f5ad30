package legobench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/testenv"
	"github.com/dcvd/dcvd/verify"
	"github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/acme/api"
	"github.com/go-acme/lego/v4/challenge/dns01"
	legolog "github.com/go-acme/lego/v4/log"
)

var seq atomic.Int64

// allServed polls every address (RD=0) every millisecond and returns the
// moment the last one serves value: the ground truth.
func allServed(ctx context.Context, addrs []string, name, value string) (time.Time, error) {
	pending := map[string]bool{}
	for _, a := range addrs {
		pending[a] = true
	}
	for {
		for a := range pending {
			if testenv.ServesTXT(ctx, a, name, value) {
				delete(pending, a)
			}
		}
		if len(pending) == 0 {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("ground truth: %s never served by %v", name, pending)
		case <-time.After(time.Millisecond):
		}
	}
}

type sample struct {
	latency        time.Duration
	perAddrPerPoll float64
}

func summarize(b *testing.B, who string, s []sample) {
	sort.Slice(s, func(i, j int) bool { return s[i].latency < s[j].latency })
	if len(s) == 0 {
		return
	}
	med := s[len(s)/2].latency
	p90 := s[min(len(s)-1, len(s)*9/10)].latency
	worst := 0.0
	for _, x := range s {
		worst = max(worst, x.perAddrPerPoll)
	}
	b.ReportMetric(float64(med.Microseconds())/1000, who+"-median-ms")
	b.ReportMetric(float64(p90.Microseconds())/1000, who+"-p90-ms")
	if worst > 0 {
		b.ReportMetric(worst, who+"-max-queries/addr/poll")
	}
	b.Logf("%s: n=%d median %s p90 %s min %s max %s; max queries per authoritative address per poll %.2f",
		who, len(s), med, p90, s[0].latency, s[len(s)-1].latency, worst)
}

// BenchmarkVisibleLatency publishes a TXT record by RFC 2136 at the BIND
// primary of example.test (NSD and Knot secondaries, NOTIFY + IXFR) and
// measures the time from "served by every authoritative server" (ground
// truth, 1 ms polling) to "the checker reports visible", for dcvd's
// verify.Wait and for lego v4.34's dns01 precheck at its defaults (2 s
// interval, propagation loop of Challenge.Solve). b.N records per checker.
func BenchmarkVisibleLatency(b *testing.B) {
	for _, delay := range []time.Duration{0, 300 * time.Millisecond} {
		b.Run(fmt.Sprintf("transfer-delay=%s", delay), func(b *testing.B) {
			tp := testenv.StartTopology(b, testenv.TopologyOptions{TransferDelay: delay})
			addrs := tp.ExampleServers()
			b.Run("dcvd", func(b *testing.B) { benchDcvd(b, tp, addrs) })
			b.Run("lego", func(b *testing.B) { benchLego(b, tp, addrs) })
		})
	}
}

func benchDcvd(b *testing.B, tp *testenv.Topology, addrs []string) {
	c, err := verify.New(verify.Options{Resolvers: []string{tp.Resolver}, Timeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	var samples []sample
	for i := 0; b.Loop(); i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		name := fmt.Sprintf("_acme-challenge.d%d-%d.example.test", time.Now().UnixNano()%1e6, seq.Add(1))
		value := fmt.Sprintf("v%d", i)
		if _, err := tp.AddTXT(ctx, name, value); err != nil {
			b.Fatal(err)
		}
		truth := make(chan time.Time, 1)
		go func() {
			t, err := allServed(ctx, addrs, name, value)
			if err != nil {
				b.Error(err)
			}
			truth <- t
		}()
		r, err := c.Wait(ctx, verify.Query{Name: name, Value: value})
		visible := time.Now()
		if err != nil {
			b.Fatal(err)
		}
		all := <-truth
		cancel()
		worst := 0.0
		for _, s := range r.Servers {
			worst = max(worst, float64(s.Queries)/float64(r.Polls))
		}
		samples = append(samples, sample{latency: visible.Sub(all), perAddrPerPoll: worst})
	}
	summarize(b, "dcvd", samples)
}

// legoProvider publishes lego's record through RFC 2136 at the primary.
type legoProvider struct {
	tp      *testenv.Topology
	written chan struct{}
}

func (p *legoProvider) Present(domain, token, keyAuth string) error {
	info := dns01.GetChallengeInfo(domain, keyAuth)
	_, err := p.tp.AddTXT(context.Background(), info.EffectiveFQDN, info.Value)
	return err
}

func (p *legoProvider) CleanUp(domain, token, keyAuth string) error {
	info := dns01.GetChallengeInfo(domain, keyAuth)
	_, err := p.tp.RemoveTXT(context.Background(), info.EffectiveFQDN, info.Value)
	return err
}

func benchLego(b *testing.B, tp *testenv.Topology, addrs []string) {
	legolog.Logger = stdlog.New(io.Discard, "", 0)
	// lego resolves NS host names with the Go resolver: send those lookups
	// to the topology's resolver, never to the machine's.
	prev := net.DefaultResolver
	net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, tp.Resolver)
	}}
	b.Cleanup(func() { net.DefaultResolver = prev })

	// A directory document is all api.New needs; the challenge is never
	// sent to a CA (the ValidateFunc below stands in for it).
	dir := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"newNonce":"https://%[1]s/nonce","newAccount":"https://%[1]s/acct","newOrder":"https://%[1]s/order"}`, r.Host)
	}))
	b.Cleanup(dir.Close)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	core, err := api.New(dir.Client(), "dcvd-bench", dir.URL, "", key)
	if err != nil {
		b.Fatal(err)
	}
	prov := &legoProvider{tp: tp}
	var validated time.Time
	validate := func(_ *api.Core, _ string, _ acme.Challenge) error {
		validated = time.Now()
		return nil
	}
	chlg := dns01.NewChallenge(core, validate, prov, dns01.AddRecursiveNameservers([]string{tp.Resolver}))
	var samples []sample
	for i := 0; b.Loop(); i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		domain := fmt.Sprintf("l%d-%d.example.test", time.Now().UnixNano()%1e6, seq.Add(1))
		authz := acme.Authorization{
			Identifier: acme.Identifier{Type: "dns", Value: domain},
			Challenges: []acme.Challenge{{Type: "dns-01", Token: fmt.Sprintf("tok%d", i)}},
		}
		if err := chlg.PreSolve(authz); err != nil {
			b.Fatal(err)
		}
		keyAuth, _ := core.GetKeyAuthorization(fmt.Sprintf("tok%d", i))
		info := dns01.GetChallengeInfo(domain, keyAuth)
		truth := make(chan time.Time, 1)
		go func() {
			t, err := allServed(ctx, addrs, info.EffectiveFQDN, info.Value)
			if err != nil {
				b.Error(err)
			}
			truth <- t
		}()
		if err := chlg.Solve(authz); err != nil {
			b.Fatal(err)
		}
		all := <-truth
		cancel()
		samples = append(samples, sample{latency: validated.Sub(all)})
		chlg.CleanUp(authz)
	}
	summarize(b, "lego", samples)
}
